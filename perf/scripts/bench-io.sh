#!/usr/bin/env bash
# bench-io.sh: the I/O benchmark of issue #5, in one invocation.
#
# Same virtual devices for every contender: a net_pcap source replaying a
# capture of many established TCP flows (infinite_rx=1) into a net_null
# sink (no-rx=1), one forwarding core, for a fixed time:
#   (a) dpdk-testpmd io forwarding: the I/O floor;
#   (b) Open vSwitch's userspace datapath with conntrack (OpenFlow
#       ct(commit) then output), started by hand with a private database;
#   (c) statewalld (see run_statewall: runs once ./cmd/statewalld has `run`).
# It prints each rate and the ratios statewall/testpmd and statewall/ovs,
# at each flow count, without hugepages and (when available) with them.
#
# Usage (root):
#   perf/scripts/bench-io.sh [-d SECONDS] [-f "10000 1000000"] [-m "nohuge huge"]
#                            [-s "testpmd ovs statewall"] [-r ROUNDS] [-p tcp|udp|conn] [-6]
#                            [-n REPEATS] [-c]
#                            [-o RESULTS.md]
# -r forces the data rounds per flow of the capture (default: 8 below 500k
# flows, else 1), e.g. -f 1000 -r 1 for a 5000-packet capture.
# -p udp replays UDP flows instead (perf/gen -proto udp: a datagram each
# way per round, no handshake; pktgen's default traffic is UDP).
# -p conn replays whole TCP connections (perf/gen -close, one data round:
# handshake, a segment each way, FIN each way, last ACK; 8 packets): each
# pass's SYN finds its flow in TIME_WAIT and opens a new connection, so
# the rate is a connection rate (connections/s = packets/s / 8).
# -n runs the three contenders in turn REPEATS times for each cell and
# prints the medians: of the rates, and of each turn's ratios (the
# machine's speed drifts over minutes; a turn's three runs are close in
# time, so its ratios are fairer than the ratio of medians).
# -6 runs the same flows over IPv6 (perf/gen -ipv6: fd00::/96, frames 20
# bytes longer).
# -c has statewalld verify TCP and UDP checksums ([conntrack] checksum =
# true), as Open vSwitch's userspace conntrack does (in software, where
# the NIC did not mark them good: virtual devices never do).
# Environment: PCAPDIR (cached captures, default /tmp/statewall-pcaps),
# KEEP=1 keeps the work directory (logs) for inspection.
#
# Captures (perf/gen): at 10k flows 8 data rounds (190k packets: OVS loads
# an infinite_rx capture into its own mbuf pool, 262144 mbufs, so the
# capture must fit); at 1M flows 1 data round (5M packets) for testpmd and
# statewalld. OVS cannot preload 5M packets, so at 1M flows it reads a
# 4-round capture (11M packets) once from the file (no infinite_rx) and
# its rate is taken while that lasts. All frames are 60 bytes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=10
FLOWS="10000 1000000"
MODES="nohuge huge"
SUITES="testpmd ovs statewall"
OUT=""
PCAPDIR=${PCAPDIR:-/tmp/statewall-pcaps}
MBUF_SIZE=320 # data room incl. 128 B headroom: 60-byte frames fit, 5M mbufs fit in memory
WARMUP=3
ROUNDS=""
REPEATS=1
PROTO=tcp
IPV=4
CHECKSUM=false

while getopts "d:f:m:s:o:r:p:n:6ch" opt; do
	case $opt in
	d) DURATION=$OPTARG ;;
	f) FLOWS=$OPTARG ;;
	m) MODES=$OPTARG ;;
	s) SUITES=$OPTARG ;;
	o) OUT=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	n) REPEATS=$OPTARG ;;
	p) PROTO=$OPTARG ;;
	6) IPV=6 ;;
	c) CHECKSUM=true ;;
	*)
		sed -n '2,33p' "$0"
		exit 2
		;;
	esac
done

log() { printf '[bench-io] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (DPDK, hugepages, Open vSwitch)"
case $PROTO in tcp | udp | conn) ;; *) die "-p takes tcp, udp or conn, not $PROTO" ;; esac
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

WORK=$(mktemp -d /tmp/statewall-bench.XXXXXX)
OVS_RUN=""
BG_PID=""
cleanup() {
	set +e
	[ -n "$BG_PID" ] && kill -INT "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null
	[ -n "$OVS_RUN" ] && ovs_stop
	if [ "${KEEP:-0}" = 1 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_pkg() { # need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] && return 0
	log "installing $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
}

# ---------------------------------------------------------------- captures

# pcap_for FLOWS ROUNDS: path of the capture, generated on first use.
pcap_for() {
	local f=$PCAPDIR/flows-$1-r$2.pcap gen6=() gen=(-proto "$PROTO")
	[ "$PROTO" = tcp ] || f=$PCAPDIR/$PROTO-flows-$1-r$2.pcap
	[ "$PROTO" = conn ] && gen=(-proto tcp -close)
	if [ "$IPV" = 6 ]; then
		f=${f%.pcap}-v6.pcap
		gen6=(-ipv6)
	fi
	if [ ! -s "$f" ]; then
		mkdir -p "$PCAPDIR"
		log "generating $f"
		(cd "$ROOT" && go run ./perf/gen "${gen[@]}" "${gen6[@]}" -flows "$1" -rounds "$2" -o "$f.tmp") && mv "$f.tmp" "$f"
	fi
	echo "$f"
}
rounds_for() {
	if [ -n "$ROUNDS" ]; then echo "$ROUNDS"; elif [ "$1" -ge 500000 ] || [ "$PROTO" = conn ]; then echo 1; else echo 8; fi
}
packets_in() { # FLOWS ROUNDS
	case $PROTO in
	udp) echo $(($1 * 2 * $2)) ;;
	conn) echo $(($1 * (6 + 2 * $2))) ;;
	*) echo $(($1 * (3 + 2 * $2))) ;;
	esac
}

# ------------------------------------------------------------- hugepages

free_hugepages() { awk '/HugePages_Free/ {print $2}' /proc/meminfo; }
have_hugepages() { [ "$(free_hugepages)" -gt 0 ] && mount -t hugetlbfs | grep -q .; }

# mem_mb PACKETS: EAL memory for a pool of PACKETS+64k mbufs of MBUF_SIZE.
mem_mb() { echo $(((($1 + 65536) * (MBUF_SIZE + 192) / 1048576) + 512)); }

# ------------------------------------------------------------- rates

# median: the median of the numbers on stdin (0 when none).
median() {
	sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) printf "%.0f\n", a[(NR + 1) / 2];
		else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# sample_rates COUNTER_FUNCTION: per-second rates of a growing packet
# counter over DURATION seconds, one a line; stops early when the counter
# stops growing (a finite source ran out).
sample_rates() {
	local fn=$1 i c0 c1 t0 t1
	c0=$($fn)
	t0=$EPOCHREALTIME
	for ((i = 0; i < DURATION; i++)); do
		sleep 1
		c1=$($fn)
		t1=$EPOCHREALTIME
		[ "${c1:-0}" -gt "${c0:-0}" ] || break
		awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f\n", (b - a) / (t1 - t0) }'
		c0=$c1
		t0=$t1
	done
}

# -------------------------------------------------------------- (a) testpmd

# tx_pps_of LOG: median Tx-pps of port 1 over testpmd's 1-second samples,
# skipping the first two non-zero ones (warm-up). The median, because on a
# shared machine other processes steal whole seconds now and then.
tx_pps_of() {
	awk '/NIC statistics for port/ { for (i = 1; i <= NF; i++) if ($i == "port") p = $(i + 1) }
		/Tx-pps:/ && p == 1 && $2 > 0 { k++; if (k > 2) print $2 }' "$1" | median
}

# The run_* functions run in the main shell (not in $(...)) so that the
# processes they start are known to cleanup; they leave the rate in RATE.
RATE=0

run_testpmd() { # FLOWS MODE -> pps in RATE
	local flows=$1 mode=$2 r pcap pkts mem eal logf
	r=$(rounds_for "$flows")
	pcap=$(pcap_for "$flows" "$r")
	pkts=$(packets_in "$flows" "$r")
	mem=$(mem_mb "$pkts")
	if [ "$mode" = huge ]; then
		eal=(--in-memory --socket-mem "$mem")
	else
		eal=(--no-huge -m "$mem" --no-shconf)
	fi
	logf=$WORK/testpmd-$flows-$mode.log
	# One forwarding core (lcore 1); lcore 0 is testpmd's main lcore,
	# which only prints the statistics.
	local cmd=(dpdk-testpmd "${eal[@]}" --no-pci --no-telemetry -l 0-1 --file-prefix "swbench-tp$$"
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev "net_null0,no-rx=1"
		-- --forward-mode=io --nb-cores=1 --burst=32 --total-num-mbufs=$((pkts + 65536))
		--mbuf-size=$MBUF_SIZE --stats-period=1)
	echo "${cmd[*]}" >"$WORK/testpmd-$flows-$mode.cmd"
	log "testpmd $flows flows $mode: ${cmd[*]}"
	stdbuf -oL "${cmd[@]}" >"$logf" 2>&1 &
	BG_PID=$!
	# EAL start-up (zeroing memory, loading the capture) takes a while.
	local waited=0
	until [ "$(tx_pps_started "$logf")" = yes ]; do
		sleep 1
		waited=$((waited + 1))
		if ! kill -0 "$BG_PID" 2>/dev/null || [ $waited -gt 300 ]; then
			log "testpmd did not start forwarding; tail of $logf:"
			tail -5 "$logf" >&2
			BG_PID=""
			RATE=0
			return
		fi
	done
	sleep $((DURATION + 2))
	kill -INT "$BG_PID" 2>/dev/null || true
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=""
	RATE=$(tx_pps_of "$logf")
}
tx_pps_started() {
	awk '/NIC statistics for port/ { for (i = 1; i <= NF; i++) if ($i == "port") p = $(i + 1) }
		/Tx-pps:/ && p == 1 && $2 > 0 { print "yes"; exit }' "$1"
}

# ----------------------------------------------------------- (b) Open vSwitch

OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk

ovs_env() {
	export OVS_RUNDIR=$OVS_RUN OVS_LOGDIR=$OVS_RUN OVS_DBDIR=$OVS_RUN OVS_SYSCONFDIR=$OVS_RUN
}
vsctl() { ovs-vsctl --db="unix:$OVS_RUN/db.sock" --timeout=60 "$@"; }

ovs_start() { # MODE
	local mode=$1 extra
	OVS_RUN=$WORK/ovs-$RANDOM
	mkdir -p "$OVS_RUN"
	ovs_env
	ovsdb-tool create "$OVS_RUN/conf.db" /usr/share/openvswitch/vswitch.ovsschema
	ovsdb-server "$OVS_RUN/conf.db" --remote="punix:$OVS_RUN/db.sock" --pidfile="$OVS_RUN/ovsdb-server.pid" \
		--unixctl="$OVS_RUN/ovsdb-server.ctl" --log-file="$OVS_RUN/ovsdb-server.log" -vconsole:off --detach
	vsctl --no-wait init
	if [ "$mode" = huge ]; then
		# OVS adds --in-memory itself when hugepages are used.
		extra="--no-pci --file-prefix=swbench-ovs$$"
		vsctl --no-wait set Open_vSwitch . other_config:dpdk-socket-mem=2048
	else
		# --no-huge implies legacy memory; saying so stops OVS adding --in-memory.
		extra="--no-huge --legacy-mem -m 3072 --no-pci --no-shconf --file-prefix=swbench-ovs$$"
	fi
	# Core 1: the one PMD thread (OVS pins it there); everything else of
	# OVS (main, handler, revalidator threads) is kept on core 0 by taskset.
	vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-lcore-mask=0x1 \
		other_config:pmd-cpu-mask=0x2 other_config:n-handler-threads=1 other_config:n-revalidator-threads=1 \
		"other_config:dpdk-extra=$extra"
	taskset -c 0 "$OVS_VSWITCHD" "unix:$OVS_RUN/db.sock" --pidfile="$OVS_RUN/ovs-vswitchd.pid" \
		--unixctl="$OVS_RUN/ovs-vswitchd.ctl" --log-file="$OVS_RUN/ovs-vswitchd.log" -vconsole:off --detach
}

ovs_stop() {
	ovs_env
	ovs-appctl -t "$OVS_RUN/ovs-vswitchd.ctl" exit --cleanup 2>/dev/null || true
	ovs-appctl -t "$OVS_RUN/ovsdb-server.ctl" exit 2>/dev/null || true
	OVS_RUN=""
}

ovs_tx() { ovs-ofctl dump-ports br0 2 | awk -F'[=,]' '/tx pkts/ {print $2; exit}'; }

run_ovs() { # FLOWS MODE -> pps in RATE
	local flows=$1 mode=$2 r pcap devargs
	r=$(rounds_for "$flows")
	if [ "$(packets_in "$flows" "$r")" -gt 200000 ]; then
		# Too many packets for OVS's mbuf pool: replay a longer file once.
		r=4
		pcap=$(pcap_for "$flows" "$r")
		devargs="net_pcap0,rx_pcap=$pcap"
	else
		pcap=$(pcap_for "$flows" "$r")
		devargs="net_pcap0,rx_pcap=$pcap,infinite_rx=1"
	fi
	ovs_start "$mode"
	log "ovs $flows flows $mode: devargs $devargs"
	vsctl add-br br0 -- set bridge br0 datapath_type=netdev
	vsctl -- set Open_vSwitch . other_config:max-idle=10000
	ovs-appctl -t "$OVS_RUN/ovs-vswitchd.ctl" dpctl/ct-set-maxconns 3000000 >/dev/null
	# Flows first, ports after, so that no packet misses the pipeline.
	ovs-ofctl del-flows br0
	local match=ip
	[ "$IPV" = 6 ] && match=ipv6
	ovs-ofctl add-flow br0 "table=0,priority=100,in_port=1,$match,actions=ct(commit,table=1)"
	ovs-ofctl add-flow br0 "table=0,priority=0,actions=drop"
	ovs-ofctl add-flow br0 "table=1,priority=100,in_port=1,actions=output:2"
	vsctl add-port br0 p1 -- set Interface p1 type=dpdk "options:dpdk-devargs=net_null0,no-rx=1" ofport_request=2
	vsctl add-port br0 p0 -- set Interface p0 type=dpdk "options:dpdk-devargs=$devargs" ofport_request=1
	local waited=0 conns rates
	until [ "$(ovs_tx)" -gt 0 ] 2>/dev/null; do
		sleep 0.5
		waited=$((waited + 1))
		[ $waited -lt 120 ] || {
			log "ovs forwarded nothing; see $WORK/ovs-vswitchd.log"
			ovs_stop
			RATE=0
			return
		}
	done
	sleep "$WARMUP"
	rates=$(sample_rates ovs_tx)
	conns=$(ovs-appctl -t "$OVS_RUN/ovs-vswitchd.ctl" dpctl/ct-stats-show 2>/dev/null | awk '/Total:/ {print $2; exit}')
	log "ovs: $conns tracked connections; 1-s rates: $(echo $rates)"
	ovs-appctl -t "$OVS_RUN/ovs-vswitchd.ctl" dpif-netdev/pmd-stats-show 2>/dev/null |
		grep -E "^ +packets received|^ +avg cycles per packet" | head -2 >&2 || true
	ovs_stop
	RATE=$(echo "$rates" | median)
}

# --------------------------------------------------------- (c) statewalld

# >>> STATEWALLD HOOK <<<
# run_statewall FLOWS MODE sets RATE to the firewall's forwarding rate in pps, or
# "n/a" while ./cmd/statewalld cannot `run`. It writes a config naming the
# same vdevs, runs `statewalld run -c`, and reads the sink's tx counter from
# the metrics endpoint (STATEWALL_TX_METRIC overrides the series). The
# daemon's mbuf pool must hold the whole infinite_rx capture
# (dpdk.DeviceMbufs says how many; it does since 2026-11-25); with
# 2176-byte data rooms that is about 12 GiB at 1M flows, more than these
# machines give, so that run is skipped (n/a) until the daemon uses
# dpdk.DeviceDataRoom for such sources (then set STATEWALL_MBUF_BYTES=512).
run_statewall() {
	local flows=$1 mode=$2 r pcap pkts mem eal bin cfg metrics="127.0.0.1:19469"
	if [ ! -d "$ROOT/cmd/statewalld" ] || ! ls "$ROOT"/cmd/statewalld/*.go >/dev/null 2>&1; then
		RATE=n/a
		return
	fi
	bin=$WORK/statewalld
	"$ROOT/deploy/build-statewalld.sh" "$bin" 2>"$WORK/statewalld-build.log" || {
		log "statewalld does not build yet; see $WORK/statewalld-build.log"
		RATE=n/a
		return
	}
	"$bin" help 2>&1 | grep -qw run || {
		RATE=n/a
		return
	}
	r=$(rounds_for "$flows")
	pcap=$(pcap_for "$flows" "$r")
	pkts=$(packets_in "$flows" "$r")
	# The daemon's pool holds the whole capture in mbufs of its data room
	# (STATEWALL_MBUF_BYTES per mbuf, default for 2176-byte data rooms),
	# plus the flow tables when they come from DPDK memory: max_flows (twice
	# the flows) in each family's table, about 80 + 104 bytes a flow.
	local flowmem=$(((flows * 2 * 192) / 1048576 + 64))
	mem=$((((pkts + 65536) * ${STATEWALL_MBUF_BYTES:-2432}) / 1048576 + flowmem + 512))
	local avail
	if [ "$mode" = huge ]; then avail=$(($(free_hugepages) * 2)); else avail=$(($(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 2048)); fi
	if [ "$mem" -gt "$avail" ]; then
		log "statewalld $flows flows $mode: needs ${mem} MiB of DPDK memory for its mbuf pool, ${avail} MiB usable: skipped"
		RATE=n/a
		return
	fi
	if [ "$mode" = huge ]; then
		eal="\"--in-memory\", \"--socket-mem\", \"$mem\""
	else
		eal="\"--no-huge\", \"-m\", \"$mem\", \"--no-shconf\""
	fi
	cfg=$WORK/statewall-$flows-$mode.toml
	cat >"$cfg" <<-EOF
		# Written by perf/scripts/bench-io.sh: one worker, the bench vdevs.
		[dataplane]
		workers = 1
		burst = 32
		flow_memory = "${flowmem}MiB"
		hugepages = $([ "$mode" = huge ] && echo true || echo false)
		eal_args = [$eal, "--no-pci", "--no-telemetry", "-l", "0-1", "--file-prefix", "swbench-sw$$"]

		[[port]]
		name = "src"
		device = "net_pcap0,rx_pcap=$pcap,infinite_rx=1"
		role = "inside"
		peer = "sink"
		queues = 1

		[[port]]
		name = "sink"
		device = "net_null0,no-rx=1"
		role = "outside"
		peer = "src"
		queues = 1

		[conntrack]
		max_flows = $((flows * 2))
		checksum = $CHECKSUM

		[metrics]
		listen = "$metrics"

		[policy]
		forward = "accept"

		[[rule]]
		name = "established"
		ct_state = ["ESTABLISHED", "RELATED"]
		action = "accept"
	EOF
	log "statewalld $flows flows $mode: $bin run -c $cfg"
	"$bin" run -c "$cfg" >"$WORK/statewall-$flows-$mode.log" 2>&1 &
	BG_PID=$!
	# Ports are labelled with their ethdev name.
	local metric=${STATEWALL_TX_METRIC:-statewall_port_tx_packets_total\{port=\"net_null0\"\}}
	sw_tx() { curl -s "http://$metrics/metrics" | awk -v m="$metric" 'index($0, m) == 1 { printf "%.0f\n", $2; exit }'; }
	local waited=0
	until [ "$(sw_tx)" -gt 0 ] 2>/dev/null; do
		sleep 1
		waited=$((waited + 1))
		if ! kill -0 "$BG_PID" 2>/dev/null || [ $waited -gt 300 ]; then
			log "statewalld did not forward; tail of its log:"
			tail -5 "$WORK/statewall-$flows-$mode.log" >&2
			kill -INT "$BG_PID" 2>/dev/null || true
			BG_PID=""
			RATE=0
			return
		fi
	done
	sleep "$WARMUP"
	local rates
	rates=$(sample_rates sw_tx)
	log "statewalld: 1-s rates: $(echo $rates)"
	kill -INT "$BG_PID" 2>/dev/null || true
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=""
	RATE=$(echo "$rates" | median)
}
# >>> END STATEWALLD HOOK <<<

# ------------------------------------------------------------------ main

mpps() { case $1 in n/a | "") echo "n/a" ;; *) awk -v v="$1" 'BEGIN { printf "%.2f", v / 1e6 }' ;; esac; }
# med VALUES...: their median, n/a when any is.
med() {
	case " $* " in *" n/a "*) echo n/a ;; *) printf '%s\n' "$@" | median ;; esac
}
# rawratio A B: A/B to six places, n/a when either is.
rawratio() {
	case "$1$2" in *n/a* | "") echo n/a ;; *) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.6f\n", a / b; else print "n/a" }' ;; esac
}
# medx RATIOS...: their median as "N.NNx", n/a when any is.
medx() {
	case " $* " in *" n/a "*) echo n/a ;; *) printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2fx", m }' ;; esac
}
# ratio A B: A/B as "N.NNx", n/a when either is.
ratio() { medx "$(rawratio "$1" "$2")"; }
has() { case " $SUITES " in *" $1 "*) return 0 ;; esac; return 1; }

has testpmd && { command -v dpdk-testpmd >/dev/null || need_pkg dpdk-testpmd dpdk; }
has ovs && { [ -x "$OVS_VSWITCHD" ] || need_pkg "$OVS_VSWITCHD" openvswitch-switch-dpdk; }

host="$(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
results=()
for mode in $MODES; do
	if [ "$mode" = huge ] && ! have_hugepages; then
		log "no free hugepages or no hugetlbfs mount: skipping the hugepage runs (deploy/hugepages.sh sets them up)"
		continue
	fi
	for flows in $FLOWS; do
		tps=() ovss=() sws=() rtp=() rovs=()
		for rep in $(seq "$REPEATS"); do
			tp=n/a ovs=n/a sw=n/a
			if has testpmd; then run_testpmd "$flows" "$mode"; tp=$RATE; fi
			if has ovs; then run_ovs "$flows" "$mode"; ovs=$RATE; fi
			if has statewall; then run_statewall "$flows" "$mode"; sw=$RATE; fi
			[ "$REPEATS" -gt 1 ] && log "turn $rep: | $flows | $mode | $(mpps "$tp") | $(mpps "$ovs") | $(mpps "$sw") | $(ratio "$sw" "$tp") | $(ratio "$sw" "$ovs") |"
			tps+=("$tp") ovss+=("$ovs") sws+=("$sw")
			rtp+=("$(rawratio "$sw" "$tp")") rovs+=("$(rawratio "$sw" "$ovs")")
		done
		line="| $flows | $mode | $(mpps "$(med "${tps[@]}")") | $(mpps "$(med "${ovss[@]}")") | $(mpps "$(med "${sws[@]}")") | $(medx "${rtp[@]}") | $(medx "${rovs[@]}") |"
		log "$line"
		results+=("$line")
	done
done

{
	echo "bench-io: $(date -u +%Y-%m-%dT%H:%MZ), $host, ${DURATION}s per run, $((IPV == 6 ? 80 : 60))-byte $PROTO frames over IPv$IPV"
	[ "$REPEATS" -gt 1 ] && echo "(medians of $REPEATS turns of the three in a row; ratios: the median of each turn's ratio)"
	[ "$CHECKSUM" = true ] && echo "(statewalld verifies TCP and UDP checksums: [conntrack] checksum = true)"
	[ "$PROTO" = conn ] && echo "(whole connections of $((6 + 2 * ${ROUNDS:-1})) packets: connections/s = packets/s / $((6 + 2 * ${ROUNDS:-1})))"
	echo
	echo "| flows | memory | testpmd io Mpps | OVS ct Mpps | statewalld Mpps | statewall/testpmd | statewall/ovs |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${results[@]}"
} | tee ${OUT:+"$OUT"}
