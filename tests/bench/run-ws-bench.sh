#!/bin/sh
# Signalling benchmark (docs/benchmarks.md): JSON-RPC pings over WebSocket
# from 1, 10 and 100 closed-loop clients against a real ./tandem.
#
# The gateway is pinned to CPU 0 and the client to CPU 1 so that "pings per
# second on one core" means one core: unpinned, the scheduler would let the
# single-threaded gateway and the client share or swap CPUs from run to run.
# Each result line gets the gateway's CPU time for that run, from
# /proc/PID/stat, to show whether the gateway or the client was the limit.
#
# Run from the build directory: `make bench`, or sh tests/bench/run-ws-bench.sh.
# BENCH_SECONDS, BENCH_WARMUP and BENCH_CLIENTS override the defaults.
# Exit status: 0, or 1 when a client saw an error or the gateway did not
# stop cleanly with status 0 on SIGTERM. A missed target is reported only:
# numbers from a shared machine are not a test verdict.
set -u

builddir=${top_builddir:-.}
TANDEM=$builddir/tandem
BENCH=$builddir/tests/bench/ws-ping-bench
SECS=${BENCH_SECONDS:-5}
WARMUP=${BENCH_WARMUP:-1}
CLIENTS=${BENCH_CLIENTS:-"1 10 100"}
TARGET_CLIENTS=100
TARGET_RPS=20000

tmp=
gw=
status=0

die()
{
	echo "run-ws-bench: $*" >&2
	exit 1
}

# A zombie still answers kill -0, so look at the state in /proc instead.
alive()
{
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

cleanup()
{
	if [ -n "$gw" ] && alive "$gw"; then
		kill -KILL "$gw" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# utime + stime in clock ticks (fields 14 and 15; 12 and 13 after "comm) ").
cpu_ticks()
{
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

uptime_s()
{
	awk '{ print $1 }' /proc/uptime
}

port_free()
{
	command -v ss >/dev/null 2>&1 || return 0
	[ -z "$(ss -Htuan "sport = :$1" 2>/dev/null)" ]
}

pick_port()
{
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 40000 + 20000 ))
		if port_free "$p"; then
			echo "$p"
			return
		fi
	done
}

# Starts the gateway and waits until a real ping is answered. A port taken
# between the check and the bind makes the gateway exit: try other ports.
start_gateway()
{
	for attempt in 1 2 3; do
		ws_port=$(pick_port)
		sip_port=$(pick_port)
		[ "$ws_port" = "$sip_port" ] && continue
		# the bench's closed-loop clients are one address sending as fast
		# as answers come: lift the per-connection request rate and the
		# per-address handshake cap, which exist to stop exactly that
		printf '[websocket]\nport = %s\nrate = 100000\nburst = 100000\nmax_handshakes_per_address = 10000\n\n[sip]\nport = %s\n\n[log]\nlevel = warn\n' \
			"$ws_port" "$sip_port" > "$tmp/tandem.conf"
		$GW_PIN "$TANDEM" --config "$tmp/tandem.conf" 2> "$tmp/gateway.log" &
		gw=$!
		tries=0
		while alive "$gw"; do
			if $CL_PIN "$BENCH" --port "$ws_port" --clients 1 --seconds 0.2 --warmup 0 \
				> /dev/null 2>&1; then
				return 0
			fi
			tries=$((tries + 1))
			[ "$tries" -lt 100 ] || die "gateway not answering pings after 100 probes"
			sleep 0.1
		done
		wait "$gw"
		echo "run-ws-bench: gateway exited at start (attempt $attempt):" >&2
		cat "$tmp/gateway.log" >&2
		gw=
	done
	die "could not start the gateway"
}

stop_gateway()
{
	kill -TERM "$gw"
	i=0
	while alive "$gw" && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$gw"; then
		echo "run-ws-bench: gateway still running 10 s after SIGTERM" >&2
		status=1
		return
	fi
	wait "$gw"
	rc=$?
	gw=
	if [ "$rc" -ne 0 ]; then
		echo "run-ws-bench: gateway exited with status $rc after SIGTERM" >&2
		status=1
	fi
}

[ -x "$TANDEM" ] || die "no $TANDEM: run from the build directory (make bench)"
if [ ! -x "$BENCH" ]; then
	${MAKE:-make} -C "$builddir" tests/bench/ws-ping-bench || die "cannot build $BENCH"
fi

trap cleanup EXIT
trap 'exit 1' INT TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench.XXXXXX") || die "mktemp failed"

ncpu=$(nproc 2>/dev/null || echo 1)
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
	GW_PIN="taskset -c 0"
	CL_PIN="taskset -c 1"
	pinning="gateway on CPU 0, client on CPU 1"
else
	GW_PIN=
	CL_PIN=
	pinning="not pinned (needs 2 CPUs and taskset): gateway and client share"
fi
hz=$(getconf CLK_TCK)

echo "# tandem signalling bench: $ncpu CPUs (${model:-unknown}); $pinning"
echo "# per run: ${WARMUP} s warm-up, ${SECS} s measured; ping round trips in a closed loop"

start_gateway
target_rps=
for n in $CLIENTS; do
	c0=$(cpu_ticks "$gw")
	w0=$(uptime_s)
	line=$($CL_PIN "$BENCH" --port "$ws_port" --clients "$n" --seconds "$SECS" \
		--warmup "$WARMUP") || status=1
	c1=$(cpu_ticks "$gw")
	w1=$(uptime_s)
	[ -n "$line" ] || line="clients=$n (no result)"
	# CPU over the whole client run (warm-up included): near 100% means
	# the gateway's one core, not the client, set the pace.
	awk -v l="$line" -v c="$((c1 - c0))" -v hz="$hz" -v w0="$w0" -v w1="$w1" 'BEGIN {
		cpu = c / hz; wall = w1 - w0
		printf "%s gw_cpu_s=%.2f gw_cpu_pct=%.0f\n", l, cpu, (wall > 0 ? 100 * cpu / wall : 0)
	}'
	if [ "$n" = "$TARGET_CLIENTS" ]; then
		target_rps=$(echo "$line" | sed -n 's/.* rps=\([0-9]*\).*/\1/p')
	fi
done
stop_gateway

if [ -n "$target_rps" ]; then
	if [ "$target_rps" -ge "$TARGET_RPS" ]; then
		verdict=met
	else
		verdict=MISSED
	fi
	echo "# target >= $TARGET_RPS pings/s with $TARGET_CLIENTS clients on one core:" \
		"$verdict ($target_rps)"
fi
if [ -s "$tmp/gateway.log" ]; then
	echo "# gateway log (level warn):"
	sed 's/^/#   /' "$tmp/gateway.log"
fi
exit "$status"
