//go:build !linux

package conntrack

func threadCPU() int64 { return -1 }
