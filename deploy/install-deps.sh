#!/usr/bin/env bash
# Installs (idempotently) the Debian packages that statewall's tests, lab
# and benchmarks use, and reserves hugepages when possible. Without root it
# only reports what is missing: the tests that need those skip.
set -euo pipefail

# libsystemd-dev and libdbus-1-dev: the static link of DPDK
# (deploy/build-statewalld.sh) names their libraries.
pkgs=(dpdk dpdk-dev libdpdk-dev libsystemd-dev libdbus-1-dev pkg-config nftables conntrack vsftpd lftp curl
	iproute2 iputils-ping tcpdump python3 ethtool)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: not root; missing packages: ${missing[*]} (tests needing them skip)" >&2
		exit 0
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Hugepages (2 MiB) for DPDK and the flow tables; everything falls back to
# ordinary pages without them.
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	want=${STATEWALL_HUGEPAGES:-512}
	have=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$have" -lt "$want" ]; then
		echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
	fi
	mkdir -p /dev/hugepages
	mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
