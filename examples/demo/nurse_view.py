#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What the care team receives, read off the broker: every FHIR Observation
and alert varde publishes, one line each, as a nurse's screen would list
them. Usage: nurse_view.py HOST PORT"""
import json
import sys
import time
from datetime import datetime

import paho.mqtt.client as mqtt

BOLD, RED, YELLOW, GREY, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[90m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = RED = YELLOW = GREY = RESET = ""


def hhmm(stamp):
    """Local wall-clock time of an ISO 8601 instant, as the nurse reads it."""
    if not stamp:
        return "--:--"
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()
    if when.date() == datetime.now().astimezone().date():
        return when.strftime("%H:%M")
    return when.strftime("%d.%m.%y %H:%M")


def number(q):
    return "%s %s" % (q.get("value"), q.get("unit", ""))


def observation(obs):
    name = obs["code"].get("text", "?")
    patient = obs["subject"]["reference"].split("/")[-1]
    if "valueQuantity" in obs:
        value = number(obs["valueQuantity"])
    elif "component" in obs and any("valueQuantity" in c for c in obs["component"]):
        parts = [c for c in obs["component"] if "valueQuantity" in c]
        value = "/".join(str(c["valueQuantity"]["value"]) for c in parts[:2])
        value += " %s" % parts[0]["valueQuantity"].get("unit", "")
        if len(parts) > 2:
            value += " (mean %s)" % parts[2]["valueQuantity"]["value"]
    else:
        value = "no value: %s" % obs.get("dataAbsentReason", {}).get("text", "absent")
    notes = []
    if any(i["coding"][0]["code"] == "questionable" for i in obs.get("interpretation", [])):
        notes.append("device: questionable")
    if "time-from-receipt" in json.dumps(obs.get("component", [])):
        notes.append("time: received")
    print("%14s  %-10s %-30s %-24s %s" % (hhmm(obs.get("effectiveDateTime")), patient, name, value,
                                        GREY + ", ".join(notes) + RESET if notes else ""),
          flush=True)


def alert(a):
    colour = RED if a["severity"] == "critical" else YELLOW
    state = a["state"].upper()
    if state == "CLEARED":
        colour = GREY
    print("%s%14s  ALERT %-8s %-8s %-10s %s%s" % (colour + BOLD, hhmm(a.get("changed_at")), state,
                                                a["severity"], a["patient"], a["reason"]["nb"],
                                                RESET), flush=True)
    print("%s%16s%s%s" % (GREY, "", a["reason"]["en"], RESET), flush=True)


def event(e):
    if e["type"] in ("quarantined-reading", "pairing-needed", "control-solution-test"):
        print("%s       event: %s %s %s%s" % (GREY, e["type"], e.get("device", ""),
                                             e.get("value", e.get("detail", "")), RESET),
              flush=True)


def on_message(client, userdata, msg):
    kind = msg.topic.rsplit("/", 1)[-1]
    try:
        doc = json.loads(msg.payload)
    except ValueError:
        return
    {"observation": observation, "alert": alert, "event": event}.get(kind, lambda d: None)(doc)


def main():
    client = mqtt.Client(client_id="demo-nurse-view")
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc: c.subscribe("varde/v1/+/+", qos=1)
    for _ in range(50):
        try:
            client.connect(sys.argv[1], int(sys.argv[2]), 30)
            break
        except OSError:
            time.sleep(0.1)
    print(BOLD + "%14s  %-10s %-30s %s" % ("TIME", "PATIENT", "MEASUREMENT", "VALUE") + RESET,
          flush=True)
    client.loop_forever()


if __name__ == "__main__":
    main()
