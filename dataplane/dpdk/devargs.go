package dpdk

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// devName is the ethdev name a devargs string creates: the part before the
// first comma ("net_pcap0,rx_pcap=x" -> "net_pcap0"), without a bus prefix.
func devName(devargs string) string {
	name, _, _ := strings.Cut(devargs, ",")
	if bus, rest, ok := strings.Cut(name, ":"); ok && (bus == "vdev" || bus == "pci") {
		name = rest
	}
	return strings.TrimSpace(name)
}

// Pcap file framing (classic libpcap format).
const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
	pcapInclLenOffset   = 8 // captured length within a record header
	pcapMagicMicro      = 0xa1b2c3d4
	pcapMagicNano       = 0xa1b23c4d
)

// DeviceMbufs is the number of mbufs a device keeps from the RX pool on
// its own, beyond its descriptor rings, so that the pool can be sized for
// it: a net_pcap device with infinite_rx=1 loads its whole rx_pcap capture
// into mbufs when its queue is set up, one per packet. It is 0 for other
// devices. Pure Go: it only reads the devargs and the capture's headers.
func DeviceMbufs(devargs string) (int, error) {
	name, args, _ := strings.Cut(devargs, ",")
	if !strings.HasPrefix(devName(name), "net_pcap") {
		return 0, nil
	}
	infinite := false
	var files []string
	for _, kv := range strings.Split(args, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "infinite_rx":
			infinite = v == "1"
		case "rx_pcap":
			files = append(files, v)
		}
	}
	if !infinite {
		return 0, nil
	}
	total := 0
	for _, f := range files {
		n, err := pcapPackets(f)
		if err != nil {
			return 0, fmt.Errorf("dpdk: %s: %w", devargs, err)
		}
		total += n
	}
	return total, nil
}

// pcapPackets counts the records of a classic pcap file.
func pcapPackets(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [pcapFileHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("pcap header of %s: %w", path, err)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == pcapMagicMicro || binary.LittleEndian.Uint32(hdr[:]) == pcapMagicNano:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == pcapMagicMicro || binary.BigEndian.Uint32(hdr[:]) == pcapMagicNano:
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("%s is not a classic pcap file", path)
	}
	n := 0
	var rec [pcapRecordHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("pcap record %d of %s: %w", n+1, path, err)
		}
		if _, err := r.Discard(int(order.Uint32(rec[pcapInclLenOffset:]))); err != nil {
			return n, fmt.Errorf("pcap record %d of %s: %w", n+1, path, err)
		}
		n++
	}
}
