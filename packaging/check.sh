#!/bin/sh
# The packaging check CI runs (packaging/README.md): builds the Debian
# packages from a copy of the tree, runs lintian, verifies the systemd unit,
# applies sysusers.d and tmpfiles.d to the unpacked package, tests the D-Bus
# policy on a real dbus-daemon, and checks the packages' contents.
# Installs what it needs (packaging/install-deps.sh); sudo when not root.
# Prints a summary; exits non-zero when any step fails.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
"$src/packaging/install-deps.sh"

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
else
	as_root="sudo"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/varde-packaging.XXXXXX")
# The unpacked package gets root-owned files (step sysusers/tmpfiles).
trap 'rm -rf "$work" 2>/dev/null || $as_root rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
summary=""
failed=0

# pass|fail STEP [DETAIL]
pass() { summary="$summary  PASS  $1${2:+ ($2)}\n"; }
fail() {
	summary="$summary  FAIL  $1${2:+ ($2)}\n"
	failed=1
}
section() { printf '\n=== %s\n' "$1"; }

# The tree as git sees it: tracked files that exist, plus untracked files
# that are not ignored (so that a local run checks work in progress; in CI
# that is exactly the commit). Build artefacts never get in.
section "copy of the tree"
mkdir "$work/src"
# shellcheck disable=SC2016 # $f is the inner sh's
git -C "$src" ls-files -z --cached --others --exclude-standard |
	(cd "$src" && xargs -0 sh -c 'for f; do [ -f "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh) |
	(cd "$src" && tar --null -T - -cf -) | tar -C "$work/src" -xf -
echo "$work/src"

section "dpkg-buildpackage -us -uc -b"
start=$(date +%s)
if (cd "$work/src" &&
	DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage" "$(($(date +%s) - start)) s"
	ls "$work"/*.deb
else
	tail -n 40 "$work/build.log"
	fail "dpkg-buildpackage" "log above"
	printf '\nSummary:\n%b' "$summary"
	exit 1
fi
deb=$(ls "$work"/varde_*_*.deb)
devdeb=$(ls "$work"/varde-dev_*_all.deb)

# Errors and warnings fail (each accepted one is overridden, with its
# reason, in debian/*.lintian-overrides); info tags are shown only.
section "lintian"
if lintian -I --fail-on error,warning --tag-display-limit 0 "$work"/varde_*.changes; then
	pass "lintian" "no error or warning that is not overridden"
else
	fail "lintian"
fi

section "package contents (dpkg -c)"
missing=""
for path in \
	./usr/sbin/varded ./usr/bin/vardectl ./usr/bin/varde-plugin-check \
	./usr/lib/varde/plugins/bls.so ./usr/lib/varde/plugins/gls.so \
	./usr/lib/varde/plugins/hts.so ./usr/lib/varde/plugins/plxs.so \
	./usr/lib/varde/plugins/wss.so \
	./etc/varde/varded.conf ./usr/share/varde/rules-copd.json \
	./lib/systemd/system/varded.service ./usr/lib/sysusers.d/varde.conf \
	./usr/lib/tmpfiles.d/varde.conf ./usr/share/dbus-1/system.d/org.varde.Hub.conf \
	./usr/share/man/man8/varded.8.gz ./usr/share/man/man1/vardectl.1.gz \
	./usr/share/man/man5/varde.conf.5.gz; do
	dpkg -c "$deb" | awk '{print $6}' | grep -qx "$path" || missing="$missing $path"
done
for path in ./usr/include/varde/plugin.h ./usr/include/varde/ieee11073.h \
	./usr/share/pkgconfig/varde-plugin.pc; do
	dpkg -c "$devdeb" | awk '{print $6}' | grep -qx "$path" || missing="$missing $path"
done
dpkg-deb -f "$deb" Depends
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
[ "$conffiles" = "/etc/varde/varded.conf" ] || missing="$missing conffile(/etc/varde/varded.conf)"
if [ -z "$missing" ]; then
	pass "contents" "every expected path, varded.conf a conffile"
else
	echo "missing:$missing"
	fail "contents" "missing:$missing"
fi

root="$work/root"
dpkg -x "$deb" "$root"

# /usr/sbin/varded is not installed here, and --root= would also need
# systemd's own units inside the root: verify a copy of the packaged unit
# whose ExecStart points at the unpacked binary (every other line as
# shipped), with MANPATH at the package's man pages so that Documentation=
# is checked too. Works without systemd as PID 1. Any output is a failure.
section "systemd-analyze verify"
mkdir "$work/unit"
sed "s|^ExecStart=/usr/sbin/varded |ExecStart=$root/usr/sbin/varded |" \
	"$root/lib/systemd/system/varded.service" >"$work/unit/varded.service"
if out=$(MANPATH="$root/usr/share/man" systemd-analyze verify "$work/unit/varded.service" 2>&1) &&
	[ -z "$out" ]; then
	pass "systemd-analyze verify" "no warnings"
else
	printf '%s\n' "$out"
	fail "systemd-analyze verify"
fi
# The sandbox's exposure score (0 best, 10 worst): fails above 2.0.
exposure=$(systemd-analyze security --offline=true --threshold=20 \
	"$work/unit/varded.service" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$exposure" | grep -v '^✓'
level=$(printf '%s\n' "$exposure" | sed -n 's/.*Overall exposure level for [^:]*: //p')
if [ "$rc" -eq 0 ]; then pass "systemd-analyze security" "$level"; else fail "systemd-analyze security" "$level, over 2.0"; fi

# What postinst does, done in the unpacked root: the user and group varde,
# then /etc/varde 0750 root:varde and varded.conf 0640 root:varde.
section "sysusers.d and tmpfiles.d (in the unpacked package)"
if $as_root systemd-sysusers --root="$root" varde.conf &&
	$as_root systemd-tmpfiles --root="$root" --create varde.conf; then
	gid=$(awk -F: '$1 == "varde" {print $3}' "$root/etc/group")
	user=$(awk -F: '$1 == "varde" {print $6 ":" $7}' "$root/etc/passwd")
	modes=$(stat -c '%a:%u:%g' "$root/etc/varde" "$root/etc/varde/varded.conf" | tr '\n' ' ')
	echo "varde: gid $gid, home:shell $user; /etc/varde and varded.conf: $modes"
	if [ -n "$gid" ] && [ "$user" = "/var/lib/varde:/usr/sbin/nologin" ] &&
		[ "$modes" = "750:0:$gid 640:0:$gid " ]; then
		pass "sysusers.d + tmpfiles.d"
	else
		fail "sysusers.d + tmpfiles.d" "unexpected user or modes"
	fi
else
	fail "sysusers.d + tmpfiles.d" "systemd-sysusers or systemd-tmpfiles failed"
fi

section "D-Bus policy"
policy="$root/usr/share/dbus-1/system.d/org.varde.Hub.conf"
if python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$policy" &&
	$as_root "$src/packaging/check-dbus-policy.py" "$policy" 2>"$work/dbus.log"; then
	pass "D-Bus policy" "well-formed; every allow and deny holds on dbus-daemon"
else
	cat "$work/dbus.log"
	fail "D-Bus policy"
fi

printf '\nSummary (%s s):\n%b' "$(($(date +%s) - start))" "$summary"
if [ "$failed" -ne 0 ]; then
	echo "packaging check: FAILED"
	exit 1
fi
echo "packaging check: passed"
