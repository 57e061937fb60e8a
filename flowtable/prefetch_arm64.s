#include "textflag.h"

// func prefetch(addr uintptr)
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-8
	MOVD addr+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET

// func PrefetchAll(addrs []uintptr)
TEXT ·PrefetchAll(SB), NOSPLIT|NOFRAME, $0-24
	MOVD addrs_base+0(FP), R1
	MOVD addrs_len+8(FP), R2
	CBZ R2, done
loop:
	MOVD.P 8(R1), R0
	PRFM (R0), PLDL1KEEP
	SUB $1, R2
	CBNZ R2, loop
done:
	RET
