#!/bin/sh
# Runs inside the private bus (DBUS_SYSTEM_BUS_ADDRESS set by private_bus.py):
# varded, the nurse's view and the day's measurements; stops them all.
# Arguments: BUILD WORK PORT SECONDS
set -u
build=$1 work=$2 port=$3 seconds=$4
here=$(cd "$(dirname "$0")" && pwd)
pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap 'stop; exit 130' INT TERM

TZ=${TZ:-Europe/Oslo} "$build/hub/varded" --config "$work/varded.conf" 2>"$work/varded.log" &
pids="$pids $!"
/usr/bin/python3 "$here/nurse_view.py" 127.0.0.1 "$port" &
pids="$pids $!"
# Give varded a moment to connect the devices that are already awake.
sleep 2
TZ=${TZ:-Europe/Oslo} /usr/bin/python3 "$here/day.py" "$(( seconds / 16 ))" &
day=$!
pids="$pids $day"
wait "$day"
sleep 3
echo
echo "== vardectl devices (what an installer sees)"
"$build/hub/vardectl" devices
echo "== vardectl rules"
"$build/hub/vardectl" rules
stop
