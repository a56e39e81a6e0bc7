#!/bin/sh
# The cost of /metrics (issue 13 item 7; docs/benchmarks.md, "Metrics
# scrape"): one gateway carries MX_CALLS relayed calls (media-bench's
# browsers and phones: DTLS-SRTP <-> RTP) while /metrics is scraped every
# second, and the same load without scraping, alternately on the same
# relay in one run: rounds of "off" then "on", each a fresh set of calls
# measured for MX_SECONDS. Prints each scrape's latency (the whole HTTP
# exchange, seen by a client on the driver's CPU) with the calls the
# scrape reported live and the gateway's own time to write the answer
# (tandem_metrics_render_seconds), and per round the relay's packet path: relayed
# packets/s, one-way latency p50/p99 through the relay, jitter p99, loss,
# and the relay's CPU per packet; then the ratios on/off of their medians.
#
# Tandem runs alone on CPU 0 with one media worker, as in media-bench; the
# driver and the scraper share CPU 1. Run from the build directory: `make
# metrics-bench` or sh tests/bench/run-metrics-bench.sh. Environment:
# MX_CALLS (1000), MX_ROUNDS (2), MX_SECONDS (8), MX_WARMUP (2),
# MX_CONCURRENCY (50). Takes about 2 minutes. Exit status 0, or 1 when the
# gateway or the driver failed; a missed target is reported, not failed.
set -u

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-$(dirname "$0")/../..}
TANDEM=${TANDEM:-$builddir/tandem}
BENCH=$builddir/tests/bench/media-bench
SCRAPER=$srcdir/tests/bench/metrics_scrape.py
CALLS=${MX_CALLS:-1000}
ROUNDS=${MX_ROUNDS:-2}
SECS=${MX_SECONDS:-8}
WARMUP=${MX_WARMUP:-2}
CONC=${MX_CONCURRENCY:-50}
T_SCRAPE_MS=50
tmp=
relay=
scraper=
status=0

die()
{
	echo "run-metrics-bench: $*" >&2
	exit 1
}

cleanup()
{
	[ -n "$scraper" ] && kill "$scraper" 2>/dev/null
	[ -n "$relay" ] && kill -KILL "$relay" 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
}

pick_port()
{
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 9000 + 31000 ))
		if ! command -v ss >/dev/null 2>&1 || [ -z "$(ss -Htuan "sport = :$p")" ]; then
			echo "$p"
			return
		fi
	done
}

[ -x "$TANDEM" ] || die "no $TANDEM: run from the build directory (make metrics-bench)"
[ -x "$BENCH" ] || ${MAKE:-make} -C "$builddir" tests/bench/media-bench ||
	die "cannot build $BENCH"
[ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1 || die "needs 2 CPUs and taskset"
trap cleanup EXIT
trap 'exit 1' INT TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-metrics-bench.XXXXXX") || die "mktemp failed"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

ws_port=$(pick_port)
sip_port=$(pick_port)
drv_sip=$(pick_port)
# the driver is one user on one WebSocket placing every call: the abuse
# limits of [websocket] and [calls] are lifted for it
printf '[websocket]\nport = %s\nmax_connections = 16\nrate = 100000\nburst = 100000\n\n' \
	"$ws_port" > "$tmp/tandem.conf"
printf '[calls]\nrate = 10000\nburst = 10000\nmax_per_connection = 10000\n' >> "$tmp/tandem.conf"
# reattach_grace 0: a round's calls end when its driver's socket closes
# (kept 30 s for a reattach, they were still live, and counted, in the next)
printf 'max_per_user = 100000\nmax_ringing = 100000\nmax_ringing_per_user = 1000\n' \
	>> "$tmp/tandem.conf"
printf 'reattach_grace = 0\n\n' >> "$tmp/tandem.conf"
printf '[sip]\nport = %s\ntcp = false\n\n' "$sip_port" >> "$tmp/tandem.conf"
printf '[media]\nworkers = 1\nport_min = 10000\nport_max = 29999\nmax_calls = 100000\n' \
	>> "$tmp/tandem.conf"
printf 'max_load = 0\n[log]\nlevel = warn\n' >> "$tmp/tandem.conf"
taskset -c 0 "$TANDEM" --config "$tmp/tandem.conf" 2>> "$tmp/tandem.log" &
relay=$!

echo "# tandem metrics bench: $(nproc) CPUs, $(uname -r); relay on CPU 0 (1 media worker)," \
	"driver and scraper on CPU 1"
echo "# $CALLS calls per round, $ROUNDS rounds of off/on, ${WARMUP} s warm-up +" \
	"${SECS} s measured; scrape every second in the on rounds"

# One round: a fresh set of calls, measured; $1 is off or on.
round()
{
	if [ "$1" = on ]; then
		taskset -c 1 /usr/bin/python3 "$SCRAPER" "$ws_port" > "$tmp/scrape.$2" &
		scraper=$!
	fi
	timeout -s KILL 300 taskset -c 1 "$BENCH" --target tandem --steps "$CALLS" \
		--warmup "$WARMUP" --seconds "$SECS" --concurrency "$CONC" --past-steps 0 \
		--max-loss-pct 100 --max-jitter-ms 1000 --max-driver-cpu 100 --fast 1 \
		--decrypt-every 8 --max-seconds 240 --pc-ports 40000-49999 \
		--rtp-ports 50000-59999 --ws-port "$ws_port" --sip-port "$drv_sip" \
		--peer-pid "$relay" > "$tmp/drv.$2" 2> "$tmp/drv.$2.err"
	rc=$?
	if [ -n "$scraper" ]; then
		kill "$scraper" 2>/dev/null
		wait "$scraper" 2>/dev/null
		scraper=
	fi
	if [ "$rc" -ne 0 ] || ! grep -q '^STEP' "$tmp/drv.$2"; then
		echo "run-metrics-bench: the driver failed (status $rc):" >&2
		tail -5 "$tmp/drv.$2.err" >&2
		status=1
		return
	fi
	grep '^STEP' "$tmp/drv.$2" | awk -v mode="$1" -v r="$2" '
	function v(k,   i, n, a) {
		n = split($0, a, " ")
		for (i = 1; i <= n; i++)
			if (index(a[i], k "=") == 1)
				return substr(a[i], length(k) + 2)
		return ""
	}
	function max(a, b) { return a + 0 > b + 0 ? a : b }
	{ printf "ROUND %s scrape=%s calls=%s up=%s pkts_per_s=%s lat_p50_ms=%.3f " \
		 "lat_p99_ms=%.3f jit_p99_ms=%.3f loss_pct=%.4f relay_us_per_pkt=%s " \
		 "relay_cpu_pct=%s other_cpu_pct=%s\n", r, mode, v("calls"), v("up"),
		 v("relayed_pkts_per_s"), max(v("b2p_lat_p50_ms"), v("p2b_lat_p50_ms")),
		 max(v("b2p_lat_p99_ms"), v("p2b_lat_p99_ms")),
		 max(v("b2p_jit_p99_ms"), v("p2b_jit_p99_ms")),
		 max(v("b2p_loss_pct"), v("p2b_loss_pct")), v("peer_us_per_pkt"),
		 v("peer_cpu_pct"), v("other_cpu_pct") }' | tee -a "$tmp/rounds"
}

# wait for the gateway: the driver retries too, but the first round
# should not pay for the start
i=0
while [ "$i" -lt 100 ] && ! /usr/bin/python3 "$SCRAPER" "$ws_port" 0.001 >/dev/null 2>&1; do
	sleep 0.1
	i=$((i + 1))
done
/usr/bin/python3 "$SCRAPER" "$ws_port" 0.001 | sed 's/^SCRAPE/IDLE_SCRAPE/'
n=1
while [ "$n" -le "$ROUNDS" ]; do
	round off "$n.off"
	round on "$n.on"
	n=$((n + 1))
done
kill -0 "$relay" 2>/dev/null || { echo "run-metrics-bench: tandem died" >&2; status=1; }
kill -TERM "$relay" 2>/dev/null
wait "$relay" 2>/dev/null
relay=

echo
echo "# scrapes with at least 90% of the calls live (latency: the HTTP exchange, ms)"
cat "$tmp"/scrape.* 2>/dev/null | awk -v want="$CALLS" -v t="$T_SCRAPE_MS" '
	/^SCRAPE ms=/ { split($2, a, "="); split($3, b, "="); split($4, c, "="); split($5, d, "=")
		if (c[2] + 0 >= want * 0.9) { n++; ms[n] = a[2] + 0; rd[n] = d[2] + 0; bytes = b[2]
			live = c[2] } }
	/error=/ { errors++ }
	END {
		if (!n) { print "no scrape saw the calls up"; exit }
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
			if (ms[j] < ms[i]) { x = ms[i]; ms[i] = ms[j]; ms[j] = x }
			if (rd[j] < rd[i]) { x = rd[i]; rd[i] = rd[j]; rd[j] = x }
		}
		i90 = int(n * 0.9 + 0.5)
		if (i90 < 1)
			i90 = 1
		verdict = ms[n] < t ? "met" : "MISSED"
		printf "scrape: %d scrapes at %d live calls, %d bytes: p50 %.2f ms, " \
		       "p90 %.2f ms, max %.2f ms; %d errors; target < %d ms %s\n", n, live, bytes,
		       ms[int((n + 1) / 2)], ms[i90], ms[n], errors, t, verdict
		printf "scrape: time the gateway took to write it (tandem_metrics_render_seconds): " \
		       "p50 %.3f ms, p90 %.3f ms, max %.3f ms\n", rd[int((n + 1) / 2)], rd[i90], rd[n]
	}'
[ -s "$tmp/rounds" ] && awk '
	function v(k,   i, n, a) {
		n = split($0, a, " ")
		for (i = 1; i <= n; i++)
			if (index(a[i], k "=") == 1)
				return substr(a[i], length(k) + 2)
		return ""
	}
	function med(arr, n,   i, j, x) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (arr[j] < arr[i]) { x = arr[i]; arr[i] = arr[j]; arr[j] = x }
		return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	}
	{ m = v("scrape"); k[m]++
	  pps[m, k[m]] = v("pkts_per_s"); p50[m, k[m]] = v("lat_p50_ms")
	  p99[m, k[m]] = v("lat_p99_ms"); us[m, k[m]] = v("relay_us_per_pkt") }
	END {
		split("pps p50 p99 us", names, " ")
		for (q = 1; q <= 4; q++) {
			for (m in k) {
				delete a
				for (i = 1; i <= k[m]; i++) {
					if (q == 1) a[i] = pps[m, i] + 0
					if (q == 2) a[i] = p50[m, i] + 0
					if (q == 3) a[i] = p99[m, i] + 0
					if (q == 4) a[i] = us[m, i] + 0
				}
				r[q, m] = med(a, k[m])
			}
		}
		printf "packet path, medians of %d rounds each, scraping on / off:\n", k["on"]
		printf "  relayed packets/s %.0f / %.0f = %.3f\n", r[1, "on"], r[1, "off"],
		       r[1, "off"] ? r[1, "on"] / r[1, "off"] : 0
		printf "  latency p50 %.3f / %.3f ms = %.3f\n", r[2, "on"], r[2, "off"],
		       r[2, "off"] ? r[2, "on"] / r[2, "off"] : 0
		printf "  latency p99 %.3f / %.3f ms = %.3f\n", r[3, "on"], r[3, "off"],
		       r[3, "off"] ? r[3, "on"] / r[3, "off"] : 0
		printf "  relay CPU per packet %.2f / %.2f us = %.3f\n", r[4, "on"], r[4, "off"],
		       r[4, "off"] ? r[4, "on"] / r[4, "off"] : 0
	}' "$tmp/rounds"
exit "$status"
