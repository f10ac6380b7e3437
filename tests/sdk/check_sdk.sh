#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The SDK as a device vendor gets it: install a varde build into a private
# prefix, then build examples/peakflow out of tree against that install,
# found through pkg-config alone, and check the result:
#   - the example is copied out of the source tree first, so a path into
#     the tree (../../include) cannot make it build;
#   - no compile command may mention the source tree (the installed headers
#     must be complete), and the headers must come from the private prefix;
#   - warnings are errors, and the SDK headers are not included as system
#     headers, so the installed headers are proven warning-free;
#   - the module exports exactly varde_plugin_v1 (the -fvisibility=hidden
#     of the .pc file's Cflags works);
#   - its install rule puts it into the .pc file's plugindir;
#   - the installed varde-plugin-check replays examples/peakflow/peakflow.cap
#     and gets exactly peakflow.json.
# Then it leaves the module in BUILD/tests/sdk-plugin/peakflow.so for
# tests/integration/test_peakflow.py (ctest fixture "sdk_plugin").
#
# usage: check_sdk.sh BUILD_DIR SOURCE_DIR
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
out=$build/tests/sdk-plugin

fail() {
	echo "check_sdk: FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/varde-sdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# A module left by an earlier run must not stand in for this one.
rm -f "$out/peakflow.so"

# Nothing from the caller's environment may point the compiler or
# pkg-config somewhere else than the private prefix.
unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH CMAKE_PREFIX_PATH PKG_CONFIG_LIBDIR \
	PKG_CONFIG_SYSROOT_DIR CFLAGS LDFLAGS || true

echo "check_sdk: installing $build into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

# GNUInstallDirs puts it in lib/pkgconfig, or lib/<multiarch>/pkgconfig
# when the build was configured for /usr.
pc=$(find "$tmp/prefix" -name varde-plugin.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no varde-plugin.pc installed"
[ "$(printf '%s\n' "$pc" | wc -l)" -eq 1 ] || fail "several varde-plugin.pc: $pc"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH

# varde's .pc file is relocatable (${pcfiledir}). Should it ever name the
# prefix the build was configured with again, `cmake --install --prefix`
# would not rewrite it and it would point outside the private prefix:
# pkg-config's --define-prefix then derives the prefix from where the file
# is. Only when needed, so that a relocatable file is tested as it is.
pcargs=
case $(pkg-config --variable=includedir varde-plugin) in
"$tmp/prefix"/*) ;;
*)
	pcargs=--define-prefix
	echo "check_sdk: note: the installed varde-plugin.pc names the configure-time" \
		"prefix; using pkg-config --define-prefix"
	;;
esac
# shellcheck disable=SC2086 # $pcargs is empty or one word
includedir=$(pkg-config $pcargs --variable=includedir varde-plugin)
case $includedir in
"$tmp/prefix"/*) ;;
*) fail "varde-plugin.pc points at $includedir, not at the installed SDK" ;;
esac
for h in plugin.h ieee11073.h; do
	[ -f "$includedir/varde/$h" ] || fail "varde/$h not installed in $includedir"
done
# shellcheck disable=SC2086
plugindir=$(pkg-config $pcargs --variable=plugindir varde-plugin)
[ -n "$plugindir" ] || fail "varde-plugin.pc has no plugindir"

cp -R "$src/examples/peakflow" "$tmp/peakflow"
echo "check_sdk: building examples/peakflow with PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
cmake -S "$tmp/peakflow" -B "$tmp/build" -DPEAKFLOW_WERROR=ON \
	-DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${pcargs:+-DPKG_CONFIG_ARGN=$pcargs} \
	>"$tmp/configure.log" 2>&1 ||
	{ cat "$tmp/configure.log" >&2; fail "configuring the example failed"; }
cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "building the example failed"; }

commands=$tmp/build/compile_commands.json
if grep -F -e "$src" -e "$build" "$commands" >/dev/null; then
	cat "$commands" >&2
	fail "the example's compile command refers to the source or build tree"
fi
# The .pc file may spell the folder with ".." (a relocatable prefix):
# compare real paths.
sdk_inc=$(cd "$includedir" && pwd -P)
found=$(grep -o -e '-I[^ "]*' "$commands" | sed 's/^-I//' | while read -r dir; do
	if [ -d "$dir" ] && [ "$(cd "$dir" && pwd -P)" = "$sdk_inc" ]; then
		echo yes
	fi
done)
[ -n "$found" ] || { cat "$commands" >&2; fail "the example is not compiled with -I$sdk_inc"; }

so=$tmp/build/peakflow.so
[ -f "$so" ] || fail "no peakflow.so (a \"lib\" prefix?)"
exports=$(nm -D --defined-only "$so" | awk '{ printf "%s%s", sep, $NF; sep = " " }')
[ "$exports" = varde_plugin_v1 ] ||
	fail "peakflow.so must export exactly varde_plugin_v1, exports: $exports"

DESTDIR=$tmp/dest cmake --install "$tmp/build" >"$tmp/install-pf.log" 2>&1 ||
	{ cat "$tmp/install-pf.log" >&2; fail "installing the example failed"; }
[ -f "$tmp/dest$plugindir/peakflow.so" ] || fail "peakflow.so not installed into $plugindir"

# The loader refuses a module that is writable by group or others, whatever
# the umask of the build was.
install -m 0644 "$so" "$tmp/peakflow.so"
check=$tmp/prefix/bin/varde-plugin-check
if [ -x "$check" ]; then
	echo "check_sdk: replaying examples/peakflow/peakflow.cap"
	"$check" --expect "$src/examples/peakflow/peakflow.json" "$tmp/peakflow.so" \
		"$src/examples/peakflow/peakflow.cap" >"$tmp/replay.json" 2>"$tmp/replay.log" ||
		{ cat "$tmp/replay.log" >&2; fail "peakflow.cap does not give peakflow.json"; }
else
	echo "check_sdk: note: varde-plugin-check is not installed; capture not replayed"
fi

mkdir -p "$out"
install -m 0644 "$so" "$out/peakflow.so.tmp"
mv -f "$out/peakflow.so.tmp" "$out/peakflow.so"
echo "check_sdk: ok: $out/peakflow.so"
