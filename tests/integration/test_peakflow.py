#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An out-of-tree vendor plugin in the real hub: examples/peakflow, built
against the installed SDK by tests/sdk/check_sdk.sh (ctest sdk_check, the
fixture this test requires), loaded by varded beside the first-party
plugins. A lung-function meter of the EXAMPLE protocol
(tests/emulator/scenarios/peakflow.json) indicates a stored and a live
measurement: the care team gets peak flow and FEV1 as FHIR Observations
with the right codes, units, values, times and patient, and a malformed
frame gives none."""
import glob
import json
import os
import shutil
import tempfile
import time
import unittest

from varded_harness import (PLUGIN_DIR, SCENARIOS, VALGRIND, Broker, PrivateBus, Subscriber,
                            Varded, emulator, wait_until, write_config, stop_all)

SDK_PLUGIN = os.environ.get("VARDE_SDK_PLUGIN", "")
METER = "D0:5F:B8:30:40:05"
MEASUREMENT = "7a1d0002-3c5e-4b8a-9f2d-6e4c1b0a5d77"
PATIENT = "p-7d3e21"

# PROTOCOL.md's example frames.
POOR_EFFORT = bytes.fromhex("0B7C0118E1E9070301140F0001")  # 380 L/min, 2.80 L, 20:15
TRUNCATED = bytes.fromhex("03C20145E1E90703")  # FEV1 and time announced, 5 bytes short


def codes(obs, system_suffix):
    return [c["code"] for c in obs["code"]["coding"] if c["system"].endswith(system_suffix)]


class PeakFlow(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.cleanup)
        if not os.path.isfile(SDK_PLUGIN):
            self.fail("no %r: run ctest sdk_check first (tests/sdk/check_sdk.sh builds it)"
                      % SDK_PLUGIN)
        self.dir = tempfile.TemporaryDirectory()
        # The vendor's module beside the first-party ones, as an installer
        # would put it: the hub must bind the meter to peakflow alone.
        plugins = os.path.join(self.dir.name, "plugins")
        os.mkdir(plugins)
        for so in glob.glob(os.path.join(PLUGIN_DIR, "*.so")) + [SDK_PLUGIN]:
            dest = os.path.join(plugins, os.path.basename(so))
            shutil.copyfile(so, dest)
            os.chmod(dest, 0o644)  # the loader refuses group/world-writable files
        self.broker = Broker()
        self.sub = Subscriber(self.broker)
        self.bus = PrivateBus(os.path.join(SCENARIOS, "peakflow.json"))
        self.bus.start()
        self.emu = emulator(self.bus)
        config = write_config(self.dir.name, extra=self.broker.config(), plugin_dir=plugins,
                              devices="[device %s]\npatient = %s\n" % (METER, PATIENT))
        self.hub = Varded(config, bus=self.bus, env={"TZ": "Europe/Oslo"}, valgrind=VALGRIND)
        self.hub.wait_for("READY=1", timeout=60 if VALGRIND else 30)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def indicate(self, frame):
        wait_until(lambda: self.emu.Notify(METER, MEASUREMENT, frame) > 0, timeout=15,
                   what="lung function indication delivered")

    def observations(self, count):
        return [json.loads(p) for p in self.sub.wait("/observation", count, timeout=30)]

    def check(self, obs, mdc, loinc, ucum, value, when, questionable):
        self.assertEqual(obs["resourceType"], "Observation")
        self.assertEqual(codes(obs, "11073:10101"), [mdc])
        self.assertEqual(codes(obs, "loinc.org"), [loinc])
        self.assertEqual(obs["subject"]["reference"], "Patient/" + PATIENT)
        q = obs["valueQuantity"]
        self.assertEqual((q["value"], q["code"], q["system"]),
                         (value, ucum, "http://unitsofmeasure.org"))
        self.assertEqual(obs["effectiveDateTime"], when)
        # Poor effort: flagged, so that no rule takes it for a decline.
        interpretation = [c["code"] for i in obs.get("interpretation", []) for c in i["coding"]]
        self.assertEqual(interpretation, ["questionable"] if questionable else [])

    def test_peak_flow_and_fev1_become_fhir(self):
        self.hub.wait_log(r"plugin peakflow 1\.0\.0 \(varde example\) loaded")
        # The stored measurement the meter sends as soon as indications
        # are on: two Observations with the meter's own time.
        obs = self.observations(2)
        pef = next(o for o in obs if "152584" in codes(o, "11073:10101"))
        fev1 = next(o for o in obs if "152586" in codes(o, "11073:10101"))
        self.check(pef, "152584", "19935-6", "L/min", 450, "2025-03-01T08:30:00+01:00", False)
        self.check(fev1, "152586", "20150-9", "L", 3.25, "2025-03-01T08:30:00+01:00", False)

        # A malformed frame, then a live one: the live one's Observations
        # come after anything the malformed one could have given.
        self.indicate(TRUNCATED)
        self.indicate(POOR_EFFORT)
        obs = self.observations(4)[2:]
        pef = next(o for o in obs if "152584" in codes(o, "11073:10101"))
        fev1 = next(o for o in obs if "152586" in codes(o, "11073:10101"))
        self.check(pef, "152584", "19935-6", "L/min", 380, "2025-03-01T20:15:00+01:00", True)
        self.check(fev1, "152586", "20150-9", "L", 2.8, "2025-03-01T20:15:00+01:00", True)

        self.hub.wait_log(r"malformed Lung Function Measurement dropped \(8 bytes: "
                          r"03c20145e1e90703\), 1 so far")
        time.sleep(1)
        self.assertEqual(len(self.sub.wait("/observation", 4)), 4)
        self.assertEqual(len({o["identifier"][0]["value"] for o in self.observations(4)}), 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
