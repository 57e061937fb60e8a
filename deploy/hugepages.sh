#!/usr/bin/env bash
# hugepages.sh: reserve 2 MiB hugepages and mount hugetlbfs for DPDK and
# the flow tables.
#
#   deploy/hugepages.sh [PAGES] [MOUNTPOINT]    reserve PAGES (default 1024 =
#                                               2 GiB) and mount MOUNTPOINT
#                                               (default /dev/hugepages)
#   deploy/hugepages.sh --status                show reservation and mounts
#
# With several NUMA nodes the pages are spread evenly over the nodes (a
# worker's pool and flow table live on its socket). The reservation only
# grows: pages already reserved are kept. Needs root. To keep it across
# reboots, add vm.nr_hugepages=PAGES to /etc/sysctl.d/ and a hugetlbfs line
# to /etc/fstab, or run this from the systemd unit (ExecStartPre).
set -euo pipefail

status() {
	grep -E '^(HugePages_|Hugepagesize)' /proc/meminfo
	for n in /sys/devices/system/node/node*/hugepages/hugepages-2048kB; do
		[ -d "$n" ] && echo "$(basename "$(dirname "$(dirname "$n")")"): $(cat "$n/nr_hugepages") pages"
	done
	mount -t hugetlbfs || true
}

if [ "${1:-}" = "--status" ]; then
	status
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "hugepages.sh: needs root" >&2
	exit 1
fi
pages=${1:-1024}
mnt=${2:-/dev/hugepages}
case $pages in '' | *[!0-9]*)
	echo "hugepages.sh: PAGES must be a number, got '$pages'" >&2
	exit 2
	;;
esac

nodes=(/sys/devices/system/node/node[0-9]*)
if [ -d "${nodes[0]}/hugepages/hugepages-2048kB" ] && [ ${#nodes[@]} -gt 1 ]; then
	per=$(((pages + ${#nodes[@]} - 1) / ${#nodes[@]}))
	for n in "${nodes[@]}"; do
		f=$n/hugepages/hugepages-2048kB/nr_hugepages
		[ "$(cat "$f")" -ge "$per" ] || echo "$per" >"$f"
	done
else
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$pages" ] || echo "$pages" >/proc/sys/vm/nr_hugepages
fi
got=$(cat /proc/sys/vm/nr_hugepages)
if [ "$got" -lt "$pages" ]; then
	echo "hugepages.sh: asked for $pages pages, the kernel gave $got (memory fragmented? reserve at boot: hugepages=$pages on the kernel command line)" >&2
fi

mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
	mount -t hugetlbfs -o pagesize=2M nodev "$mnt"
fi
status
