#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""varded as a process: --check-config, READY/WATCHDOG/RELOADING/STOPPING
through sd_notify, SIGHUP reload that refuses a broken file, clean SIGTERM
exit (and no leaks under valgrind when VARDE_VALGRIND=1)."""
import os
import signal
import subprocess
import tempfile
import unittest

from varded_harness import VARDED, SOURCE_DIR, VALGRIND, PrivateBus, Varded, write_config


def check_config(path):
    return subprocess.run([VARDED, "--check-config", path], capture_output=True, text=True)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text):
        path = os.path.join(self.dir.name, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_example_config_is_valid(self):
        r = check_config(os.path.join(SOURCE_DIR, "config", "varded.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid", r.stdout)

    def test_errors_name_file_and_line(self):
        base = "[hub]\nid = g\n[mqtt]\nhost = localhost\n"
        cases = [
            (base + "colour = blue\n", ":5: unknown key 'colour' in [mqtt]; allowed: host"),
            (base + "port = 70000\n", ":5: port: '70000' is not a whole number in 1..65535"),
            (base + "[device C0:26:DA:01:02]\npatient = p\n", ":5: [device C0:26:DA:01:02]: "
             "not a Bluetooth address"),
        ]
        for text, message in cases:
            path = self.write(text)
            r = check_config(path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(path + message, r.stderr)

    def test_usage(self):
        r = subprocess.run([VARDED, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^varded \d+\.\d+\.\d+ \(plugin ABI 1\.0\)")
        r = subprocess.run([VARDED, "--help"], capture_output=True, text=True)
        self.assertIn("--check-config", r.stdout)
        r = subprocess.run([VARDED, "--bogus"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        r = subprocess.run([VARDED, "--help-config"], capture_output=True, text=True)
        self.assertIn("allow_plaintext", r.stdout)


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.config = write_config(self.dir.name)
        self.bus = PrivateBus(emulator=True)
        self.bus.start()

    def tearDown(self):
        self.bus.stop()
        self.dir.cleanup()

    def test_ready_watchdog_reload_stop(self):
        hub = Varded(self.config, env={"WATCHDOG_USEC": "200000"}, valgrind=VALGRIND,
                     bus=self.bus)
        try:
            ready = hub.wait_for("READY=1", timeout=30)
            self.assertIn("STATUS=hub gw-test running", ready)
            hub.wait_for("WATCHDOG=1", timeout=10)

            hub.signal(signal.SIGHUP)
            hub.wait_for("RELOADING=1")
            hub.wait_for("READY=1")

            with open(self.config, "a") as f:
                f.write("nonsense = 1\n")
            hub.signal(signal.SIGHUP)
            hub.wait_for("RELOADING=1")
            hub.wait_for("READY=1")
            self.assertIsNone(hub.proc.poll(), "a bad reload must not stop the hub")

            hub.signal(signal.SIGTERM)
            hub.wait_for("STOPPING=1", timeout=30)
        finally:
            code, err = hub.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("not reloaded, the running configuration stays in force", err)
        self.assertIn("configuration reloaded", err)
        self.assertIn("stopping", err)

    def test_missing_plugin_dir_is_loud_but_not_fatal(self):
        config = write_config(self.dir.name, plugin_dir="/nonexistent/plugins")
        hub = Varded(config, bus=self.bus)
        try:
            hub.wait_for("READY=1", timeout=30)
        finally:
            code, err = hub.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("plugin folder /nonexistent/plugins", err)
        self.assertIn("no device plugin is active", err)

    def test_no_system_bus_is_a_clear_failure(self):
        hub = Varded(self.config, env={"DBUS_SYSTEM_BUS_ADDRESS":
                                       "unix:path=/nonexistent/bus_socket"})
        hub.proc.wait(timeout=30)
        code, err = hub.stop()
        self.assertNotEqual(code, 0)
        self.assertIn("cannot connect to the system bus", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
