#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The whole path with real components: BlueZ emulator on a private bus ->
real varded with the first-party plugins -> real mosquitto -> a subscriber
that sees what the care team sees. Nothing lost, nothing misattributed:
FHIR content, Europe/Oslo winter and summer time, quarantine of an unmapped
device user, de-duplication across reconnects, broker outage, a hub killed
with SIGKILL while the broker is down, TLS with client certificates, and a
corrupt database."""
import json
import os
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from varded_harness import (SCENARIOS, VARDECTL, Broker, PrivateBus, Subscriber, Varded, emulator,
                            wait_until, write_config, stop_all)

BPM = "C4:7C:8D:6A:10:01"
PATIENT = "p-4f1c9a"
OTHER = "p-8b22e0"


def bpm_frame(sys, dia, mean, when=None, pulse=None, user=None, status=None):
    """A Blood Pressure Measurement in mmHg, integer SFLOATs."""
    flags = (0x02 if when else 0) | (0x04 if pulse is not None else 0) | \
        (0x08 if user is not None else 0) | (0x10 if status is not None else 0)
    out = struct.pack("<BHHH", flags, sys, dia, mean)
    if when:
        out += struct.pack("<HBBBBB", *when)
    if pulse is not None:
        out += struct.pack("<H", pulse)
    if user is not None:
        out += struct.pack("<B", user)
    if status is not None:
        out += struct.pack("<H", status)
    return out


def coding(obs, system_suffix):
    return [c["code"] for c in obs["code"]["coding"] if c["system"].endswith(system_suffix)]


class Pipeline(unittest.TestCase):
    tls = False
    devices = "[device %s]\npatient = %s\n" % (BPM, PATIENT)

    def setUp(self):
        self.addCleanup(self.cleanup)
        self.dir = tempfile.TemporaryDirectory()
        self.broker = Broker(tls=self.tls)
        self.sub = Subscriber(self.broker)
        self.bus = PrivateBus(os.path.join(SCENARIOS, "blood_pressure.json"))
        self.bus.start()
        self.emu = emulator(self.bus)
        self.config = write_config(self.dir.name, extra=self.broker.config(),
                                   devices=self.devices)
        self.hub = None
        self.start_hub()

    def start_hub(self):
        self.hub = Varded(self.config, bus=self.bus, env={"TZ": "Europe/Oslo"})
        self.hub.wait_for("READY=1", timeout=30)

    def cleanup(self):
        code, log = stop_all(self)
        self.assertEqual(code, 0, log)

    def notify(self, frame):
        wait_until(lambda: self.emu.Notify(BPM, "2A35", frame) > 0, timeout=30,
                   what="blood pressure indication delivered")

    def observations(self, count, timeout=60):
        return [json.loads(p) for p in self.sub.wait("/observation", count, timeout)]

    def status(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        r = subprocess.run([VARDECTL, "status"], env=env, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)


class EndToEnd(Pipeline):
    def test_blood_pressure_becomes_fhir(self):
        # The monitor's stored reading (year unknown: receive time, flagged)
        # arrives as a blood pressure panel plus a pulse observation.
        obs = self.observations(2)
        panel = next(o for o in obs if "85354-9" in coding(o, "loinc.org"))
        pulse = next(o for o in obs if "8867-4" in coding(o, "loinc.org"))
        self.assertEqual(panel["resourceType"], "Observation")
        self.assertEqual(panel["subject"]["reference"], "Patient/" + PATIENT)
        self.assertIn("150020", coding(panel, "11073:10101"))
        parts = {c["code"]["coding"][1]["code"] if c["code"]["coding"][0]["system"].endswith(
            "10101") else c["code"]["coding"][0]["code"]: c for c in panel["component"]
            if "valueQuantity" in c}
        values = {code: c["valueQuantity"]["value"] for code, c in parts.items()}
        self.assertEqual(values["8480-6"], 138)
        self.assertEqual(values["8462-4"], 88)
        self.assertEqual(values["8478-0"], 120)
        self.assertEqual(parts["8480-6"]["valueQuantity"]["code"], "mm[Hg]")
        self.assertEqual(pulse["valueQuantity"]["value"], 60)
        self.assertEqual(pulse["valueQuantity"]["code"], "/min")
        self.assertRegex(panel["effectiveDateTime"], r"[+-]\d\d:\d\d$")
        self.assertTrue(panel["identifier"][0]["value"])
        # Body movement, cuff loose, irregular pulse, improper position.
        self.assertIn("time-from-receipt", json.dumps(panel))

    def test_winter_and_summer_time(self):
        self.observations(2)
        self.notify(bpm_frame(121, 81, 94, when=(2024, 1, 15, 12, 0, 0)))
        self.notify(bpm_frame(122, 82, 95, when=(2024, 7, 1, 12, 0, 0)))
        obs = self.observations(4)
        times = sorted(o["effectiveDateTime"] for o in obs[2:])
        self.assertEqual(times, ["2024-01-15T12:00:00+01:00", "2024-07-01T12:00:00+02:00"])

    def test_duplicates_are_not_published_twice(self):
        self.observations(2)
        frame = bpm_frame(130, 85, 100, when=(2025, 3, 1, 8, 30, 0))
        self.notify(frame)
        self.observations(3)
        # Resent on this connection and after a reconnection: nothing new.
        self.notify(frame)
        self.emu.RemoteDisconnect(BPM)
        self.hub.wait_log(r"device %s disconnected" % BPM)
        self.notify(frame)
        self.notify(bpm_frame(131, 86, 101, when=(2025, 3, 1, 9, 30, 0)))
        obs = self.observations(4)
        time.sleep(1)
        obs = [json.loads(p) for p in self.sub.wait("/observation", 4)]
        self.assertEqual(len(obs), 4)
        self.assertEqual(len({o["identifier"][0]["value"] for o in obs}), 4)
        self.assertGreaterEqual(self.status()["readings"]["duplicates"], 2)

    def test_status_is_retained_and_honest(self):
        self.observations(2)
        status = json.loads(self.sub.wait("/status", 1)[0])
        self.assertEqual(status["hub"], "gw-test")
        doc = self.status()
        self.assertTrue(doc["uplink"]["connected"])
        self.assertEqual(doc["store"]["health"], "ok")
        self.assertEqual(doc["devices"][0]["address"], BPM)
        self.assertEqual(doc["devices"][0]["patients"], [PATIENT])


class Quarantine(Pipeline):
    devices = "[device %s]\nuser.1 = %s\nuser.2 = %s\n" % (BPM, PATIENT, OTHER)

    def test_unmapped_device_user_is_never_an_observation(self):
        obs = self.observations(2)  # the stored reading is user 1
        self.assertTrue(all(o["subject"]["reference"] == "Patient/" + PATIENT for o in obs))
        self.notify(bpm_frame(140, 90, 107, when=(2025, 2, 1, 7, 0, 0), user=2))
        self.notify(bpm_frame(150, 95, 113, when=(2025, 2, 1, 7, 5, 0), user=3))
        self.notify(bpm_frame(155, 96, 115, when=(2025, 2, 1, 7, 6, 0), user=255))
        events = [json.loads(p) for p in self.sub.wait(
            "/event", 2, predicate=lambda p: "quarantined-reading" in p)]
        self.assertEqual(sorted(e["device_user"] for e in events), [3, 255])
        obs = self.observations(3)
        self.assertEqual(obs[2]["subject"]["reference"], "Patient/" + OTHER)
        time.sleep(1)
        self.assertEqual(len(self.sub.wait("/observation", 3)), 3)
        self.assertEqual(self.status()["readings"]["quarantined"], 2)


class Outages(Pipeline):
    def test_broker_down_for_ten_seconds_loses_nothing(self):
        self.observations(2)
        self.broker.stop()
        for minute in range(5):
            self.notify(bpm_frame(120 + minute, 80, 93, when=(2025, 4, 1, 10, minute, 0)))
        time.sleep(10)
        self.broker.start()
        obs = self.observations(7, timeout=90)
        self.assertEqual(len({o["identifier"][0]["value"] for o in obs}), 7)

    def test_hub_killed_while_broker_down_loses_nothing(self):
        self.observations(2)
        self.broker.stop()
        for minute in range(3):
            self.notify(bpm_frame(125 + minute, 82, 96, when=(2025, 5, 1, 10, minute, 0)))
        # Durable means counted in the store's backlog.
        wait_until(lambda: self.status()["store"]["backlog"] >= 3, timeout=20,
                   what="readings committed")
        self.hub.proc.send_signal(signal.SIGKILL)
        self.hub.proc.wait(10)
        self.hub.stop()
        self.hub = None
        self.broker.start()
        self.start_hub()
        obs = self.observations(5, timeout=90)
        self.assertEqual(len({o["identifier"][0]["value"] for o in obs}), 5)


class Tls(Pipeline):
    tls = True

    def test_tls_with_client_certificate(self):
        obs = self.observations(2, timeout=30)
        self.assertEqual(obs[0]["subject"]["reference"], "Patient/" + PATIENT)

    def test_client_without_certificate_is_refused(self):
        import paho.mqtt.client as mqtt
        client = mqtt.Client(client_id="intruder")
        client.tls_set(ca_certs=self.broker.dir + "/ca.pem")
        with self.assertRaises(Exception):
            client.connect("localhost", self.broker.port, 5)
            for _ in range(20):
                client.loop(0.1)
                if client.is_connected():
                    break
            if not client.is_connected():
                raise ConnectionError("refused")


class CorruptDatabase(Pipeline):
    def start_hub(self):
        if self.hub is None:
            with open(os.path.join(self.dir.name, "varde.db"), "wb") as f:
                f.write(b"this is not a database" * 100)
        super().start_hub()

    def test_corrupt_database_is_loud_and_the_hub_goes_on(self):
        obs = self.observations(2)
        self.assertEqual(len(obs), 2)
        self.assertNotEqual(self.status()["store"]["health"], "ok")
        self.assertRegex(self.hub.log_text(), r"(?i)corrupt|not a database")


if __name__ == "__main__":
    unittest.main(verbosity=2)
