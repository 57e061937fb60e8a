package dpdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func TestDeviceMbufs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		b := make([]byte, 60+i)
		if err := w.WritePacket(gopacket.CaptureInfo{CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for devargs, want := range map[string]int{
		"net_pcap0,rx_pcap=" + path + ",infinite_rx=1": 7,
		"net_pcap0,rx_pcap=" + path:                    0,
		"net_null0":                                    0,
		"0000:01:00.0":                                 0,
	} {
		got, err := DeviceMbufs(devargs)
		if err != nil || got != want {
			t.Errorf("DeviceMbufs(%q) = %d, %v; want %d", devargs, got, err, want)
		}
	}
	if room, err := DeviceDataRoom("net_pcap0,rx_pcap=" + path + ",infinite_rx=1"); err != nil || room != 66+mbufHeadroom {
		t.Errorf("DeviceDataRoom = %d, %v; want %d", room, err, 66+mbufHeadroom)
	}
	if room, err := DeviceDataRoom("net_null0"); err != nil || room != 0 {
		t.Errorf("DeviceDataRoom(net_null0) = %d, %v; want 0", room, err)
	}
	if _, err := DeviceMbufs("net_pcap0,rx_pcap=/nonexistent.pcap,infinite_rx=1"); err == nil {
		t.Error("missing capture: no error")
	}
}
