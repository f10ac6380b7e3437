#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a command and passes when it exits with STATUS and its standard
# error contains TEXT: expect-status.sh STATUS TEXT COMMAND [ARG]...
status=$1
text=$2
shift 2
err=$("$@" 2>&1 >/dev/null)
got=$?
printf '%s\n' "$err"
if [ "$got" -ne "$status" ]; then
	echo "expect-status: exit status $got, want $status" >&2
	exit 1
fi
case $err in
*"$text"*) exit 0 ;;
esac
echo "expect-status: standard error does not contain: $text" >&2
exit 1
