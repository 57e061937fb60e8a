//go:build linux && cgo && !nodpdk && dpdk_static

package dpdk

// DPDK linked statically (build tag dpdk_static), as
// deploy/build-statewalld.sh builds the daemon: every PMD of
// libdpdk-dev is built in (pkg-config wraps their archives in
// --whole-archive, as they register through constructors nothing
// references), and DPDK's thread-local variables and calls need no
// dynamic-linker indirection. cgo lets --whole-archive through only with
// CGO_LDFLAGS_ALLOW='-Wl,--(no-)?whole-archive' in the environment.

/*
#cgo pkg-config: --static libdpdk
*/
import "C"
