#!/usr/bin/env bash
# ab.sh: compare statewalld builds on one bench configuration, in turn.
#
# Usage (root): perf/scripts/ab.sh CONFIG BINARY...
# Each binary runs `run -c CONFIG` alone; once its sink port transmits,
# it warms up for 2 s, then the 5-second rate of the sink's transmitted
# packets is read from the metrics endpoint (as bench-io.sh samples it).
# List binaries several times, interleaved (A B A B), to see the noise.
# The CONFIG is one bench-io.sh wrote (KEEP=1 keeps its work directory).
set -uo pipefail
cfg=$1
shift
if pgrep -f "run -c $cfg" >/dev/null; then
	echo "ab.sh: a daemon on $cfg is already running" >&2
	exit 1
fi
metrics=$(grep -A1 '^\[metrics\]' "$cfg" | awk -F'"' '/listen/ {print $2}')
metric='statewall_port_tx_packets_total{port="net_null0"}'
tx() { curl -s "http://$metrics/metrics" | awk -v m="$metric" 'index($0, m) == 1 { printf "%.0f\n", $2; exit }'; }
for bin in "$@"; do
	"$bin" run -c "$cfg" >/tmp/statewall-ab.log 2>&1 &
	pid=$!
	for _ in $(seq 120); do
		[ "$(tx)" -gt 0 ] 2>/dev/null && break
		sleep 0.5
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "$bin did not start: $(tail -1 /tmp/statewall-ab.log)"
		continue
	fi
	sleep 2
	a=$(tx)
	sleep 5
	z=$(tx)
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$bin $(((z - a) / 5000)) kpps"
done
