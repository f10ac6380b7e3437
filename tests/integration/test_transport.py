#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Bluetooth transport end to end: a private bus, the BlueZ emulator,
the real varded with the echo test plugin (it logs every value it gets).

Allow-listed device read; a device not listed never touched; disconnect and
reconnect; bluetoothd restart; a reading sent the moment indications are
enabled; passkey pairing through vardectl; the device clock set."""
import os
import subprocess
import tempfile
import unittest

from varded_harness import (ECHO_PLUGIN_DIR, SCENARIOS, VARDECTL, PrivateBus, Varded, emulator,
                            wait_until, write_config, stop_all)

BPM = "C4:7C:8D:6A:10:01"
OXI = "D0:5F:B8:40:50:03"
STRANGER = "F1:22:33:44:55:66"
BPM_READING = "1e8a00580078000000041114293b3c00012700"


def device_section(address, patient="p-4f1c9a"):
    return "[device %s]\npatient = %s\n" % (address, patient)


class Transport(unittest.TestCase):
    scenario = "blood_pressure.json"
    devices = device_section(BPM)

    def setUp(self):
        self.addCleanup(self.cleanup)
        self.dir = tempfile.TemporaryDirectory()
        self.bus = PrivateBus(os.path.join(SCENARIOS, self.scenario))
        self.bus.start()
        self.emu = emulator(self.bus)
        config = write_config(self.dir.name, plugin_dir=ECHO_PLUGIN_DIR, devices=self.devices)
        self.hub = Varded(config, bus=self.bus)
        self.hub.wait_for("READY=1", timeout=30)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def echo(self, uuid="2a35", start=0, timeout=15):
        return self.hub.wait_log(r"plugin echo: %s: echo %s (\w+)" % (BPM, uuid.upper()),
                                 timeout=timeout, start=start)


class AllowListedDevice(Transport):
    def test_reading_sent_right_after_indications_enabled_arrives(self):
        # The scenario's monitor sends its stored reading the moment the
        # CCC is written: the first bytes after subscription.
        _, m = self.echo()
        self.assertEqual(m.group(1), BPM_READING)
        self.assertEqual(self.hub.count_log(r"echo 2A35 " + BPM_READING), 1)

    def test_live_notification_and_reconnect(self):
        i, _ = self.echo()
        self.emu.Notify(BPM, "2A35", bytes.fromhex("1e780050006000"))
        i, m = self.echo(start=i + 1)
        self.assertEqual(m.group(1), "1e780050006000")

        # The device drops the link (measurement devices do after sending):
        # the driver is removed, the hub reconnects, the driver is back.
        self.emu.RemoteDisconnect(BPM)
        i, _ = self.hub.wait_log(r"device %s disconnected" % BPM, start=i)
        i, _ = self.hub.wait_log(r"plugin echo: %s: echo removed" % BPM, start=0)
        i, _ = self.hub.wait_log(r"device %s \(BPM-7000\) connected" % BPM, start=i)
        i, _ = self.hub.wait_log(r"echo bound", start=i)
        wait_until(lambda: self.emu.Notify(BPM, "2A35", bytes.fromhex("1e7f0051006100")) > 0,
                   what="notify session active again")
        _, m = self.echo(start=i)
        self.assertIn(m.group(1), ("1e7f0051006100", BPM_READING))
        self.hub.wait_log(r"echo 2A35 1e7f0051006100", start=i)

    def test_bluetoothd_restart(self):
        i, _ = self.echo()
        self.emu.Restart(300)
        i, _ = self.hub.wait_log(r"bluetoothd left the bus", start=i)
        i, _ = self.hub.wait_log(r"bluetoothd is on the bus", start=i)
        # After a restart every session is gone: the hub connects and
        # subscribes again, and new readings reach the driver.
        i, _ = self.hub.wait_log(r"echo bound", start=i)
        wait_until(lambda: self.emu.Notify(BPM, "2A35", bytes.fromhex("1e7f0051006100")) > 0,
                   what="notify session after the restart")
        self.hub.wait_log(r"echo 2A35 1e7f0051006100", start=i)
        # The agent registered itself with the new bluetoothd.
        wait_until(lambda: any(path == "/org/varde/agent" for _, path, _ in self.emu.GetAgents()),
                   what="agent registered again")

    def test_device_clock_is_set(self):
        # The scenario's clock says 2024-03-15 12:30: far off. Its write
        # answers ATT 0x80 'value ignored', which counts as success.
        self.hub.wait_log(r"device %s: clock is [+-]\d+ s off" % BPM)
        self.hub.wait_log(r"device %s: clock set" % BPM)
        writes = [(str(u), bytes(v)) for u, v in self.emu.GetWrites(BPM)]
        clock = [v for u, v in writes if u.startswith("00002a2b")]
        self.assertEqual(len(clock), 1, writes)
        self.assertEqual(len(clock[0]), 10)
        year = clock[0][0] | clock[0][1] << 8
        self.assertGreaterEqual(year, 2025)
        self.assertEqual(clock[0][9], 0x02)  # adjust reason: external reference


class StrangerIgnored(Transport):
    scenario = "pulse_oximeter.json"
    devices = device_section(OXI)

    def test_device_not_listed_is_never_read(self):
        self.hub.wait_log(r"plugin echo: %s: echo bound" % OXI)
        self.hub.wait_log(r"device %s is not in the configuration: ignored" % STRANGER)
        self.assertEqual(self.emu.Notify(STRANGER, "2A37", bytes.fromhex("0048")), 0)
        state = self.emu.GetDeviceState(STRANGER)
        self.assertFalse(bool(state["connected"]))
        self.assertEqual(list(self.emu.GetWrites(STRANGER)), [])
        self.assertEqual(list(self.emu.GetNotifySessions(STRANGER, "2A37")), [])
        self.assertEqual(self.hub.count_log(STRANGER + r": echo"), 0)


class Pairing(Transport):
    scenario = "blood_pressure_unpaired.json"

    def setUp(self):
        super().setUp()
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)

    def vardectl(self, *args):
        return subprocess.run([VARDECTL] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=30)

    def test_passkey_pairing_through_vardectl(self):
        self.echo()
        state = self.emu.GetDeviceState(BPM)
        self.assertFalse(bool(state["paired"]))
        r = self.vardectl("pair", BPM, "246810")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.hub.wait_log(r"device %s: paired" % BPM)
        wait_until(lambda: bool(self.emu.GetDeviceState(BPM)["paired"]), what="paired")

    def test_bluetoothd_asks_first_and_the_request_is_held(self):
        # Pairing started elsewhere (as on a security upgrade): bluetoothd
        # asks the agent, the hub reports "pairing needed" and holds the
        # request until the installer gives the passkey.
        self.echo()
        pair = subprocess.Popen(
            ["dbus-send", "--bus=" + self.bus.address, "--print-reply",
             "--reply-timeout=60000", "--dest=org.bluez", "/org/bluez/hci0/dev_C4_7C_8D_6A_10_01",
             "org.bluez.Device1.Pair"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.hub.wait_log(r"device %s asks for a passkey: pairing needed" % BPM)
            r = self.vardectl("pair", BPM, "246810")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, err = pair.communicate(timeout=30)
        finally:
            if pair.poll() is None:
                pair.kill()
        self.assertEqual(pair.returncode, 0, err)
        self.hub.wait_log(r"device %s: passkey from the installer" % BPM)
        self.assertTrue(bool(self.emu.GetDeviceState(BPM)["paired"]))

    def test_wrong_passkey_fails_loudly(self):
        self.echo()
        r = self.vardectl("pair", BPM, "111111")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.hub.wait_log(r"device %s: pairing failed: org.bluez.Error.AuthenticationFailed"
                          % BPM)
        self.assertFalse(bool(self.emu.GetDeviceState(BPM)["paired"]))

    def test_vardectl_errors(self):
        r = self.vardectl("pair", STRANGER, "123456")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Not an allow-listed device", r.stderr)
        r = self.vardectl("pair", BPM, "1234567")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("6 digits", r.stderr)
        env = dict(self.env, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        with PrivateBus(emulator=False) as empty:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = empty.address
            r = subprocess.run([VARDECTL, "status"], env=env, capture_output=True, text=True,
                               timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("varded is not running", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
