# SPDX-License-Identifier: MIT
"""Shared helpers for integration tests: start the real varded with a
generated config, listen on its sd_notify socket, stop it."""
import os
import signal
import socket
import subprocess
import tempfile
import time

VARDED = os.environ.get("VARDED", "varded")
PLUGIN_DIR = os.environ.get("VARDE_PLUGIN_DIR", "")
SOURCE_DIR = os.environ.get("VARDE_SOURCE_DIR", "")
VALGRIND = os.environ.get("VARDE_VALGRIND") == "1"


def write_config(dirname, extra="", plugin_dir=None):
    path = os.path.join(dirname, "varded.conf")
    with open(path, "w") as f:
        f.write(
            "[hub]\nid = gw-test\nstate_dir = %s\nplugin_dir = %s\n"
            "[mqtt]\nhost = localhost\nport = 1883\n%s"
            % (dirname, plugin_dir or PLUGIN_DIR, extra)
        )
    return path


class Varded:
    """A running varded with a notify socket of its own."""

    def __init__(self, config, env=None, valgrind=False):
        self.tmp = tempfile.mkdtemp(prefix="varded-notify-")
        self.sock_path = os.path.join(self.tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.messages = []
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["NOTIFY_SOCKET"] = self.sock_path
        cmd = [VARDED, "--config", config]
        if valgrind:
            cmd = ["valgrind", "--quiet", "--leak-check=full",
                   "--errors-for-leak-kinds=definite,indirect",
                   "--error-exitcode=99"] + cmd
        self.proc = subprocess.Popen(cmd, env=full_env, stderr=subprocess.PIPE, text=True)

    def wait_for(self, text, timeout=10.0):
        """Waits for a notify datagram containing `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages:
                if text in m:
                    self.messages.remove(m)
                    return m
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            if self.proc.poll() is not None and not self.messages:
                break
        raise AssertionError("no '%s' from varded (exit %s): %s"
                             % (text, self.proc.poll(), self.messages))

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.sock.close()
        os.unlink(self.sock_path)
        os.rmdir(self.tmp)
        return self.proc.returncode, err
