#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Start a private dbus-daemon (tests/emulator/bus.conf) and the BlueZ
emulator on it, run a command with DBUS_SYSTEM_BUS_ADDRESS pointing at it,
tear everything down and exit with the command's exit code.

  private_bus.py [--scenario FILE] [--no-emulator] [-v] -- COMMAND [ARGS...]
  private_bus.py [--scenario FILE]          # no command: print the address
                                            # (shell 'export' line) and wait
                                            # for SIGINT/SIGTERM

Also importable: PrivateBus (context manager) is used by test_emulator.py.
"""

import argparse
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


class PrivateBus:
    """A dbus-daemon on a unix socket in a fresh temp dir, plus optionally
    the emulator.  .address is the bus address."""

    def __init__(self, scenario=None, emulator=True, verbose=False, env=None):
        self.scenario = scenario
        self.want_emulator = emulator
        self.verbose = verbose
        self.env = env
        self.tmpdir = None
        self.daemon = None
        self.emulator = None
        self.address = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.tmpdir = tempfile.mkdtemp(prefix="varde-bus-")
        sock = os.path.join(self.tmpdir, "system_bus_socket")
        r, w = os.pipe()
        self.daemon = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + os.path.join(HERE, "bus.conf"),
             "--address=unix:path=" + sock, "--nofork", "--nopidfile",
             "--print-address=%d" % w],
            pass_fds=(w,), stdin=subprocess.DEVNULL,
            # hide "Failed to set fd limit" noise of an unprivileged daemon
            stderr=None if self.verbose else subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            line = f.readline().strip()
        if not line:
            self.stop()
            raise RuntimeError("dbus-daemon did not start")
        self.address = line
        if self.want_emulator:
            self.start_emulator(self.scenario)
        return self.address

    def start_emulator(self, scenario=None, timeout=10.0):
        r, w = os.pipe()
        cmd = [PYTHON, os.path.join(HERE, "bluez_emulator.py"), "--bus", self.address,
               "--ready-fd", str(w)]
        if scenario:
            cmd += ["--scenario", scenario]
        if self.verbose:
            cmd.append("-v")
        env = dict(os.environ if self.env is None else self.env)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        self.emulator = subprocess.Popen(cmd, pass_fds=(w,), env=env,
                                         stdin=subprocess.DEVNULL)
        os.close(w)
        # "ready\n" on the pipe; EOF if the emulator dies before it is ready
        ready, _, _ = select.select([r], [], [], timeout)
        data = os.read(r, 64) if ready else b""
        os.close(r)
        if not data.startswith(b"ready"):
            raise RuntimeError("BlueZ emulator failed to start")

    def stop(self):
        for p in (self.emulator, self.daemon):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.emulator = self.daemon = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def main():
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", help="scenario JSON for the emulator")
    ap.add_argument("--no-emulator", action="store_true", help="only the bus")
    ap.add_argument("-v", "--verbose", action="store_true", help="emulator log on stderr")
    a = ap.parse_args(argv)
    stop = {"sig": None}

    def on_signal(signum, frame):
        # once only: teardown must not be interrupted by a second signal
        # (e.g. timeout(1) signals both the child and its process group)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stop["sig"] is None:
            stop["sig"] = signum
            raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bus = PrivateBus(a.scenario, emulator=not a.no_emulator, verbose=a.verbose)
    rc = 0
    try:
        bus.start()
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        if cmd:
            child = subprocess.Popen(cmd, env=env)
            try:
                rc = child.wait()
            except KeyboardInterrupt:
                child.terminate()
                rc = child.wait()
        else:
            print("export DBUS_SYSTEM_BUS_ADDRESS='%s'" % bus.address, flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        bus.stop()
    if rc < 0:           # child killed by a signal: shell convention
        rc = 128 - rc
    return rc


if __name__ == "__main__":
    sys.exit(main())
