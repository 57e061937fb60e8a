package control

import (
	"net"
	"syscall"
)

// peerCred returns the uid and pid of the process at the other end of c,
// as the kernel recorded them at connect (SO_PEERCRED).
func peerCred(c *net.UnixConn) (uid, pid int64, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, -1, err
	}
	var cred *syscall.Ucred
	var serr error
	err = raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return -1, -1, err
	}
	if serr != nil {
		return -1, -1, serr
	}
	return int64(cred.Uid), int64(cred.Pid), nil
}
