#!/bin/sh
# The README's demo command. Installs what is missing, builds varde, and runs
# the hub on this machine for a short while so you can watch it start, load
# its device plugins, report READY the way systemd sees it, and stop cleanly.
# (The whole path with emulated devices, a broker and a nurse's live view
# comes with the demo issue; until then this shows the hub itself.)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
"$top/packaging/install-deps.sh"
cmake -S "$top" -B "$top/build" >/dev/null
cmake --build "$top/build" -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/varde-demo.XXXXXX)
cleanup() {
	[ -n "${hub:-}" ] && kill "$hub" 2>/dev/null && wait "$hub" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/varded.conf" <<CONF
[hub]
id = gw-demo
state_dir = $work
plugin_dir = $top/build/plugins

[mqtt]
host = localhost
port = 1883

[device C0:26:DA:01:02:03]
name = blood pressure monitor
patient = p-4f1c9a
CONF

echo "== varded --check-config"
"$top/build/hub/varded" --check-config "$work/varded.conf"
echo "== starting varded (Ctrl-C to stop early)"
"$top/build/hub/varded" --config "$work/varded.conf" &
hub=$!
sleep "${VARDE_DEMO_SECONDS:-5}"
echo "== SIGTERM"
kill -TERM "$hub"
wait "$hub" && echo "== varded stopped cleanly"
hub=""
