#!/usr/bin/env bash
# ab.sh: compare statewalld builds on one bench configuration, in turn.
#
# Usage (root): perf/scripts/ab.sh CONFIG BINARY...
# Each binary runs `run -c CONFIG` alone; once its sink port transmits,
# it warms up for 2 s, then the 5-second rate of the sink's transmitted
# packets is read from the metrics endpoint (as bench-io.sh samples it).
# List binaries several times, interleaved (A B A B), to see the noise;
# with two builds in turn it ends with the pairs' changes and their median.
# The CONFIG is one bench-io.sh wrote (KEEP=1 keeps its work directory).
set -uo pipefail
cfg=$1
shift
if pgrep -f "run -c $cfg" >/dev/null; then
	echo "ab.sh: a daemon on $cfg is already running" >&2
	exit 1
fi
metrics=$(grep -A1 '^\[metrics\]' "$cfg" | awk -F'"' '/listen/ {print $2}')
metric='statewall_port_tx_packets_total{port="net_null0"}'
rates=()
tx() { curl -s "http://$metrics/metrics" | awk -v m="$metric" 'index($0, m) == 1 { printf "%.0f\n", $2; exit }'; }
for bin in "$@"; do
	"$bin" run -c "$cfg" >/tmp/statewall-ab.log 2>&1 &
	pid=$!
	for _ in $(seq 120); do
		[ "$(tx)" -gt 0 ] 2>/dev/null && break
		sleep 0.5
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "$bin did not start: $(tail -1 /tmp/statewall-ab.log)"
		continue
	fi
	sleep 2
	a=$(tx)
	sleep 5
	z=$(tx)
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kpps=$(((z - a) / 5000))
	echo "$bin $kpps kpps"
	rates+=("$bin $kpps")
done
# Two builds in turn (A B A B ...): each pair's change from A to B and the
# median of those. The machine's slow spells move both runs of a pair
# alike, so a pair's ratio is steadier than either rate; a pair across a
# spell's edge is an outlier, which the median discounts.
if [ $(($# % 2)) -eq 0 ] && [ $# -ge 4 ]; then
	printf '%s\n' "${rates[@]}" | awk -v a="$1" -v b="$2" '
		NR % 2 == 1 { if ($1 != a) bad = 1; x = $2; next }
		{ if ($1 != b) bad = 1; if (x > 0) { r[++n] = $2 / x - 1; if ($2 > x) f++ } }
		END {
			if (bad || n == 0) exit
			for (i = 1; i <= n; i++) printf "pair %d: %+.1f%%\n", i, 100 * r[i]
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
			m = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
			printf "second build against the first: median of %d pairs %+.1f%%, faster in %d of them\n", n, 100 * m, f
		}'
fi
