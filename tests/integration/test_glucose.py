#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A glucose meter with stored records, end to end: the real gls plugin in a
real varded downloads them with RACP from the BlueZ emulator, they arrive as
FHIR Observations in mmol/L, a hypoglycaemia raises an alert under the
shipped diabetes rules, and a meter reconnecting later is asked only for
records it has not delivered (and delivers only those)."""
import json
import os
import struct
import tempfile
import unittest

from varded_harness import (SCENARIOS, SOURCE_DIR, Broker, PrivateBus, Subscriber, Varded,
                            emulator, wait_until, write_config, stop_all)

METER = "E8:1D:A8:20:30:02"
PATIENT = "p-8b22e0"
RACP = "00002a52-0000-1000-8000-00805f9b34fb"


def glucose_record(seq, mmol_tenths, day, hour):
    """A Glucose Measurement in mol/L: time offset, concentration, type
    capillary whole blood at the finger."""
    sfloat = (0xC << 12) | mmol_tenths  # mantissa x 10^-4 mol/L = tenths of mmol/L
    return struct.pack("<BHHBBBBBhHB", 0x07, seq, 2024, 3, day, hour, 0, 0, 0, sfloat, 0x11)


class Glucose(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.cleanup)
        self.dir = tempfile.TemporaryDirectory()
        self.broker = Broker()
        self.sub = Subscriber(self.broker)
        self.bus = PrivateBus(os.path.join(SCENARIOS, "glucose.json"))
        self.bus.start()
        self.emu = emulator(self.bus)
        config = write_config(self.dir.name, extra=self.broker.config(),
                              devices="[device %s]\npatient = %s\n" % (METER, PATIENT),
                              hub_extra="rules = %s/config/rules-diabetes.json\n" % SOURCE_DIR)
        self.hub = Varded(config, bus=self.bus, env={"TZ": "Europe/Oslo"})
        self.hub.wait_for("READY=1", timeout=30)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def racp_writes(self):
        return [bytes(v).hex() for u, v in self.emu.GetWrites(METER) if str(u) == RACP]

    def test_stored_records_then_only_new_ones(self):
        obs = [json.loads(p) for p in self.sub.wait("/observation", 5, timeout=30)]
        self.assertEqual(self.racp_writes(), ["0101"])  # no cursor yet: all records
        first = obs[0]
        self.assertEqual(first["subject"]["reference"], "Patient/" + PATIENT)
        self.assertEqual(first["valueQuantity"]["code"], "mmol/L")
        # 95e-5 kg/L is 95 mg/dL: 5.27 mmol/L (molar mass 180.16 g/mol).
        self.assertEqual(first["valueQuantity"]["value"], 5.27)
        self.assertEqual(first["effectiveDateTime"], "2024-03-01T07:30:00+01:00")
        self.assertEqual({o["identifier"][0]["value"].split(".")[-1].split("-")[0]
                          for o in obs}, {"s1", "s2", "s3", "s4", "s5"})

        # The meter measures twice more (one of them a hypo), disconnects,
        # and comes back: only records 6 and 7 are asked for and published.
        self.emu.RemoteDisconnect(METER)
        self.hub.wait_log(r"device %s disconnected" % METER)
        self.emu.AddRecord(METER, glucose_record(6, 28, 4, 7), b"")
        self.emu.AddRecord(METER, glucose_record(7, 62, 4, 12), b"")
        obs = [json.loads(p) for p in self.sub.wait("/observation", 7, timeout=60)]
        wait_until(lambda: len(self.racp_writes()) >= 2, what="second download")
        self.assertEqual(self.racp_writes()[1], "0103010600")  # sequence >= 6
        self.assertEqual(len({o["identifier"][0]["value"] for o in obs}), 7)
        values = sorted(o["valueQuantity"]["value"] for o in obs[5:])
        self.assertEqual(values, [2.8, 6.2])
        alert = json.loads(self.sub.wait(
            "/alert", 1, predicate=lambda p: json.loads(p)["rule"] == "glucose")[0])
        self.assertEqual(alert["severity"], "critical")
        self.assertEqual(alert["patient"], PATIENT)
        self.assertIn("3.0", alert["reason"]["en"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
