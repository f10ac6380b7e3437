#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Start-up and idle figures of the real varded (part of bench/run.sh).

  ready.py --varded PATH --config FILE [--runs N] [--idle SECONDS]

Starts a private dbus-daemon with the BlueZ emulator on it (no device)
(tests/emulator/private_bus.py), then starts varded --config FILE N times
with NOTIFY_SOCKET pointing at a datagram socket of this script, and
measures the time from just before the fork to the arrival of READY=1.
After the last start it leaves varded idle (connected to the broker of the
config, no device) for SECONDS and reads /proc/PID/status before and after:
context switches of its only thread (every wake-up of an idle
single-threaded process is one) and VmRSS, split into anonymous memory
(heap, stacks) and file pages (mostly shared libraries). Prints "key value" lines.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "emulator"))
from private_bus import PrivateBus  # noqa: E402

SETTLE_S = 2.0  # after READY: the broker connection and first status


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
    return fields


def start(varded, config, env, sock):
    t0 = time.monotonic()
    proc = subprocess.Popen([varded, "--config", config], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.settimeout(10)
    while True:
        msg = sock.recv(4096).decode()
        if "READY=1" in msg.split("\n"):
            return proc, (time.monotonic() - t0) * 1000


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--varded", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--idle", type=float, default=10.0)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="varde-bench-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        with PrivateBus() as bus:
            env = dict(os.environ, NOTIFY_SOCKET=path, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
            times = []
            for i in range(args.runs):
                proc, ms = start(args.varded, args.config, env, sock)
                times.append(ms)
                if i < args.runs - 1:
                    stop(proc)
            time.sleep(SETTLE_S)
            before = proc_status(proc.pid)
            time.sleep(args.idle)
            after = proc_status(proc.pid)
            stop(proc)
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)

    def switches(s):
        return int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])

    print("ready_runs %d" % len(times))
    print("ready_median_ms %.1f" % statistics.median(times))
    print("ready_min_ms %.1f" % min(times))
    print("ready_max_ms %.1f" % max(times))
    print("idle_seconds %.0f" % args.idle)
    print("idle_threads %s" % after["Threads"])
    print("idle_wakeups_per_s %.2f" % ((switches(after) - switches(before)) / args.idle))
    print("idle_rss_kib %s" % after["VmRSS"])
    print("idle_rss_anon_kib %s" % after["RssAnon"])
    print("idle_rss_file_kib %s" % after["RssFile"])


if __name__ == "__main__":
    main()
