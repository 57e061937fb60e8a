//go:build !linux

package flowtable

// threadCPU is not available here.
func threadCPU() int64 { return -1 }
