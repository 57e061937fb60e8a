//go:build linux && cgo && !nodpdk

package dpdk

/*
#include "sw_dpdk.h"
*/
import "C"

import (
	"unsafe"

	"github.com/statewall/statewall/dataplane/port"
)

// cFrames is n frames of C memory (a queue's or a ring's receive array)
// as port.Frame values: the C layer writes struct sw_frame, laid out as
// port.Frame, so a burst reaches the caller with one copy and no
// conversion field by field.
func cFrames(p *C.struct_sw_frame, n int) []port.Frame {
	return unsafe.Slice((*port.Frame)(unsafe.Pointer(p)), n)
}

// struct sw_frame must be laid out as port.Frame, its data as Go's slice
// header (three words, as cgo's GoSlice), and SW_VERIFIED_* must be the
// port.Verified bits: mismatch sums the squared
// differences of the sizes and offsets, and the array's length is
// negative, so that the build fails, unless every one matches.
func _() {
	const (
		word = int(unsafe.Sizeof(uintptr(0)))

		dSize   = int(unsafe.Sizeof(port.Frame{})) - C.sizeof_struct_sw_frame
		dData   = int(unsafe.Offsetof(C.struct_sw_frame{}.data))
		dLenOff = int(unsafe.Offsetof(C.struct_sw_frame{}.len)) - word
		dLen    = int(unsafe.Sizeof(C.struct_sw_frame{}.len)) - word
		dCapOff = int(unsafe.Offsetof(C.struct_sw_frame{}.cap)) - 2*word
		dCap    = int(unsafe.Sizeof(C.struct_sw_frame{}.cap)) - word
		dHandle = int(unsafe.Offsetof(port.Frame{}.Handle)) - int(unsafe.Offsetof(C.struct_sw_frame{}.mbuf))
		dTSOff  = int(unsafe.Offsetof(port.Frame{}.Timestamp)) - int(unsafe.Offsetof(C.struct_sw_frame{}.timestamp))
		dTS     = int(unsafe.Sizeof(port.Frame{}.Timestamp)) - int(unsafe.Sizeof(C.struct_sw_frame{}.timestamp))
		dVerOff = int(unsafe.Offsetof(port.Frame{}.Verified)) - int(unsafe.Offsetof(C.struct_sw_frame{}.verified))
		dVer    = int(unsafe.Sizeof(port.Frame{}.Verified)) - int(unsafe.Sizeof(C.struct_sw_frame{}.verified))
		dIPv4   = int(port.VerifiedIPv4) - C.SW_VERIFIED_IPV4
		dL4     = int(port.VerifiedL4) - C.SW_VERIFIED_L4

		mismatch = dSize*dSize + dData*dData + dLenOff*dLenOff + dLen*dLen + dCapOff*dCapOff +
			dCap*dCap + dHandle*dHandle + dTSOff*dTSOff + dTS*dTS + dVerOff*dVerOff + dVer*dVer +
			dIPv4*dIPv4 + dL4*dL4
	)
	var _ [-mismatch]struct{}
}
