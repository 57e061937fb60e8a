#!/usr/bin/env bash
# lab.sh: the network-namespace lab. A client and a server joined through a
# firewall namespace, bump-in-the-wire: the firewall bridges two veth ends
# and owns no address, so client and server talk as if on one wire.
#
#   sw-client  eth0 198.18.0.1/24 fd00:0:0:1::1/64
#      |  veth
#   sw-fw      veth-lan ==[ statewalld | Linux bridge | tc mirred ]== veth-wan
#      |  veth
#   sw-server  eth0 198.19.0.2/24 fd00:0:0:2::2/64
#              http (python3 http.server, port 80, v4+v6), vsftpd (port 21,
#              anonymous download, active and passive)
#
# The two subnets are those of deploy/examples/lab.toml (clients
# 198.18.0.0/24, servers 198.19.0.0/24); each side reaches the other's
# subnet on-link (a route onto eth0), so ARP and neighbour discovery cross
# the bridge and nothing is routed. No route leaves the machine.
#
# Usage (root):
#   deploy/lab/lab.sh up [--bridge statewall|linux|tc|testpmd|none] [--config FILE]
#       statewall (default): ip netns exec sw-fw statewalld run -c FILE
#                 (FILE defaults to deploy/examples/lab.toml; devices
#                 net_af_packet0,iface=veth-lan and net_af_packet1,iface=veth-wan)
#       linux:    a Linux bridge between the veth ends (debugging the lab)
#       tc:       tc mirred redirection between the veth ends
#       testpmd:  dpdk-testpmd io forwarding over the same net_af_packet
#                 devices the daemon uses (DPDK I/O without the firewall)
#       none:     leave the ends unjoined (start a daemon by hand in sw-fw)
#   deploy/lab/lab.sh traffic   ping, HTTP (v4, v6), a blocked port, FTP
#                               passive and active, from the client
#   deploy/lab/lab.sh down      stop everything and delete the namespaces
#   deploy/lab/lab.sh check [--bridge ...]   up, traffic, down (exit status
#                               says whether the allowed traffic worked)
#   deploy/lab/lab.sh status    namespaces, processes, bridge mode
#   deploy/lab/lab.sh demo      the main job (make demo): up with statewalld,
#                               traffic, then what the firewall did (status,
#                               rules with counters, tracked connections) and
#                               where the metrics are; down at the end, also
#                               when interrupted
# `up` cleans up after itself when it fails or is interrupted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${LAB_STATE:-/tmp/statewall-lab}
NS_C=sw-client NS_S=sw-server NS_F=sw-fw
C4=198.18.0.1 S4=198.19.0.2 C6=fd00:0:0:1::1 S6=fd00:0:0:2::2
NET_C4=198.18.0.0/24 NET_S4=198.19.0.0/24 NET_C6=fd00:0:0:1::/64 NET_S6=fd00:0:0:2::/64
BLOCKED_PORT=8081 # nothing is allowed there: the firewall drops, Linux answers RST

log() { printf '[lab] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
in_ns() { ip netns exec "$@"; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (namespaces, veth, services)"; }

install_deps() {
	local pkgs=() p
	for p in vsftpd lftp curl iproute2 python3 tcpdump nftables conntrack ethtool iputils-ping; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
	done
	[ ${#pkgs[@]} -eq 0 ] && return
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
}

# quiet_iface NS DEV: no offloads (af_packet must see real frames with full
# checksums, not GSO super-frames), no IPv6 on the firewall's own ends.
quiet_iface() {
	in_ns "$1" ethtool -K "$2" rx off tx off tso off gso off gro off lro off >/dev/null 2>&1 || true
}

plumb() {
	local ns
	for ns in $NS_C $NS_S $NS_F; do
		ip netns add "$ns"
		in_ns "$ns" ip link set lo up
	done
	ip link add eth0 netns $NS_C type veth peer name veth-lan netns $NS_F
	ip link add eth0 netns $NS_S type veth peer name veth-wan netns $NS_F
	for dev in veth-lan veth-wan; do
		in_ns $NS_F sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
		quiet_iface $NS_F "$dev"
		in_ns $NS_F ip link set "$dev" up
	done
	# The firewall namespace forwards nothing by itself.
	in_ns $NS_F sysctl -qw net.ipv4.ip_forward=0
	in_ns $NS_C ip addr add $C4/24 dev eth0
	in_ns $NS_C ip -6 addr add $C6/64 dev eth0 nodad
	in_ns $NS_S ip addr add $S4/24 dev eth0
	in_ns $NS_S ip -6 addr add $S6/64 dev eth0 nodad
	for ns in $NS_C $NS_S; do
		quiet_iface "$ns" eth0
		in_ns "$ns" ip link set eth0 up
	done
	in_ns $NS_C ip route add $NET_S4 dev eth0
	in_ns $NS_C ip -6 route add $NET_S6 dev eth0
	in_ns $NS_S ip route add $NET_C4 dev eth0
	in_ns $NS_S ip -6 route add $NET_C6 dev eth0
}

start_services() {
	mkdir -p "$STATE/www" "$STATE/ftp/pub" "$STATE/empty"
	chmod 755 "$STATE" "$STATE/ftp" "$STATE/ftp/pub" "$STATE/empty"
	echo "statewall lab: hello from sw-server" >"$STATE/www/index.html"
	head -c 1048576 /dev/urandom >"$STATE/www/1M.bin"
	head -c 1048576 /dev/urandom >"$STATE/ftp/pub/1M.bin"
	echo "statewall lab ftp" >"$STATE/ftp/pub/readme.txt"
	# HTTP on port 80, dual stack (http.server binds :: with v4 mapped).
	in_ns $NS_S python3 -m http.server 80 --bind :: --directory "$STATE/www" \
		>"$STATE/http.log" 2>&1 &
	echo $! >"$STATE/http.pid"
	# vsftpd: anonymous download, active (PORT/EPRT) and passive
	# (PASV/EPSV); pasv_address unset, so the 227 reply names the address
	# the control connection reached.
	cat >"$STATE/vsftpd.conf" <<-EOF
		listen=YES
		listen_ipv6=NO
		listen_address=$S4
		listen_port=21
		background=NO
		anonymous_enable=YES
		anon_root=$STATE/ftp
		no_anon_password=YES
		local_enable=NO
		write_enable=NO
		anon_upload_enable=NO
		pasv_enable=YES
		pasv_min_port=30000
		pasv_max_port=30099
		port_enable=YES
		connect_from_port_20=YES
		secure_chroot_dir=$STATE/empty
		seccomp_sandbox=NO
		xferlog_enable=YES
		vsftpd_log_file=$STATE/vsftpd-xfer.log
		dual_log_enable=YES
		xferlog_file=$STATE/vsftpd-xferlog.log
		hide_ids=YES
		use_localtime=NO
	EOF
	id ftp >/dev/null 2>&1 || useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp
	in_ns $NS_S vsftpd "$STATE/vsftpd.conf" >"$STATE/vsftpd.log" 2>&1 &
	echo $! >"$STATE/vsftpd.pid"
}

bridge_linux() {
	in_ns $NS_F ip link add br0 type bridge stp_state 0 forward_delay 0
	in_ns $NS_F sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
	in_ns $NS_F ip link set veth-lan master br0
	in_ns $NS_F ip link set veth-wan master br0
	in_ns $NS_F ip link set br0 up
}

bridge_tc() {
	local a b
	for a in veth-lan veth-wan; do
		b=veth-wan
		[ $a = veth-wan ] && b=veth-lan
		in_ns $NS_F tc qdisc add dev $a ingress
		in_ns $NS_F tc filter add dev $a parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev $b
	done
}

bridge_testpmd() {
	command -v dpdk-testpmd >/dev/null || die "dpdk-testpmd missing (apt-get install dpdk)"
	in_ns $NS_F dpdk-testpmd --no-huge -m 512 --no-pci --no-shconf --no-telemetry -l 0-1 \
		--file-prefix "swlab$$" --vdev net_af_packet0,iface=veth-lan --vdev net_af_packet1,iface=veth-wan \
		-- --forward-mode=io --nb-cores=1 --total-num-mbufs=16384 --stats-period=60 \
		</dev/null >"$STATE/testpmd.log" 2>&1 &
	echo $! >"$STATE/testpmd.pid"
}

bridge_statewall() {
	local cfg=$1 bin
	bin=${STATEWALLD:-}
	if [ -z "$bin" ]; then
		ls "$ROOT"/cmd/statewalld/*.go >/dev/null 2>&1 || die "no ./cmd/statewalld yet: use --bridge linux"
		bin=$STATE/statewalld
		"$ROOT/deploy/build-statewalld.sh" "$bin" || die "statewalld does not build: use --bridge linux"
	fi
	"$bin" help 2>&1 | grep -qw run || die "$bin has no 'run' command yet: use --bridge linux"
	mkdir -p /run/statewall
	log "starting: ip netns exec $NS_F $bin run -c $cfg"
	in_ns $NS_F "$bin" run -c "$cfg" >"$STATE/statewalld.log" 2>&1 &
	echo $! >"$STATE/statewalld.pid"
}

wait_for() { # SECONDS COMMAND...: retry until it succeeds
	local n=$1
	shift
	for ((i = 0; i < n * 4; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	return 1
}

cmd_up() {
	local mode=statewall cfg=$ROOT/deploy/examples/lab.toml
	while [ $# -gt 0 ]; do
		case $1 in
		--bridge) mode=$2; shift 2 ;;
		--bridge=*) mode=${1#*=}; shift ;;
		--config) cfg=$2; shift 2 ;;
		*) die "unknown option $1" ;;
		esac
	done
	case $mode in statewall | linux | tc | testpmd | none) ;; *) die "--bridge statewall|linux|tc|testpmd|none" ;; esac
	need_root
	ip netns list | grep -qw $NS_F && die "lab already up (deploy/lab/lab.sh down first)"
	install_deps
	trap 'log "interrupted or failed: cleaning up"; cmd_down' EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$STATE"
	echo "$mode" >"$STATE/mode"
	plumb
	start_services
	case $mode in
	linux) bridge_linux ;;
	tc) bridge_tc ;;
	testpmd) bridge_testpmd ;;
	statewall) bridge_statewall "$cfg" ;;
	none) log "veth-lan and veth-wan in $NS_F are not joined: start the firewall there yourself" ;;
	esac
	wait_for 10 in_ns $NS_S bash -c "exec 3<>/dev/tcp/$S4/80" || die "http server did not start (see $STATE/http.log)"
	wait_for 10 in_ns $NS_S bash -c "exec 3<>/dev/tcp/$S4/21" || die "vsftpd did not start (see $STATE/vsftpd.log)"
	if [ "$mode" != none ]; then
		wait_for 30 in_ns $NS_C ping -c 1 -W 1 $S4 || log "warning: the client cannot ping the server yet"
	fi
	trap - EXIT INT TERM
	log "up: bridge=$mode; client $C4/$C6 in $NS_C, server $S4/$S6 in $NS_S (http :80, ftp :21)"
	[ "$mode" = statewall ] && log "daemon log: $STATE/statewalld.log; metrics: ip netns exec $NS_F curl -s 127.0.0.1:9469/metrics"
	log "try: deploy/lab/lab.sh traffic; ip netns exec $NS_C curl http://$S4/"
}

cmd_down() {
	set +e
	trap - EXIT INT TERM
	local ns pid
	for f in statewalld testpmd http vsftpd; do
		[ -s "$STATE/$f.pid" ] && kill -INT "$(cat "$STATE/$f.pid")" 2>/dev/null
	done
	sleep 0.5
	for ns in $NS_C $NS_S $NS_F; do
		if ip netns list | grep -qw "$ns"; then
			# Whatever else was started inside the lab's namespaces.
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
		fi
	done
	sleep 0.5
	for ns in $NS_C $NS_S $NS_F; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$STATE"
	log "down"
	return 0
}

# check NAME EXPECT COMMAND...: run a client-side probe; EXPECT is ok or
# fail. Prints one result line and counts mismatches.
FAILS=0
probe() {
	local name=$1 expect=$2 got
	shift 2
	if "$@" >"$STATE/probe.out" 2>&1; then got=ok; else got=fail; fi
	if [ "$got" = "$expect" ]; then
		printf '  PASS  %-44s %s\n' "$name" "(expected $expect)"
	else
		printf '  FAIL  %-44s got %s, expected %s: %s\n' "$name" "$got" "$expect" "$(tail -c 200 "$STATE/probe.out" | tr '\n' ' ')"
		FAILS=$((FAILS + 1))
	fi
}

# ftp_get on|off: anonymous download of pub/1M.bin in passive (on) or
# active (off) mode, compared with the served file.
ftp_get() {
	rm -f "$STATE/ftp-dl.bin"
	ip netns exec $NS_C lftp -c "set net:timeout 5; set net:max-retries 1; set ftp:passive-mode $1;
		set ftp:prefer-epsv no; open ftp://$S4; get pub/1M.bin -o $STATE/ftp-dl.bin" &&
		cmp "$STATE/ftp-dl.bin" "$STATE/ftp/pub/1M.bin"
}

cmd_traffic() {
	need_root
	ip netns list | grep -qw $NS_C || die "lab is not up"
	local c=(ip netns exec $NS_C)
	echo "lab traffic (bridge=$(cat "$STATE/mode" 2>/dev/null)):"
	probe "ping $S4" ok "${c[@]}" ping -c 3 -i 0.2 -W 2 $S4
	probe "ping $S6" ok "${c[@]}" ping -6 -c 3 -i 0.2 -W 2 $S6
	probe "http GET http://$S4/" ok "${c[@]}" curl -sSf --max-time 5 -o /dev/null "http://$S4/"
	probe "http GET 1 MiB http://[$S6]/1M.bin" ok "${c[@]}" curl -sSf --max-time 10 -o /dev/null "http://[$S6]/1M.bin"
	probe "tcp $S4:$BLOCKED_PORT (nothing allowed there)" fail "${c[@]}" curl -sSf --max-time 3 -o /dev/null "http://$S4:$BLOCKED_PORT/"
	probe "ftp passive RETR pub/1M.bin" ok ftp_get on
	probe "ftp active RETR pub/1M.bin" ok ftp_get off
	if [ -s "$STATE/statewalld.pid" ]; then
		echo "firewall counters (metrics inside $NS_F):"
		ip netns exec $NS_F curl -s --max-time 2 127.0.0.1:9469/metrics 2>/dev/null |
			grep -E '^statewall_(packets|drops|ct_state_packets|rule_packets|expectations_[a-z]+|port_(rx|tx)_packets)_total' |
			awk '$2 != 0 { print "  " $0 }' || true
	fi
	[ $FAILS -eq 0 ] || {
		echo "$FAILS probe(s) failed"
		return 1
	}
	echo "all probes as expected"
}

cmd_status() {
	ip netns list | grep -E "^($NS_C|$NS_S|$NS_F)\b" || echo "lab is down"
	[ -s "$STATE/mode" ] && echo "bridge: $(cat "$STATE/mode")"
	for f in statewalld testpmd http vsftpd; do
		[ -s "$STATE/$f.pid" ] && kill -0 "$(cat "$STATE/$f.pid")" 2>/dev/null && echo "$f: running (pid $(cat "$STATE/$f.pid"))"
	done
	return 0
}

cmd_check() {
	need_root
	cmd_up "$@" # cleans up itself when it fails
	trap 'cmd_down' EXIT
	trap 'exit 130' INT TERM
	cmd_traffic
}

# demo: the main job. statewall is the operator's CLI, built beside the
# daemon; it talks to the daemon over the control socket.
cmd_demo() {
	need_root
	command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
	mkdir -p "$STATE"
	local cli=$STATE/statewall-cli
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$cli" ./cmd/statewall) || die "statewall does not build"
	cmd_up --bridge statewall
	trap 'cmd_down' EXIT
	trap 'exit 130' INT TERM
	echo
	echo "== traffic from $NS_C through statewalld to $NS_S"
	local rc=0
	cmd_traffic || rc=$?
	echo
	echo "== statewall status"
	"$cli" status || true
	echo
	echo "== statewall rules (per-rule packet and byte counters)"
	"$cli" rules || true
	echo
	echo "== statewall conntrack list (what is tracked now)"
	"$cli" conntrack list 2>&1 | head -20 || true
	echo
	echo "== where to look"
	echo "  metrics:  ip netns exec $NS_F curl -s http://127.0.0.1:9469/metrics   (Prometheus; dashboard: deploy/grafana/statewall.json)"
	echo "  control:  $cli -S /run/statewall/control.sock status|rules|conntrack list|reload"
	echo "  log:      $STATE/statewalld.log (removed by down)"
	echo "  the lab stays up while you press Enter (or for 0 s without a terminal)"
	if [ -t 0 ]; then read -r _ || true; fi
	return $rc
}

case ${1:-} in
demo) cmd_demo ;;
up) shift; cmd_up "$@" ;;
down) need_root; cmd_down ;;
traffic) cmd_traffic ;;
check) shift; cmd_check "$@" ;;
status) cmd_status ;;
*) sed -n '2,35p' "$0"; exit 2 ;;
esac
