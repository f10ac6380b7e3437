#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/run.sh [--ci] [--build DIR] [N]
#
# Measures, in one run on this machine, varded's pipeline against a bare
# libmosquitto publisher of the same messages to the same broker, and prints
# the table of DESIGN.md section 14 (see bench/README.md for each figure).
# N readings in the burst (default 100000). Writes bench/RESULTS.md, except
# with --ci: N 2000, short idle and latency phases, no profile, the table
# only on stdout (well under a minute). Timing is reported, never asserted.
#
# Build directory: --build DIR, else $VARDE_BUILD_DIR, else build/
# (configured here if it is not yet). Needs mosquitto, valgrind for the
# profile, /usr/bin/python3 with python3-dbus for the start-up figures.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VARDE_BUILD_DIR:-$ROOT/build}
CI=0
N=
while [ $# -gt 0 ]; do
	case $1 in
	--ci) CI=1 ;;
	--build)
		BUILD=$2
		shift
		;;
	-h | --help)
		sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) N=$1 ;;
	esac
	shift
done
if [ "$CI" = 1 ]; then
	N=${N:-2000} PACED=20 READY_RUNS=3 IDLE_S=2
else
	N=${N:-100000} PACED=300 READY_RUNS=10 IDLE_S=10
fi
PROFILE_N=4000 PERF_N=20000
PY=/usr/bin/python3

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target varded plxs bare_publisher pipeline_bench >/dev/null

W=$(mktemp -d /tmp/varde-bench.XXXXXX)
BROKER_PID=
cleanup() {
	if [ -n "$BROKER_PID" ]; then
		kill "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

log() {
	echo "bench: $*" >&2
}

# The value of KEY in a file of "key value" lines.
val() {
	awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"
}

# ---- the broker: loopback, no persistence, the same for both runs --------

PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	[ "$(id -u)" = 0 ] && echo "user root"
	echo "persistence false"
	echo "log_dest none"
	echo "listener $PORT 127.0.0.1"
	echo "allow_anonymous true"
} >"$W/mosquitto.conf"
mosquitto -c "$W/mosquitto.conf" 2>/dev/null &
BROKER_PID=$!
$PY - "$PORT" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("bench: mosquitto does not listen")
EOF

# One configuration for the pipeline and for varded: the shipped COPD rule
# set, one pulse oximeter bound to its patient, log level as shipped.
config() { # STATE_DIR
	cat <<EOF
[hub]
id = gw-bench
state_dir = $1
plugin_dir = $BUILD/plugins
rules = $ROOT/config/rules-copd.json
log_level = info

[mqtt]
host = 127.0.0.1
port = $PORT
keepalive = 60

[device C0:26:DA:00:00:01]
name = bench oximeter
patient = p-4f1c9a
EOF
}
config "$W/state-pipeline" >"$W/pipeline.conf"
config "$W/state-dump" >"$W/dump.conf"
config "$W/state-varded" >"$W/varded.conf"
config "$W/state-profile" >"$W/profile.conf"
PLUGIN=$BUILD/plugins/plxs.so

# ---- (a) the limit ----------------------------------------------------------

log "generating $N observations with the hub's own plugin, ingest and FHIR code"
"$BUILD/bench/pipeline_bench" --config "$W/dump.conf" --plugin "$PLUGIN" --count "$N" \
	--dump "$W/payloads.txt" 2>"$W/dump.log"
PAYLOAD_BYTES=$(awk -F'\t' '{ n += length($2) } END { printf "%.0f", n / NR }' "$W/payloads.txt")

log "bare publisher: $N messages, QoS 1"
"$BUILD/bench/bare_publisher" --port "$PORT" --payloads "$W/payloads.txt" >"$W/bare.txt"

# ---- (b) the pipeline ---------------------------------------------------------

log "pipeline: burst of $N readings, then $PACED indications at 10/s"
"$BUILD/bench/pipeline_bench" --config "$W/pipeline.conf" --plugin "$PLUGIN" --count "$N" \
	--paced "$PACED" >"$W/pipeline.txt" 2>"$W/pipeline.log"

log "varded: start to READY=1 ($READY_RUNS runs), then idle for $IDLE_S s"
$PY "$ROOT/bench/ready.py" --varded "$BUILD/hub/varded" --config "$W/varded.conf" \
	--runs "$READY_RUNS" --idle "$IDLE_S" >"$W/ready.txt"

# ---- the table ------------------------------------------------------------------

B=$W/bare.txt P=$W/pipeline.txt R=$W/ready.txt
verdict() { # VALUE OP LIMIT
	awk -v v="$1" -v l="$3" -v op="$2" \
		'BEGIN { ok = op == ">=" ? v >= l : v <= l; print ok ? "met" : "MISSED" }'
}
mib() {
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}
LIMIT_RATE=$(val "$B" messages_per_s)
LIMIT_CPU=$(val "$B" cpu_us_per_message)
RATE=$(val "$P" readings_per_s)
CPU=$(val "$P" cpu_us_per_reading)
RATIO=$(awk -v a="$RATE" -v b="$LIMIT_RATE" 'BEGIN { printf "%.2f", a / b }')
CPU_RATIO=$(awk -v a="$CPU" -v b="$LIMIT_CPU" 'BEGIN { printf "%.1f", a / b }')
PEAK=$(val "$P" rss_peak_kib)
IDLE_RSS=$(val "$R" idle_rss_kib)
WAKEUPS=$(val "$R" idle_wakeups_per_s)
READY=$(val "$R" ready_median_ms)

V_RATE=$(verdict "$RATIO" ">=" 0.8)
V_CPU=$(verdict "$CPU_RATIO" "<=" 2)
V_PEAK=$(verdict "$PEAK" "<=" 8192)
V_IDLE=$(verdict "$IDLE_RSS" "<=" 4096)
V_WAKE=$(verdict "$WAKEUPS" "<=" 0.1)
V_READY=$(verdict "$READY" "<=" 50)

table() {
	cat <<EOF
| figure | limit: bare publisher | varded | target (DESIGN.md 14) | |
|---|---|---|---|---|
| throughput, $N messages | $LIMIT_RATE msg/s | $RATE readings/s (${RATIO}x) | >= 0.8x the limit | $V_RATE |
| CPU per message / reading | $LIMIT_CPU us (user $(val "$B" cpu_user_us_per_message), sys $(val "$B" cpu_sys_us_per_message)) | $CPU us (user $(val "$P" cpu_user_us_per_reading), sys $(val "$P" cpu_sys_us_per_reading)) (${CPU_RATIO}x) | <= 2x the limit | $V_CPU |
| peak RSS, burst of $N | | $(mib "$PEAK") MiB (before the burst $(mib "$(val "$P" rss_before_kib)"), anonymous at the end $(mib "$(val "$P" rss_anon_end_kib)"); at each tenth of the burst: $(val "$P" rss_during_kib) KiB) | <= 8 MiB | $V_PEAK |
| latency indication -> PUBACK at 10/s | | p50 $(val "$P" latency_p50_ms) ms, p99 $(val "$P" latency_p99_ms) ms ($(val "$P" latency_samples) samples, max $(val "$P" latency_max_ms) ms) | | |
| idle RSS (varded) | | $(mib "$IDLE_RSS") MiB (anonymous $(mib "$(val "$R" idle_rss_anon_kib)"), file $(mib "$(val "$R" idle_rss_file_kib)")) | <= 4 MiB | $V_IDLE |
| idle wake-ups (varded, $IDLE_S s) | | $WAKEUPS /s | <= 0.1 /s | $V_WAKE |
| start -> READY=1 (varded) | | median $READY ms of $(val "$R" ready_runs) (min $(val "$R" ready_min_ms), max $(val "$R" ready_max_ms)) | <= 50 ms | $V_READY |

Messages: FHIR Observations of the plxs plugin (SpO2, pulse rate), $PAYLOAD_BYTES
bytes on average, QoS 1 to P/H/observation, at most 64 unacknowledged.
Pipeline check: $(val "$P" accepted) readings accepted, $(val "$P" duplicates) duplicates,
$(val "$P" rejected) rejected, $(val "$P" alerts) alert/event messages, at most
$(val "$P" backlog_max) readings waiting for a PUBACK.
EOF
}

echo
table

[ "$CI" = 1 ] && exit 0

# ---- profile (full run): where the pipeline's time goes -------------------------

log "profile: callgrind over a burst of $PROFILE_N readings"
valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.out" \
	"$BUILD/bench/pipeline_bench" --config "$W/profile.conf" --plugin "$PLUGIN" \
	--count "$PROFILE_N" >/dev/null 2>&1
# Below the injection point (device_value_changed, host_submit, sink_submit
# are the path to ingest), one line per function, with instructions per
# reading.
CALLGRIND=$(callgrind_annotate --inclusive=yes "$W/callgrind.out" 2>/dev/null |
	grep -E '(hub|plugins)/[a-z_0-9]+\.c:|json_dumps|json_pack|json_delete|sqlite3_step|mosquitto_publish|mosquitto_loop_read' |
	grep -vE 'loop_run|loop_iterate|run_burst|:main |device_value_changed|host_submit|sink_submit' |
	sed -e 's# *\[[^]]*\]$##' -e "s#$ROOT/##" | awk -v n="$PROFILE_N" '
		!seen[$NF]++ {
			ir = $1; gsub(",", "", ir)
			pct = $0; sub(/^[^(]*\(/, "", pct); sub(/\).*/, "", pct)
			printf "%7.1fk instr/reading %6s  %s\n", ir / n / 1000, pct, $NF
		}' | head -25)

log "profile: system calls over a burst of $PROFILE_N readings"
rm -rf "$W/state-profile"
if command -v strace >/dev/null; then
	strace -c -o "$W/strace.txt" "$BUILD/bench/pipeline_bench" --config "$W/profile.conf" \
		--plugin "$PLUGIN" --count "$PROFILE_N" >/dev/null 2>&1
	SYSCALLS=$(sed -n '1,14p' "$W/strace.txt")
else
	SYSCALLS="(strace is not installed)"
fi

PERF="(perf cannot sample here)"
rm -rf "$W/state-profile"
if perf record -e cpu-clock -o "$W/perf.data" -- "$BUILD/bench/pipeline_bench" \
	--config "$W/profile.conf" --plugin "$PLUGIN" --count "$PERF_N" >/dev/null 2>&1; then
	PERF=$(perf report -i "$W/perf.data" --stdio --sort dso 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -10)
fi

# ---- RESULTS.md: figures replaced, the analysis below the marker kept --------------

MARK='<!-- Analysis: written by hand below this line; bench/run.sh keeps it. -->'
OUT=$ROOT/bench/RESULTS.md
ANALYSIS=
if [ -f "$OUT" ] && grep -qF "$MARK" "$OUT"; then
	ANALYSIS=$(awk -v m="$MARK" 'found { print } $0 == m { found = 1 }' "$OUT")
fi
CC_PATH=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
{
	cat <<EOF
# varde benchmark results

Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d) (N = $N). What each figure
means and how it is measured: bench/README.md.

## Machine

| | |
|---|---|
| CPU | $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) |
| cores | $(nproc) |
| kernel | $(uname -sr) |
| Debian | $(cat /etc/debian_version) |
| compiler | $("$CC_PATH" --version | head -1), $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt") |
| libmosquitto | $(pkg-config --modversion libmosquitto) (broker: $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p')) |
| SQLite | $(pkg-config --modversion sqlite3) |
| Jansson | $(pkg-config --modversion jansson) |
| store file system | $(df -T "$W" | awk 'NR == 2 { print $2 " on " $1 }') |

## Figures

EOF
	table
	cat <<EOF

## Profile

callgrind, burst of $PROFILE_N readings: inclusive instructions per reading,
share of the whole run (user space only; under valgrind the loop batches
differ from a native run):

\`\`\`
$CALLGRIND
\`\`\`

System calls, burst of $PROFILE_N readings (strace -c):

\`\`\`
$SYSCALLS
\`\`\`

CPU time by object, burst of $PERF_N readings (perf, cpu-clock samples; no
hardware counters in this machine):

\`\`\`
$PERF
\`\`\`

$MARK
EOF
	[ -n "$ANALYSIS" ] && printf '%s\n' "$ANALYSIS"
} >"$OUT"
log "wrote $OUT"
