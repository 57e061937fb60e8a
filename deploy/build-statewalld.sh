#!/usr/bin/env bash
# build-statewalld.sh OUT: builds statewalld as it ships, to OUT: DPDK
# linked statically (every PMD of Debian's libdpdk-dev built in; the
# packet path about 3% faster than with the shared libraries,
# perf/RESULTS.md) and the profile cmd/statewalld/default.pgo.
# STATEWALL_DPDK_LINK=shared links DPDK's shared libraries instead, as a
# plain `go build ./cmd/statewalld` does (the EAL then loads the PMDs from
# its plugin directory).
set -euo pipefail
out=${1:?usage: build-statewalld.sh OUT}
case $out in /*) ;; *) out=$PWD/$out ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
tags=
case ${STATEWALL_DPDK_LINK:-static} in
static)
	# pkg-config --static libdpdk wraps the PMD archives in
	# --whole-archive, a flag cgo passes only when allowed.
	export CGO_LDFLAGS_ALLOW='-Wl,--(no-)?whole-archive'
	tags=dpdk_static
	;;
shared) ;;
*)
	echo "build-statewalld.sh: STATEWALL_DPDK_LINK must be static or shared, not '$STATEWALL_DPDK_LINK'" >&2
	exit 2
	;;
esac
cd "$root"
if ! go build -tags "$tags" -o "$out" ./cmd/statewalld; then
	if [ "$tags" = dpdk_static ]; then
		echo "build-statewalld.sh: the build failed; where the linker missed a library of DPDK's" \
			"static link, deploy/install-deps.sh installs them (libdpdk-dev, libsystemd-dev, ...)," \
			"and STATEWALL_DPDK_LINK=shared links DPDK's shared libraries instead" >&2
	fi
	exit 1
fi
