# SPDX-License-Identifier: MIT
"""Shared helpers for integration tests: a private bus with the BlueZ
emulator, the real varded with a generated config, its sd_notify socket
and its log lines as they come."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))
from private_bus import PrivateBus  # noqa: E402

VARDED = os.environ.get("VARDED", "varded")
VARDECTL = os.environ.get("VARDECTL", "vardectl")
PLUGIN_DIR = os.environ.get("VARDE_PLUGIN_DIR", "")
ECHO_PLUGIN_DIR = os.environ.get("VARDE_ECHO_PLUGIN_DIR", "")
SOURCE_DIR = os.environ.get("VARDE_SOURCE_DIR", "")
SCENARIOS = os.path.join(HERE, "..", "emulator", "scenarios")
VALGRIND = os.environ.get("VARDE_VALGRIND") == "1"


def write_config(dirname, extra="", plugin_dir=None, devices="", hub_extra=""):
    path = os.path.join(dirname, "varded.conf")
    with open(path, "w") as f:
        f.write(
            "[hub]\nid = gw-test\nstate_dir = %s\nplugin_dir = %s\nlog_level = debug\n%s%s\n%s"
            % (dirname, plugin_dir or PLUGIN_DIR, hub_extra,
               extra if "[mqtt]" in extra else "[mqtt]\nhost = localhost\nport = 1883\n" + extra,
               devices)
        )
    return path


class Varded:
    """A running varded with a notify socket of its own and its log."""

    def __init__(self, config, env=None, valgrind=False, bus=None):
        self.tmp = tempfile.mkdtemp(prefix="varded-notify-")
        self.sock_path = os.path.join(self.tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.messages = []
        self.lines = []
        self.lock = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["NOTIFY_SOCKET"] = self.sock_path
        if bus is not None:
            full_env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        cmd = [VARDED, "--config", config]
        if valgrind:
            cmd = ["valgrind", "--quiet", "--leak-check=full",
                   "--errors-for-leak-kinds=definite,indirect",
                   "--error-exitcode=99"] + cmd
        self.proc = subprocess.Popen(cmd, env=full_env, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                self.lock.notify_all()
            if os.environ.get("VARDE_TEST_VERBOSE"):
                sys.stderr.write("  varded| " + line)

    def log_text(self):
        with self.lock:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=30.0, start=0):
        """Waits for a log line matching `pattern` (a regex) at index >= start;
        returns (index, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for i in range(start, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no log line /%s/ from varded (exit %s):\n%s"
                                         % (pattern, self.proc.poll(), "\n".join(self.lines)))
                self.lock.wait(min(left, 0.2))

    def count_log(self, pattern):
        rx = re.compile(pattern)
        with self.lock:
            return sum(1 for line in self.lines if rx.search(line))

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
        raise AssertionError("no '%s' from varded (exit %s): %s\n%s"
                             % (text, self.proc.poll(), self.messages, self.log_text()))

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        self.sock.close()
        os.unlink(self.sock_path)
        os.rmdir(self.tmp)
        return self.proc.returncode, self.log_text()


def emulator(bus):
    """The emulator's control interface (dbus-python proxy)."""
    import dbus
    conn = dbus.bus.BusConnection(bus.address)
    obj = conn.get_object("org.varde.Emulator", "/org/varde/Emulator")
    return dbus.Interface(obj, "org.varde.Emulator1")


def wait_until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Broker:
    """A real mosquitto on a loopback port of its own, optionally with TLS
    (a CA, server and client certificates made here with openssl), with
    persistence so that a restart keeps sessions and queued messages."""

    def __init__(self, tls=False):
        self.dir = tempfile.mkdtemp(prefix="varde-broker-")
        self.tls = tls
        self.port = free_port()
        self.proc = None
        if tls:
            self.make_certificates()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root\n")
            f.write("persistence true\npersistence_location %s/\n" % self.dir)
            f.write("log_dest stderr\nlog_type error\nlog_type warning\n")
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % self.port)
            if tls:
                f.write("cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
                        "require_certificate true\nuse_identity_as_username true\n"
                        % (self.dir, self.dir, self.dir))
        self.conf = conf
        self.start()

    def make_certificates(self):
        def ssl(*args):
            subprocess.run(["openssl"] + list(args), cwd=self.dir, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=varde test CA", "-keyout", "ca.key", "-out", "ca.pem")
        for name, cn in (("server", "localhost"), ("client", "gw-test")):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                "-keyout", name + ".key", "-out", name + ".csr")
            ext = os.path.join(self.dir, name + ".ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if name == "server"
                        else "extendedKeyUsage=clientAuth\n")
            ssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".pem")

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self.listening, timeout=10, what="mosquitto listening")

    def listening(self):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def close(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])

    def config(self):
        text = "[mqtt]\nhost = %s\nport = %d\nkeepalive = 5\n" % (
            "localhost" if self.tls else "127.0.0.1", self.port)
        if self.tls:
            text += ("tls_ca = %s/ca.pem\ntls_cert = %s/client.pem\ntls_key = %s/client.key\n"
                     % (self.dir, self.dir, self.dir))
        return text


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Subscriber:
    """A paho client with a persistent session that keeps every message."""

    def __init__(self, broker, topic="varde/v1/#"):
        import paho.mqtt.client as mqtt
        self.messages = []
        self.lock = threading.Condition()
        self.client = mqtt.Client(client_id="test-nurse-%d" % os.getpid(), clean_session=False)
        if broker.tls:
            self.client.tls_set(ca_certs=broker.dir + "/ca.pem",
                                certfile=broker.dir + "/client.pem",
                                keyfile=broker.dir + "/client.key")
        self.client.on_message = self.on_message
        self.client.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.client.connect("localhost" if broker.tls else "127.0.0.1", broker.port, 5)
        self.client.loop_start()

    def on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(), msg.retain))
            self.lock.notify_all()

    def wait(self, suffix, count=1, timeout=60.0, predicate=None):
        """Waits for `count` messages on topics ending with `suffix`."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [p for t, p, _ in self.messages if t.endswith(suffix)
                       and (predicate is None or predicate(p))]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d/%d messages on %s: %s" % (
                        len(got), count, suffix, self.messages[-10:]))
                self.lock.wait(min(left, 0.2))

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def stop_all(test):
    """Stops what a test started, varded first, and is safe when setUp
    failed half-way (register it with addCleanup before starting anything).
    Returns varded's exit code and log, (0, "") when it was not running."""
    code, log = 0, ""
    hub = getattr(test, "hub", None)
    if hub is not None:
        code, log = hub.stop()
        test.hub = None
    for name, method in (("sub", "close"), ("bus", "stop"), ("broker", "close"),
                         ("dir", "cleanup")):
        thing = getattr(test, name, None)
        if thing is not None:
            getattr(thing, method)()
            setattr(test, name, None)
    return code, log
