#!/bin/sh
# make xcode-bench: Tandem's transcoder (in-process, one media worker) and
# then rtpengine's userspace transcoder carrying the same Opus <-> PCMU
# calls in the same run, with the codec-only ceiling (docs/benchmarks.md
# "Transcoding"). Usage: run-xcode-bench.sh [calls] [seconds].
# XB_RTPENGINE=none runs Tandem alone.
set -eu
calls=${1:-40}
secs=${2:-5}
bench=${XB_BENCH:-./tests/bench/xcode-bench}
rtpe=${XB_RTPENGINE:-rtpengine}
if [ "$rtpe" = none ]; then
	exec "$bench" "$calls" "$secs"
fi
command -v "$rtpe" >/dev/null || { echo "no $rtpe (Debian: rtpengine-daemon)" >&2; exit 1; }
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# userspace only (--table=-1), its default threads, log at warning
"$rtpe" --config-file=none --table=-1 --interface=127.0.0.1 --listen-ng="127.0.0.1:$port" \
	--foreground --log-stderr --log-level=4 --port-min=30000 --port-max=39999 \
	2> "$tmp/rtpengine.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
XB_NG_PORT=$port XB_RTPE_PID=$pid "$bench" "$calls" "$secs"
