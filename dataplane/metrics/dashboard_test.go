package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardNames checks that every metric the Grafana dashboard
// queries is one the collector exports, so a rename cannot silently
// empty a panel.
func TestDashboardNames(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/statewall.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exported := map[string]bool{}
	ch := make(chan *prometheus.Desc, 100)
	go func() { NewCollector(newFake()).Describe(ch); close(ch) }()
	nameRE := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		m := nameRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		exported[m[1]] = true
	}
	used := regexp.MustCompile(`statewall_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range used.FindAllString(tg.Expr, -1) {
				n++
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if s, ok := strings.CutSuffix(name, suf); ok && exported[s] {
						base = s
					}
				}
				if !exported[base] {
					t.Errorf("panel %q queries %s, which the collector does not export", p.Title, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard queries no statewall metric")
	}
}
