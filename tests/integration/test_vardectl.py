#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vardectl against a running varded (private bus, BlueZ emulator, real
broker): status, devices, history, rules and watch show what the hub
holds; errors are clear when varded is not there."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from test_pipeline import BPM, PATIENT, bpm_frame
from varded_harness import (SCENARIOS, SOURCE_DIR, VARDECTL, Broker, PrivateBus, Subscriber,
                            Varded, emulator, wait_until, write_config, stop_all)


class Vardectl(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.cleanup)
        self.dir = tempfile.TemporaryDirectory()
        self.broker = Broker()
        self.sub = Subscriber(self.broker)
        self.bus = PrivateBus(os.path.join(SCENARIOS, "blood_pressure.json"))
        self.bus.start()
        self.emu = emulator(self.bus)
        config = write_config(self.dir.name, extra=self.broker.config(),
                              devices="[device %s]\npatient = %s\n" % (BPM, PATIENT),
                              hub_extra="rules = %s/config/rules-copd.json\n" % SOURCE_DIR)
        self.hub = Varded(config, bus=self.bus, env={"TZ": "Europe/Oslo"})
        self.hub.wait_for("READY=1", timeout=30)
        self.sub.wait("/observation", 2)
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def vardectl(self, *args):
        r = subprocess.run([VARDECTL] + list(args), env=self.env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_status_devices_history_rules(self):
        status = json.loads(self.vardectl("status"))
        self.assertEqual(status["readings"]["accepted"], 2)
        out = self.vardectl("devices")
        self.assertIn(BPM, out)
        self.assertIn("patient:       " + PATIENT, out)
        # The panel and its pulse share one time: either is the last one.
        self.assertRegex(out, r"last reading:  (blood_pressure 138 mm\[Hg\], 88 mm\[Hg\], "
                              r"120 mm\[Hg\]|pulse_rate 60 /min) \(")
        self.assertIn("device clock:", out)
        history = self.vardectl("history", "--patient", PATIENT, "5").splitlines()
        self.assertEqual(len(history), 2)
        self.assertTrue(any("pulse_rate" in line and "60 /min" in line for line in history))
        self.assertIn("No readings stored for p-nobody",
                      self.vardectl("history", "--patient", "p-nobody"))
        self.assertIn("rule set: 2024-06-01.1 (accepted)", self.vardectl("rules"))
        audit = self.vardectl("audit")
        self.assertRegex(audit, r"installer\s+devices bound\s+%s patient %s" % (BPM, PATIENT))

    def test_watch_shows_live_readings(self):
        watch = subprocess.Popen([VARDECTL, "watch", "--count", "2"], env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        frame = bpm_frame(128, 84, 99, when=(2025, 6, 3, 8, 15, 0), pulse=72)
        wait_until(lambda: self.emu.Notify(BPM, "2A35", frame) > 0, what="indication")
        out, err = watch.communicate(timeout=20)
        self.assertEqual(watch.returncode, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith("2025-06-03T08:15:00+02:00"))
        self.assertIn(PATIENT, lines[0])
        self.assertIn("128 mm[Hg]", out)
        self.assertIn("72 /min", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
