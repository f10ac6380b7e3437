#!/bin/sh
# Installs the Debian 12 packages varde needs to build, test and run its
# demo. Only missing packages are installed; sudo is used when not root.
set -eu

PACKAGES="
build-essential cmake pkg-config clang libclang-rt-14-dev
libdbus-1-dev libbluetooth-dev libmosquitto-dev libjansson-dev libsqlite3-dev
libcmocka-dev
dbus mosquitto mosquitto-clients openssl valgrind
python3 python3-dbus python3-gi python3-dbusmock python3-paho-mqtt
debhelper dpkg-dev fakeroot git lintian man-db procps systemd
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "install-deps: need root or sudo to install:$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
$as_root apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing
