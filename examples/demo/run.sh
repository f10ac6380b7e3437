#!/bin/sh
# The README's demo of the whole path, on this machine, without Bluetooth
# hardware: a private D-Bus with the BlueZ emulator playing a compressed day
# for two patients -> varded with the first-party plugins, the example
# lung-function plugin (built against the installed SDK) and the shipped
# example rules -> a local mosquitto -> the care team's view of what
# arrives. Ends by itself after about a minute (VARDE_DEMO_SECONDS) or on
# Ctrl-C, and leaves nothing running.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${VARDE_DEMO_SECONDS:-60}
"$top/packaging/install-deps.sh"

echo "== building varde"
cmake -S "$top" -B "$top/build" >/dev/null
cmake --build "$top/build" -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/varde-demo.XXXXXX)
broker=""
cleanup() {
	[ -n "$broker" ] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== installing the SDK and building the example vendor plugin against it"
cmake --install "$top/build" --prefix "$work/prefix" >/dev/null
pc=$(dirname "$(find "$work/prefix" -name varde-plugin.pc | head -n 1)")
PKG_CONFIG_PATH=$pc cmake -S "$top/examples/peakflow" -B "$work/peakflow" >/dev/null
cmake --build "$work/peakflow" >/dev/null
mkdir -p "$work/plugins"
cp "$top"/build/plugins/*.so "$work"/peakflow/peakflow.so "$work/plugins/"
chmod 0644 "$work"/plugins/*.so

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	[ "$(id -u)" -eq 0 ] && echo "user root"
	echo "listener $port 127.0.0.1"
	echo "allow_anonymous true"
} >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker=$!

# Both example rule sets, one patient each.
/usr/bin/python3 - "$top/config" "$work/rules.json" <<'PY'
import json, sys
copd = json.load(open(sys.argv[1] + "/rules-copd.json"))
diabetes = json.load(open(sys.argv[1] + "/rules-diabetes.json"))
copd["version"] = "demo-1"
copd["patients"].update(diabetes["patients"])
json.dump(copd, open(sys.argv[2], "w"), indent=1)
PY

cat >"$work/varded.conf" <<CONF
[hub]
id = gw-demo
state_dir = $work/state
plugin_dir = $work/plugins
rules = $work/rules.json

[mqtt]
host = 127.0.0.1
port = $port
keepalive = 30

; The COPD patient's devices.
[device C4:7C:8D:6A:10:01]
name = blood pressure monitor
patient = p-4f1c9a

[device D0:5F:B8:40:50:03]
name = pulse oximeter
patient = p-4f1c9a

[device 00:1B:DC:0F:10:05]
name = thermometer
patient = p-4f1c9a

[device D0:5F:B8:30:40:05]
name = lung-function meter (example plugin)
patient = p-4f1c9a

; The diabetes patient's glucose meter, with stored records.
[device E8:1D:A8:20:30:02]
name = glucose meter
patient = p-8b22e0
CONF
"$top/build/hub/varded" --check-config "$work/varded.conf"

echo "== the day: devices on the left, the care team's screen below (Ctrl-C stops)"
/usr/bin/python3 "$top/tests/emulator/private_bus.py" --scenario "$top/examples/demo/scenario.json" \
	-- "$top/examples/demo/session.sh" "$top/build" "$work" "$port" "$seconds"
echo "== demo over: varded, the broker and the emulator are stopped"
