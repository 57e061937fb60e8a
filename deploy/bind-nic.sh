#!/usr/bin/env bash
# bind-nic.sh: hand a NIC to DPDK (vfio-pci) or give it back to its kernel
# driver, with dpdk-devbind.py from Debian's dpdk package.
#
#   deploy/bind-nic.sh status              list network devices and drivers
#   deploy/bind-nic.sh bind PCI|IFACE      bind to vfio-pci (loads the module)
#   deploy/bind-nic.sh unbind PCI DRIVER   give the device back to DRIVER
#                                          (e.g. ixgbe, i40e, ice, mlx5_core)
#
# PCI is a full address such as 0000:01:00.0; IFACE a kernel interface name,
# resolved to its address. The interface must be down and carry no address
# or route you need: once bound, it disappears from the kernel. Without an
# IOMMU (VMs without vIOMMU), vfio-pci needs no-IOMMU mode, which this script
# enables when /sys/kernel/iommu_groups is empty (unsafe for DMA isolation;
# say STATEWALL_NOIOMMU=0 to refuse). Mellanox (mlx5) NICs stay on their
# kernel driver: DPDK drives them through it (bifurcated), do not bind them.
# Configure the daemon's port with the PCI address (device = "0000:01:00.0").
set -euo pipefail

devbind=$(command -v dpdk-devbind.py || command -v dpdk-devbind || true)
[ -n "$devbind" ] || {
	echo "bind-nic.sh: dpdk-devbind.py not found (apt-get install dpdk)" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || [ "${1:-}" = status ] || {
	echo "bind-nic.sh: needs root" >&2
	exit 1
}

resolve() { # PCI address of a PCI address or interface name
	if [[ $1 =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
		echo "$1"
	elif [ -e "/sys/class/net/$1/device" ]; then
		basename "$(readlink -f "/sys/class/net/$1/device")"
	else
		echo "bind-nic.sh: '$1' is neither a PCI address nor a PCI network interface" >&2
		exit 1
	fi
}

case ${1:-status} in
status)
	"$devbind" --status-dev net
	;;
bind)
	[ $# -eq 2 ] || { sed -n '2,20p' "$0"; exit 2; }
	pci=$(resolve "$2")
	if [ -e "/sys/bus/pci/devices/$pci/driver" ] && [ "$(basename "$(readlink -f "/sys/bus/pci/devices/$pci/driver")")" = mlx5_core ]; then
		echo "bind-nic.sh: $pci is mlx5: DPDK uses it through the kernel driver; not binding" >&2
		exit 0
	fi
	for n in /sys/bus/pci/devices/"$pci"/net/*; do
		[ -e "$n" ] && ip link set "$(basename "$n")" down
	done
	modprobe vfio-pci
	if [ -z "$(ls -A /sys/kernel/iommu_groups 2>/dev/null)" ]; then
		[ "${STATEWALL_NOIOMMU:-1}" = 1 ] || {
			echo "bind-nic.sh: no IOMMU and STATEWALL_NOIOMMU=0" >&2
			exit 1
		}
		echo "bind-nic.sh: no IOMMU: enabling vfio no-IOMMU mode" >&2
		echo 1 >/sys/module/vfio/parameters/enable_unsafe_noiommu_mode
	fi
	"$devbind" --bind=vfio-pci "$pci"
	"$devbind" --status-dev net | grep -F "$pci"
	;;
unbind)
	[ $# -eq 3 ] || { sed -n '2,20p' "$0"; exit 2; }
	pci=$(resolve "$2")
	"$devbind" --bind="$3" "$pci"
	;;
*)
	sed -n '2,20p' "$0"
	exit 2
	;;
esac
