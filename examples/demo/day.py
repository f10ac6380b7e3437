#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plays a compressed day of measurements on the BlueZ emulator: what two
patients' devices would send, as they would send it. Device clocks are
local time; the day is laid out over the hours before now, one event every
few seconds of real time."""
import struct
import sys
import time

import dbus

BPM = "C4:7C:8D:6A:10:01"
OXI = "D0:5F:B8:40:50:03"
THERMO = "00:1B:DC:0F:10:05"
PEAKFLOW = "D0:5F:B8:30:40:05"
METER = "E8:1D:A8:20:30:02"
STEP_S = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0

emu = dbus.Interface(dbus.SystemBus().get_object("org.varde.Emulator", "/org/varde/Emulator"),
                     "org.varde.Emulator1")
start = time.time() - 10 * 3600  # the day began ten hours ago


def clock(hours):
    t = time.localtime(start + hours * 3600)
    return struct.pack("<HBBBBB", t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min,
                       t.tm_sec)


def sfloat(value, exponent=0):
    return struct.pack("<H", ((exponent & 0xF) << 12) | (round(value * 10 ** -exponent) & 0xFFF))


def blood_pressure(h, sys_, dia, pulse):
    mean = round((sys_ + 2 * dia) / 3)
    return b"\x06" + sfloat(sys_) + sfloat(dia) + sfloat(mean) + clock(h) + sfloat(pulse)


def spo2(h, value, pulse, status=None):
    flags = 0x01 | (0x02 if status is not None else 0)
    out = bytes([flags]) + sfloat(value) + sfloat(pulse) + clock(h)
    return out + (struct.pack("<H", status) if status is not None else b"")


def temperature(h, celsius):
    mantissa = round(celsius * 100)
    return b"\x02" + struct.pack("<I", (0xFE << 24) | mantissa) + clock(h)


def peak_flow(h, pef, fev1):
    return b"\x03" + sfloat(pef) + sfloat(fev1, -2) + clock(h)


def glucose(seq, h, mmol):
    """Glucose Measurement in mol/L (mmol/L tenths = mantissa x 10^-4 mol/L),
    capillary whole blood from a finger."""
    return (struct.pack("<BH", 0x07, seq) + clock(h) + struct.pack("<h", 0) +
            sfloat(mmol / 1000, -4) + b"\x11")


def send(device, char, frame, what):
    for _ in range(50):
        if emu.Notify(device, char, dbus.ByteArray(frame)) > 0:
            print("  device | %s" % what, flush=True)
            return
        time.sleep(0.2)
    print("  device | %s: not delivered (device not connected)" % what, flush=True)


def pause():
    time.sleep(STEP_S)


events = [
    (OXI, "2A5E", spo2(0.5, 94, 72), "oximeter: SpO2 94 %, pulse 72"),
    (THERMO, "2A1C", temperature(0.6, 37.1), "thermometer: 37.1 C"),
    (BPM, "2A35", blood_pressure(0.7, 142, 88, 74), "blood pressure monitor: 142/88, pulse 74"),
    (PEAKFLOW, "7a1d0002-3c5e-4b8a-9f2d-6e4c1b0a5d77", peak_flow(0.8, 380, 2.9),
     "lung-function meter: PEF 380 L/min, FEV1 2.90 L"),
    (OXI, "2A5E", spo2(3.0, 90, 80, status=0x4000),
     "oximeter: SpO2 90 % flagged questionable (finger moved)"),
    (OXI, "2A5E", spo2(4.0, 80, 96), "oximeter: SpO2 80 %"),
    (OXI, "2A5E", spo2(4.2, 80, 98), "oximeter: SpO2 80 % again"),
    (OXI, "2A5E", spo2(4.4, 79, 101), "oximeter: SpO2 79 %"),
    (THERMO, "2A1C", temperature(4.5, 38.4), "thermometer: 38.4 C"),
]

print("  day    | a compressed day starts: %d events, one every %.0f s" % (len(events) + 4, STEP_S),
      flush=True)
pause()
for device, char, frame, what in events:
    send(device, char, frame, what)
    pause()

# The diabetes patient measures a low glucose; the meter keeps it and is
# read when it connects again.
emu.RemoteDisconnect(METER)
emu.AddRecord(METER, dbus.ByteArray(glucose(6, 6.0, 2.7)), dbus.ByteArray(b""))
print("  device | glucose meter: stored a new measurement, 2.7 mmol/L; reconnects", flush=True)
pause()
for h, value in ((7.0, 90), (7.5, 91), (8.0, 92)):
    send(OXI, "2A5E", spo2(h, value, 78), "oximeter: SpO2 %d %%" % value)
    pause()
print("  day    | end of the day", flush=True)
