#!/bin/sh
# Media relay benchmark (docs/benchmarks.md, "Media relay"): relayed
# SRTP <-> RTP calls per core, memory per call and call set-ups per second,
# for ./tandem and for rtpengine on the same ramp in the same run.
#
# Each relay runs alone on CPU 0 (taskset), with one media worker for
# Tandem; the driver, tests/bench/media-bench, runs on CPU 1 and plays the
# browsers (ICE + DTLS-SRTP through webrtc/'s tnd_pc) and the SIP phones
# (plain RTP). Tandem's calls are set up through its real signalling
# (WebSocket JSON-RPC, then SIP to the driver's own user agent); rtpengine's
# through its ng control protocol. Everything is on loopback, on ports
# picked free at start. The ramp goes MB_PAST_STEPS steps past the first
# step over a threshold (loss, jitter), to show how the relay degrades.
#
# Order: udp-floor (the kernel's cost of relaying UDP, per packet), then the
# driver's own ceiling (media-bench --target loop: the relay replaced by an
# echo thread on CPU 0), then each relay. The summary gives each relay's CPU
# per relayed packet beside the floor's at the same call count (interpolated
# between floor steps) and their ratio, the last step within the limits, the
# first over them and the step past it.
#
# Run from the build directory: `make media-bench`, or
# sh tests/bench/run-media-bench.sh. Environment: MB_STEPS (default
# "100 150 200 250 300 350 400 500 600 800 1000 1500 2000"), MB_SETUP_CALLS
# (calls of the set-up rate run, 500), MB_WARMUP (2), MB_SECONDS (5),
# MB_CONCURRENCY (50), MB_MAX_LOSS_PCT (0.1), MB_MAX_JITTER_MS (5),
# MB_TARGETS ("tandem rtpengine"), MB_BUDGET (seconds per relay, 120),
# MB_FLOOR_STEPS (udp-floor steps, "300 600 900 1200 1500"; empty: no floor run),
# MB_DRIVER_STEPS (the driver's ceiling, "500 1000 1500 2000 2500"; empty: none),
# MB_PAST_STEPS (steps past the first over a limit, 1), MB_FAST (1: the
# driver's batched media path, 0: one pc and rtpsock per call as the relay
# does), MB_DECRYPT_EVERY (browser packets decrypted, 1 in 8),
# RTPENGINE (path, default rtpengine). Takes 5 to 8 minutes.
# Exit status: 0, or 1 when a relay or the driver failed to run. Missed
# targets are reported, not failed: numbers from a shared machine are not a
# test verdict.
set -u

builddir=${top_builddir:-.}
TANDEM=${TANDEM:-$builddir/tandem}
# extra [media] lines for ./tandem, e.g. "max_load = 90\n" to see admission
# control at work; the default measures the relay itself, so nothing is
# refused. MB_TANDEM=path runs another build (e.g. an older commit's).
MEDIA_EXTRA=${MB_MEDIA_EXTRA-"max_load = 0\n"}
TANDEM=${MB_TANDEM:-$TANDEM}
BENCH=$builddir/tests/bench/media-bench
FLOOR=$builddir/tests/bench/udp-floor
FLOOR_STEPS=${MB_FLOOR_STEPS-"300 600 900 1200 1500"}
DRIVER_STEPS=${MB_DRIVER_STEPS-"500 1000 1500 2000 2500"}
PAST=${MB_PAST_STEPS:-1}
FAST=${MB_FAST:-1}
DECRYPT=${MB_DECRYPT_EVERY:-8}
STEPS=${MB_STEPS:-"100 150 200 250 300 350 400 500 600 800 1000 1500 2000"}
SETUP_CALLS=${MB_SETUP_CALLS:-500}
WARMUP=${MB_WARMUP:-2}
SECS=${MB_SECONDS:-5}
CONC=${MB_CONCURRENCY:-50}
MAX_LOSS=${MB_MAX_LOSS_PCT:-0.1}
MAX_JIT=${MB_MAX_JITTER_MS:-5}
# others' share of the two CPUs above which a measurement is taken again
MAX_OTHER=15
TARGETS=${MB_TARGETS:-"tandem rtpengine"}
BUDGET=${MB_BUDGET:-120}
RTPENGINE=${RTPENGINE:-rtpengine}
# the issue's targets
T_CALLS=1500
T_KIB=64
T_SETUPS=200
# media ports: the relay's range and the driver's two never overlap
RELAY_PORTS="10000 29999"
DRV_PC_PORTS=40000-49999
DRV_RTP_PORTS=50000-59999

tmp=
relay=
status=0

die()
{
	echo "run-media-bench: $*" >&2
	exit 1
}

# A zombie still answers kill -0, so look at the state in /proc instead.
alive()
{
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

cleanup()
{
	if [ -n "$relay" ] && alive "$relay"; then
		kill -KILL "$relay" 2>/dev/null
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}

port_free()
{
	command -v ss >/dev/null 2>&1 || return 0
	[ -z "$(ss -Htuan "sport = :$1" 2>/dev/null)" ]
}

# Free ports outside every media range (10000-29999, 40000-59999).
pick_port()
{
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 9000 + 31000 ))
		if port_free "$p"; then
			echo "$p"
			return
		fi
	done
}

# Stops the relay with SIGTERM (SIGKILL after 10 s); $1 names it.
stop_relay()
{
	kill -TERM "$relay" 2>/dev/null
	i=0
	while alive "$relay" && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$relay"; then
		echo "# $1 still running 10 s after SIGTERM: killed" >&2
		kill -KILL "$relay" 2>/dev/null
	fi
	wait "$relay" 2>/dev/null
	relay=
}

# Busy share of CPU 0 and 1 over one second, everything included: others'
# work on the machine skews every number here, so it is printed.
idle_check()
{
	a=$(sed -n 's/^cpu\([01]\) //p' /proc/stat)
	sleep 1
	b=$(sed -n 's/^cpu\([01]\) //p' /proc/stat)
	printf '%s\n%s\n' "$a" "$b" | awk -v hz="$(getconf CLK_TCK)" '
		{ busy = $1 + $2 + $3 + $6 + $7 + $8; v[NR] = busy }
		END { printf "cpu0 %.0f%%, cpu1 %.0f%%", 100 * (v[3] - v[1]) / hz,
		      100 * (v[4] - v[2]) / hz }'
}

# $1: target, $2: run name, then the driver's own arguments.
run_driver()
{
	t=$1
	run=$2
	shift 2
	# the budget bounds the ramp; timeout bounds a driver that hangs
	timeout -s KILL $((BUDGET + 60)) taskset -c 1 "$BENCH" --target "$t" \
		--warmup "$WARMUP" --seconds "$SECS" --concurrency "$CONC" \
		--max-loss-pct "$MAX_LOSS" --max-jitter-ms "$MAX_JIT" --max-driver-cpu 95 \
		--max-other-cpu "$MAX_OTHER" --retries 3 --past-steps "$PAST" --fast "$FAST" \
		--decrypt-every "$DECRYPT" \
		--max-seconds "$BUDGET" --pc-ports "$DRV_PC_PORTS" --rtp-ports "$DRV_RTP_PORTS" \
		"$@" > "$tmp/$t.$run" 2> "$tmp/$t.$run.err"
	rc=$?
	cat "$tmp/$t.$run"
	if [ "$rc" -ne 0 ] || ! grep -q '^RESULT' "$tmp/$t.$run"; then
		echo "run-media-bench: the driver failed against $t (status $rc):" >&2
		tail -5 "$tmp/$t.$run.err" >&2
		status=1
	fi
}

start_tandem()
{
	ws_port=$(pick_port)
	sip_port=$(pick_port)
	drv_sip=$(pick_port)
	set -- $RELAY_PORTS
	printf '[websocket]\nport = %s\nmax_connections = 16\n\n[sip]\nport = %s\ntcp = false\n\n' \
		"$ws_port" "$sip_port" > "$tmp/tandem.conf"
	printf '[media]\nworkers = 1\nport_min = %s\nport_max = %s\nmax_calls = 100000\n%b\n' \
		"$1" "$2" "$MEDIA_EXTRA" >> "$tmp/tandem.conf"
	printf '[log]\nlevel = warn\n' >> "$tmp/tandem.conf"
	taskset -c 0 "$TANDEM" --config "$tmp/tandem.conf" 2>> "$tmp/tandem.log" &
	relay=$!
	# the driver retries the WebSocket for 10 s while the gateway starts
	relay_args="--ws-port $ws_port --sip-port $drv_sip --peer-pid $relay"
}

start_rtpengine()
{
	ng_port=$(pick_port)
	set -- $RELAY_PORTS
	# userspace forwarding (--table=-1), its default threads, log at warning
	taskset -c 0 "$RTPENGINE" --config-file=none --table=-1 --interface=127.0.0.1 \
		--listen-ng="127.0.0.1:$ng_port" --foreground --log-stderr --log-level=4 \
		--port-min="$1" --port-max="$2" 2>> "$tmp/rtpengine.log" &
	relay=$!
	# the driver pings the ng port for 10 s while rtpengine starts
	relay_args="--ng-port $ng_port --peer-pid $relay"
}

# $1: tandem or rtpengine. Two runs, each on a fresh relay: set-ups alone
# (the set-up rate, nothing else running), then the media ramp.
bench()
{
	# a set-up run that others took CPU from is run again, twice at most
	for try in 1 2 3; do
		start_$1
		run_driver "$1" setup --setup-only 1 --steps "$SETUP_CALLS" $relay_args
		alive "$relay" || { echo "run-media-bench: $1 died during the run" >&2; status=1; }
		stop_relay "$1"
		other=$(sed -n 's/^SETUP.* other_cpu_pct=\([0-9]*\).*/\1/p' "$tmp/$1.setup")
		[ "${other:-0}" -le "$MAX_OTHER" ] && break
		echo "# other processes used ${other}% of the CPUs: set-ups measured again"
	done
	start_$1
	run_driver "$1" ramp --steps "$(echo "$STEPS" | tr ' ' ',')" $relay_args
	alive "$relay" || { echo "run-media-bench: $1 died during the run" >&2; status=1; }
	stop_relay "$1"
	if [ -s "$tmp/$1.log" ]; then
		echo "# $1 log (warnings), first lines:"
		head -n 5 "$tmp/$1.log" | cut -c1-200 | sed 's/^/#   /'
	fi
}

# awk helper: the value of key=value field k of the current line.
AWK_V='function v(k,   i, n, a) {
	n = split($0, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], k "=") == 1)
			return substr(a[i], length(k) + 2)
	return ""
}
function max(a, b) { return a + 0 > b + 0 ? a : b }'

# awk helper: the floor's us per packet at n calls, linear between the
# floor's steps (FLOOR lines read first into fc[], fu[], nf), flat beyond.
AWK_FLOOR='function floor_us(n,   i) {
	if (!nf)
		return 0
	if (n + 0 <= fc[1])
		return fu[1]
	for (i = 2; i <= nf; i++)
		if (n + 0 <= fc[i])
			return fu[i - 1] + (fu[i] - fu[i - 1]) * (n - fc[i - 1]) / (fc[i] - fc[i - 1])
	return fu[nf]
}
FILENAME ~ /floor$/ && /^FLOOR/ { nf++; fc[nf] = v("calls") + 0; fu[nf] = v("us_per_packet") + 0; next }'

# One table row per relay and step, from the driver's STEP lines, then the
# verdicts. A step where other processes used over 15% of the two CPUs
# (after the driver's retries) is marked: its numbers are not the relay's
# alone.
summary()
{
	echo
	echo "# Summary (relay on one core; loss, jitter and latency: the worse direction;"
	echo "# jitter p99 over every packet's RFC 3550 estimate; latency: one way through the"
	echo "# relay; late99: the driver's own send lateness; us/pkt: CPU per relayed packet,"
	echo "# the relay's, udp-floor's at the same calls, their ratio, the driver's;"
	echo "# step: ok within the limits, OVER the first over them, past the steps after it;"
	echo "# * others used over 15% of the CPUs)"
	printf '%-9s %6s %-4s %6s %8s %8s %8s %7s %6s %7s %6s %6s %5s %6s %8s\n' relay calls \
		step up "loss%" "jit99ms" "lat99ms" "late99" "relay%" "driver%" "us/pkt" \
		"floor" ratio "drv" "KiB/call"
	touch "$tmp/floor"
	for t in loop $TARGETS; do
		[ -s "$tmp/$t.ramp" ] || continue
		awk -v t="$t" -v mo="$MAX_OTHER" "$AWK_V
$AWK_FLOOR"'
		/^STEP/ {
			mark = v("other_cpu_pct") + 0 > mo ? " *" : ""
			st = v("verdict") == "over" ? "OVER" : v("verdict")
			fl = floor_us(v("calls"))
			printf("%-9s %6s %-4s %6s %8.4f %8.3f %8.3f %7.3f %6s %7s %6.2f %6.2f %5s " \
			       "%6.2f %8s%s\n", t, v("calls"), st, v("up"),
			       max(v("b2p_loss_pct"), v("p2b_loss_pct")),
			       max(v("b2p_jit_p99_ms"), v("p2b_jit_p99_ms")),
			       max(v("b2p_lat_p99_ms"), v("p2b_lat_p99_ms")),
			       v("send_late_p99_ms"), v("peer_cpu_pct"), v("driver_cpu_pct"),
			       v("peer_us_per_pkt"), fl,
			       fl > 0 ? sprintf("%.2f", v("peer_us_per_pkt") / fl) : "-",
			       v("driver_us_per_pkt"), t == "loop" ? "-" : v("per_call_kib"), mark)
		}' "$tmp/floor" "$tmp/$t.ramp"
	done
	echo
	if [ -s "$tmp/floor" ]; then
		awk -v ml="$MAX_LOSS" "$AWK_V"'
		/^FLOOR/ && v("lost_pct") + 0 <= ml + 0 && v("driver_late_ms") + 0 < 5 {
			ok = v("calls"); cpu = v("relay_cpu_pct"); us = v("us_per_packet")
			cpc = v("calls_per_core") }
		/^FLOOR/ && (v("lost_pct") + 0 > ml + 0) && !first_bad { first_bad = v("calls") }
		END {
			printf "floor: a relay that only moves datagrams (epoll, recvfrom, sendto; no " \
			       "SRTP) carried %d calls on one core at %s%% CPU, %s us per packet: " \
			       "about %d calls/core when full", ok, cpu, us, cpc
			if (first_bad)
				printf "; it lost packets at %d calls", first_bad
			printf "\n"
		}' "$tmp/floor"
	fi
	if [ -s "$tmp/loop.ramp" ]; then
		awk "$AWK_V"'
		/^STEP/ && v("verdict") == "ok" { ok = v("calls"); cpu = v("driver_cpu_pct")
			us = v("driver_us_per_pkt"); echo = v("peer_cpu_pct") }
		/^STEP/ && v("verdict") != "ok" && !bad { bad = v("calls"); bcpu = v("driver_cpu_pct")
			becho = v("peer_cpu_pct") }
		/^RESULT/ { ext = v("extrapolated_calls_per_core") }
		END {
			printf "driver: with an echo for a relay it carried %d calls within the limits, " \
			       "its core at %s%%, %s us per relayed packet", ok, cpu, us
			if (bad)
				printf "; over them at %d calls (driver %s%%, echo %s%%)%s", bad, bcpu,
				       becho, (becho + 0 >= 90 ? ": the echo, not the driver, ran out" : "")
			else
				printf "; no limit reached (the ramp ended)"
			printf "\n"
		}' "$tmp/loop.ramp"
	fi
	for t in $TARGETS; do
		[ -s "$tmp/$t.ramp" ] || continue
		cat "$tmp/$t.setup" "$tmp/$t.ramp" 2>/dev/null | awk -v t="$t" -v tc="$T_CALLS" \
			-v tk="$T_KIB" -v ts="$T_SETUPS" -v conc="$CONC" "$AWK_V"'
		function row(what,   l, j, lat) {
			l = max(v("b2p_loss_pct"), v("p2b_loss_pct"))
			j = max(v("b2p_jit_p99_ms"), v("p2b_jit_p99_ms"))
			lat = max(v("b2p_lat_p99_ms"), v("p2b_lat_p99_ms"))
			return sprintf("%s %s calls (%s up, %s failed, %s ended): loss %.4f%%, " \
				       "jitter p99 %.2f ms, latency p99 %.2f ms, relay CPU %s%%, " \
				       "driver CPU %s%%, %s relayed packets/s", what, v("calls"),
				       v("up"), v("failed"), v("dropped"), l, j, lat, v("peer_cpu_pct"),
				       v("driver_cpu_pct"), v("relayed_pkts_per_s"))
		}
		/^SETUP/ && !seen++ { rate = v("setups_per_s"); srtp = v("srtp"); n = v("ok")
			p99 = v("setup_p99_ms"); rcpu = v("peer_cpu_pct")
			dcpu = v("driver_cpu_pct") }
		/^STEP/ && v("verdict") == "ok" { good = row("last within the limits:") }
		/^STEP/ && v("verdict") == "over" { bad = row("first over them:"); bpps = v("relayed_pkts_per_s")
			bcalls = v("calls") }
		/^STEP/ && v("verdict") == "past" { np++; past[np] = row("past it:")
			ppps = v("relayed_pkts_per_s"); pup = v("up"); pcalls = v("calls") }
		/^RESULT/ && v("limit") !~ /set-up/ { calls = v("max_calls_ok")
			kib = v("per_call_kib_at_max"); ext = v("extrapolated_calls_per_core")
			rp = v("peer_cpu_pct_at_max")
			limit = $0; sub(/.*limit="/, "", limit); sub(/".*/, "", limit) }
		END {
			printf "%s: %d relayed calls within the limits on one core, relay " \
			       "CPU %s%% there\n", t, calls, rp
			printf "%s:   the ramp stopped: %s\n", t, limit
			if (good)
				printf "%s:   %s\n", t, good
			if (bad)
				printf "%s:   %s\n", t, bad
			for (i = 1; i <= np; i++)
				printf "%s:   %s\n", t, past[i]
			# gradual: offered more, the relay still delivers (nearly) what
			# it did at the first step over the limits
			gradual = ppps + 0 >= bpps * 0.95 && pup + 0 > 0
			if (bad && np)
				printf "%s:   beyond capacity it %s (relayed packets/s %d at %d calls, " \
				       "%d at %d)\n", t, gradual ? "degrades gradually" : "COLLAPSES",
				       bpps, bcalls, ppps, pcalls
			else if (bad)
				printf "%s:   no step past it (end of the steps or of the time " \
				       "budget)\n", t
			if (limit ~ /driver may be the cause|driver saturated/)
				printf "%s:   EXTRAPOLATED linearly from the relay CPU share, " \
				       "not measured: %s calls/core\n", t, ext
			printf "%s: %.1f KiB of relay RSS per call at %d calls\n", t, kib, calls
			printf "%s: %s set-ups/s, ICE+DTLS included (%s calls, %s at a time, " \
			       "p99 %s ms, relay CPU %s%%, driver CPU %s%%, SRTP %s)\n", t, rate,
			       n, conc, p99, rcpu, dcpu, srtp
			if (t != "tandem")
				exit
			c_ok = calls + 0 >= tc ? "met" : "MISSED"
			k_ok = kib + 0 <= tk && calls + 0 > 0 ? "met" : "MISSED"
			s_ok = rate + 0 >= ts ? "met" : "MISSED"
			printf("tandem targets: >= %d calls/core %s, <= %d KiB/call %s, " \
			       ">= %d set-ups/s %s\n", tc, c_ok, tk, k_ok, ts, s_ok)
		}'
	done
}

[ -x "$TANDEM" ] || die "no $TANDEM: run from the build directory (make media-bench)"
if [ ! -x "$BENCH" ] || [ ! -x "$FLOOR" ]; then
	${MAKE:-make} -C "$builddir" tests/bench/media-bench tests/bench/udp-floor ||
		die "cannot build $BENCH"
fi
case " $TARGETS " in
*" rtpengine "*)
	command -v "$RTPENGINE" >/dev/null 2>&1 ||
		die "no $RTPENGINE (Debian: rtpengine-daemon); MB_TARGETS=tandem runs Tandem alone"
	;;
esac
[ "$(nproc 2>/dev/null || echo 1)" -ge 2 ] && command -v taskset >/dev/null 2>&1 ||
	die "needs 2 CPUs and taskset: the relay and the driver each get one"

trap cleanup EXIT
trap 'exit 1' INT TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-media-bench.XXXXXX") || die "mktemp failed"
# thousands of sockets per side: the driver holds 3 per call, Tandem 4
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
echo "# tandem media bench: $(nproc) CPUs (${model:-unknown}), $(uname -r);" \
	"relay on CPU 0, driver on CPU 1"
echo "# steps: $STEPS calls; ${WARMUP} s warm-up + ${SECS} s measured per step;" \
	"limits: loss ${MAX_LOSS}%, jitter p99 ${MAX_JIT} ms"
echo "# CPU busy before the run (others' load skews every number): $(idle_check)"
# the kernel's share first: a relay that only moves datagrams
if [ -n "$FLOOR_STEPS" ]; then
	"$FLOOR" "$SECS" $FLOOR_STEPS > "$tmp/floor" || status=1
	cat "$tmp/floor"
fi
# the driver's own ceiling: an echo for a relay, no step past the first over
if [ -n "$DRIVER_STEPS" ]; then
	run_driver loop ramp --steps "$(echo "$DRIVER_STEPS" | tr ' ' ',')" --past-steps 0 \
		--fast 1
fi
for t in $TARGETS; do
	case $t in
	tandem | rtpengine) bench "$t" ;;
	*) die "unknown target $t" ;;
	esac
done
echo "# CPU busy after the run: $(idle_check)"
summary
exit "$status"
