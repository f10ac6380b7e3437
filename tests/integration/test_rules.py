#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rules and alerts end to end: the shipped COPD rule set, a pulse oximeter
on the BlueZ emulator, the real varded with the plxs plugin, a real broker.

A rule set pushed on rules/set is acknowledged on rules/state; three SpO2
readings of 80 % raise one critical alert; a questionable reading alone
raises none; recovery clears; a nurse's acknowledgement is published; a
missing measurement raises an alert; a restart does not raise twice."""
import json
import os
import struct
import tempfile
import time
import unittest

from varded_harness import (SCENARIOS, SOURCE_DIR, Broker, PrivateBus, Subscriber, Varded,
                            emulator, wait_until, write_config, stop_all)

OXI = "D0:5F:B8:40:50:03"
PATIENT = "p-4f1c9a"
COPD_RULES = os.path.join(SOURCE_DIR, "config", "rules-copd.json")
QUESTIONABLE = 0x4000  # PLX measurement status bit 14


def spot_check(spo2, pulse, minute, status=None, when=None):
    """A PLX Spot-check Measurement with a timestamp (and status)."""
    flags = 0x01 | (0x02 if status is not None else 0)
    out = struct.pack("<BHH", flags, spo2, pulse)
    out += struct.pack("<HBBBBB", *(when or (2025, 6, 2, 9, minute, 0)))
    if status is not None:
        out += struct.pack("<H", status)
    return out


class Rules(unittest.TestCase):
    rules_file = COPD_RULES

    def setUp(self):
        self.addCleanup(self.cleanup)
        os.environ["TZ"] = "Europe/Oslo"
        time.tzset()
        self.dir = tempfile.TemporaryDirectory()
        self.broker = Broker()
        self.sub = Subscriber(self.broker)
        self.bus = PrivateBus(os.path.join(SCENARIOS, "pulse_oximeter.json"))
        self.bus.start()
        self.emu = emulator(self.bus)
        self.config = write_config(self.dir.name, extra=self.broker.config(),
                                   devices="[device %s]\npatient = %s\n" % (OXI, PATIENT),
                                   hub_extra="rules = %s\n" % self.rules_file)
        self.hub = None
        self.start_hub()

    def start_hub(self):
        self.hub = Varded(self.config, bus=self.bus, env={"TZ": "Europe/Oslo"})
        self.hub.wait_for("READY=1", timeout=30)
        self.hub.wait_log(r"plugin plxs: %s" % OXI, timeout=20)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def spot(self, *args, **kwargs):
        frame = spot_check(*args, **kwargs)
        wait_until(lambda: self.emu.Notify(OXI, "2A5E", frame) > 0, timeout=30,
                   what="spot-check indication delivered")

    def alerts(self, count=1, timeout=60, rule=None):
        def match(p):
            return rule is None or json.loads(p)["rule"] == rule
        return [json.loads(p) for p in self.sub.wait("/alert", count, timeout, match)]


class LowSpO2(Rules):
    def test_three_low_readings_raise_one_critical_alert_then_clear(self):
        state = json.loads(self.sub.wait("/rules/state", 1)[0])
        self.assertEqual(state["state"], "accepted")
        for minute in range(3):
            self.spot(80, 90, minute)
        alerts = self.alerts(2, rule="spo2")
        self.assertEqual({a["id"] for a in alerts}, {alerts[0]["id"]})  # one alert
        self.assertEqual(alerts[-1]["severity"], "critical")
        self.assertEqual(alerts[0]["patient"], PATIENT)
        # Back to target: cleared.
        for minute in range(3, 6):
            self.spot(91, 80, minute)
        cleared = self.alerts(3, rule="spo2")[-1]
        self.assertEqual(cleared["state"], "cleared")
        self.assertEqual(cleared["id"], alerts[0]["id"])

    def test_questionable_reading_alone_raises_nothing(self):
        for minute in range(4):
            self.spot(80, 90, minute, status=QUESTIONABLE)
        self.sub.wait("/observation", 4, predicate=lambda p: '"value":80' in p)
        time.sleep(1)
        self.assertEqual([p for t, p, _ in self.sub.messages if t.endswith("/alert")], [])

    def test_acknowledgement(self):
        for minute in range(3):
            self.spot(80, 90, minute)
        alert = self.alerts(2, rule="spo2")[-1]
        self.sub.client.publish("varde/v1/gw-test/alert/ack",
                                json.dumps({"id": alert["id"], "by": "nurse-12"}), qos=1)
        acked = self.alerts(3, rule="spo2")[-1]
        self.assertEqual(acked["state"], "acknowledged")
        self.assertEqual(acked["acknowledged_by"], "nurse-12")

    def test_restart_keeps_alert_state(self):
        for minute in range(3):
            self.spot(80, 90, minute)
        self.alerts(2, rule="spo2")
        code, log = self.hub.stop()
        self.assertEqual(code, 0, log)
        self.start_hub()
        self.spot(79, 90, 10)
        self.sub.wait("/observation", 1, predicate=lambda p: '"value":79' in p)
        time.sleep(1.5)
        # Delivery is at least once: the same transition may arrive twice,
        # but there must be one raise of one alert.
        raised = {(a["id"], a["changed_at"]) for a in map(json.loads, (
            p for t, p, _ in self.sub.messages if t.endswith("/alert")))
            if a["state"] == "raised" and a["rule"] == "spo2"}
        self.assertEqual(len(raised), 1, raised)


class PushedRules(Rules):
    def test_pushed_rule_set_is_validated_and_answered(self):
        with open(COPD_RULES) as f:
            rules = json.load(f)
        rules["version"] = "pushed-2"
        self.sub.client.publish("varde/v1/gw-test/rules/set", json.dumps(rules), qos=1,
                                retain=True)
        state = self.sub.wait("/rules/state", 1,
                              predicate=lambda p: json.loads(p).get("version") == "pushed-2")
        self.assertEqual(json.loads(state[0])["state"], "accepted")
        rules["patients"][PATIENT]["rules"][0]["critical"]["low"] = "eighty"
        rules["version"] = "broken-3"
        self.sub.client.publish("varde/v1/gw-test/rules/set", json.dumps(rules), qos=1,
                                retain=True)
        refused = json.loads(self.sub.wait(
            "/rules/state", 1, predicate=lambda p: json.loads(p)["state"] == "rejected")[0])
        self.assertIn("rules[0].critical.low", refused["error"])
        self.assertEqual(refused["version"], "pushed-2")  # the last good one stays

    def test_missing_measurement_with_a_short_window(self):
        with open(COPD_RULES) as f:
            rules = json.load(f)
        rules["version"] = "short-missing"
        for rule in rules["patients"][PATIENT]["rules"]:
            if rule["id"] == "spo2-missing":
                rule["after"] = "3s"
        self.sub.client.publish("varde/v1/gw-test/rules/set", json.dumps(rules), qos=1)
        self.sub.wait("/rules/state", 1,
                      predicate=lambda p: json.loads(p).get("version") == "short-missing")
        alert = self.alerts(1, timeout=20, rule="spo2-missing")[0]
        self.assertEqual(alert["state"], "raised")
        now = time.localtime()  # the hub runs in Europe/Oslo, as this test does
        self.spot(90, 80, 0, when=(now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour,
                                   now.tm_min, now.tm_sec))
        cleared = self.alerts(2, rule="spo2-missing")[-1]
        self.assertEqual(cleared["state"], "cleared")


if __name__ == "__main__":
    unittest.main(verbosity=2)
