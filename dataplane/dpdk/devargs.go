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
	files, err := infiniteRxFiles(devargs)
	if err != nil {
		return 0, err
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

// infiniteRxFiles returns the rx_pcap files of a net_pcap device with
// infinite_rx=1, and nothing for other devices.
func infiniteRxFiles(devargs string) ([]string, error) {
	name, args, _ := strings.Cut(devargs, ",")
	if !strings.HasPrefix(devName(name), "net_pcap") {
		return nil, nil
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
		return nil, nil
	}
	return files, nil
}

// mbufHeadroom is DPDK's RTE_PKTMBUF_HEADROOM (Debian's build: 128).
const mbufHeadroom = 128

// DeviceDataRoom is the smallest mbuf data room (as NewMempool takes it,
// headroom included) that holds every frame a net_pcap infinite_rx device
// preloads, so that a pool for such a source need not use DefaultDataRoom
// for millions of small frames. It is 0 for other devices.
func DeviceDataRoom(devargs string) (int, error) {
	files, err := infiniteRxFiles(devargs)
	if err != nil || len(files) == 0 {
		return 0, err
	}
	largest := 0
	for _, f := range files {
		_, l, err := pcapScan(f)
		if err != nil {
			return 0, fmt.Errorf("dpdk: %s: %w", devargs, err)
		}
		largest = max(largest, l)
	}
	return largest + mbufHeadroom, nil
}

// pcapPackets counts the records of a classic pcap file.
func pcapPackets(path string) (int, error) {
	n, _, err := pcapScan(path)
	return n, err
}

// pcapScan counts the records of a classic pcap file and finds the
// largest captured length.
func pcapScan(path string) (packets, largest int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [pcapFileHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("pcap header of %s: %w", path, err)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == pcapMagicMicro || binary.LittleEndian.Uint32(hdr[:]) == pcapMagicNano:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == pcapMagicMicro || binary.BigEndian.Uint32(hdr[:]) == pcapMagicNano:
		order = binary.BigEndian
	default:
		return 0, 0, fmt.Errorf("%s is not a classic pcap file", path)
	}
	var rec [pcapRecordHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err == io.EOF {
			return packets, largest, nil
		} else if err != nil {
			return packets, largest, fmt.Errorf("pcap record %d of %s: %w", packets+1, path, err)
		}
		l := int(order.Uint32(rec[pcapInclLenOffset:]))
		if _, err := r.Discard(l); err != nil {
			return packets, largest, fmt.Errorf("pcap record %d of %s: %w", packets+1, path, err)
		}
		largest = max(largest, l)
		packets++
	}
}
