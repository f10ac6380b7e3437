#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the BlueZ emulator: a private bus, the emulator, and
dbus-python clients checking the bluetoothd behaviours varde relies on.

Run: /usr/bin/python3 tests/emulator/test_emulator.py [-v]
"""

import json
import os
import sys
import time
import unittest

import dbus
import dbus.bus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from private_bus import PrivateBus  # noqa: E402

DBusGMainLoop(set_as_default=True)

SCEN = os.path.join(HERE, "scenarios")
BPM = "C4:7C:8D:6A:10:01"
GLU = "E8:1D:A8:20:30:02"
OXI = "D0:5F:B8:40:50:03"
HCI = "/org/bluez/hci0"
BASE = "-0000-1000-8000-00805f9b34fb"


def dpath(addr):
    return HCI + "/dev_" + addr.replace(":", "_")


def u128(short):
    return "0000%s%s" % (short.lower(), BASE)


class Client:
    """A bus client recording, in wire order, the signals it sees and the
    replies to its asynchronous calls."""

    def __init__(self, address):
        self.conn = dbus.bus.BusConnection(address)
        self.events = []
        self.conn.add_signal_receiver(self._pc, "PropertiesChanged",
                                      "org.freedesktop.DBus.Properties", "org.bluez",
                                      path_keyword="path", byte_arrays=True)
        self.conn.add_signal_receiver(self._added, "InterfacesAdded",
                                      "org.freedesktop.DBus.ObjectManager", "org.bluez")
        self.conn.add_signal_receiver(self._removed, "InterfacesRemoved",
                                      "org.freedesktop.DBus.ObjectManager", "org.bluez")
        self.conn.add_signal_receiver(self._noc, "NameOwnerChanged", "org.freedesktop.DBus",
                                      "org.freedesktop.DBus", arg0="org.bluez")

    @property
    def name(self):
        return self.conn.get_unique_name()

    def _pc(self, iface, changed, inval, path=None):
        self.events.append(("pc", str(path), str(iface), dict(changed), list(inval)))

    def _added(self, path, ifaces):
        self.events.append(("added", str(path), list(ifaces)))

    def _removed(self, path, ifaces):
        self.events.append(("removed", str(path), list(ifaces)))

    def _noc(self, name, old, new):
        self.events.append(("owner", str(old), str(new)))

    def close(self):
        self.conn.close()

    def obj(self, path):
        return self.conn.get_object("org.bluez", path, introspect=False)

    def call(self, path, iface, method, *args, **kw):
        return self.obj(path).get_dbus_method(method, iface)(*args, **kw)

    def acall(self, tag, path, iface, method, *args):
        """Asynchronous call; the outcome is appended to events as
        ("reply", tag, value) or ("error", tag, name, message)."""
        def ok(*r):
            self.events.append(("reply", tag, r))

        def err(e):
            self.events.append(("error", tag, e.get_dbus_name(), e.get_dbus_message()))
        self.obj(path).get_dbus_method(method, iface)(*args, reply_handler=ok,
                                                      error_handler=err, byte_arrays=True)

    def wait(self, pred, timeout=5.0):
        loop = GLib.MainLoop()
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("timeout; events: %r" % self.events[-15:])
            GLib.timeout_add(10, loop.quit)
            loop.run()

    def settle(self, secs):
        loop = GLib.MainLoop()
        GLib.timeout_add(int(secs * 1000), loop.quit)
        loop.run()

    def result(self, tag, timeout=5.0):
        self.wait(lambda: self.find_result(tag), timeout)
        return self.find_result(tag)

    def find_result(self, tag):
        for e in self.events:
            if e[0] in ("reply", "error") and e[1] == tag:
                return e
        return None

    def pcs(self, path, prop):
        return [e[3][prop] for e in self.events
                if e[0] == "pc" and e[1] == path and prop in e[3]]

    def index(self, pred):
        for i, e in enumerate(self.events):
            if pred(e):
                return i
        return -1

    # convenience
    def connect(self, addr):
        self.acall("connect", dpath(addr), "org.bluez.Device1", "Connect")
        r = self.result("connect")
        assert r[0] == "reply", r
        self.wait(lambda: True in self.pcs(dpath(addr), "ServicesResolved"))

    def discover(self, addr):
        self.call(HCI, "org.bluez.Adapter1", "StartDiscovery")
        self.wait(lambda: [e for e in self.events if e[0] == "added" and e[1] == dpath(addr)])

    def char_path(self, addr, uuid):
        objs = self.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        for p, ifs in objs.items():
            c = ifs.get("org.bluez.GattCharacteristic1")
            if c and str(p).startswith(dpath(addr)) and c["UUID"] == u128(uuid):
                return str(p)
        raise AssertionError("no characteristic %s" % uuid)


class Agent(dbus.service.Object):
    def __init__(self, conn, path, passkey):
        dbus.service.Object.__init__(self, conn, path)
        self.passkey = passkey
        self.calls = []

    @dbus.service.method("org.bluez.Agent1", in_signature="o", out_signature="u")
    def RequestPasskey(self, device):
        self.calls.append(("RequestPasskey", str(device)))
        return dbus.UInt32(self.passkey)

    @dbus.service.method("org.bluez.Agent1", in_signature="ou", out_signature="")
    def RequestConfirmation(self, device, passkey):
        self.calls.append(("RequestConfirmation", str(device), int(passkey)))

    @dbus.service.method("org.bluez.Agent1", in_signature="", out_signature="")
    def Cancel(self):
        self.calls.append(("Cancel",))


class EmulatorTest(unittest.TestCase):
    bus = None

    @classmethod
    def setUpClass(cls):
        cls.bus = PrivateBus(emulator=True, verbose=bool(os.environ.get("EMU_VERBOSE")))
        cls.bus.start()
        cls.ctl_conn = dbus.bus.BusConnection(cls.bus.address)
        cls.ctl = dbus.Interface(cls.ctl_conn.get_object("org.varde.Emulator",
                                                         "/org/varde/Emulator"),
                                 "org.varde.Emulator1")

    @classmethod
    def tearDownClass(cls):
        cls.ctl_conn.close()
        cls.bus.stop()

    def load(self, name, **changes):
        with open(os.path.join(SCEN, name)) as f:
            scen = json.load(f)
        scen.setdefault("settings", {}).update(changes.pop("settings", {}))
        for d in scen["devices"]:
            d.update(changes.get(d["address"], {}))
        self.ctl.LoadScenarioJson(json.dumps(scen))
        self.c = Client(self.bus.address)

    def tearDown(self):
        if getattr(self, "c", None):
            self.c.close()

    # ------------------------------------------------------------------
    def test_01_managed_objects_shape(self):
        self.load("blood_pressure.json")
        c = self.c
        om = c.obj("/")
        objs = om.GetManagedObjects(dbus_interface="org.freedesktop.DBus.ObjectManager")
        self.assertEqual(objs.signature, "oa{sa{sv}}")
        self.assertNotIn("/", objs)
        self.assertIn("org.bluez.AgentManager1", objs["/org/bluez"])
        ad = objs[HCI]["org.bluez.Adapter1"]
        self.assertTrue(ad["Powered"])
        self.assertFalse(ad["Discovering"])
        dev = objs[dpath(BPM)]["org.bluez.Device1"]
        self.assertEqual(dev["Address"], BPM)
        self.assertEqual(dev["Adapter"], HCI)
        self.assertTrue(dev["Paired"] and dev["Bonded"])
        self.assertFalse(dev["Connected"] or dev["ServicesResolved"])
        self.assertNotIn("RSSI", dev)
        ch = objs[dpath(BPM) + "/service0010/char0011"]["org.bluez.GattCharacteristic1"]
        self.assertEqual(ch["UUID"], u128("2a35"))
        self.assertEqual(list(ch["Flags"]), ["indicate"])
        self.assertEqual(ch["Service"], dpath(BPM) + "/service0010")
        self.assertNotIn("Handle", ch)
        self.assertNotIn("Value", ch)        # nothing read or notified yet
        self.assertFalse(ch["Notifying"])
        svc = objs[dpath(BPM) + "/service0010"]["org.bluez.GattService1"]
        self.assertTrue(svc["Primary"])
        self.assertEqual(svc["Device"], dpath(BPM))
        # Properties.Get / Set
        props = dbus.Interface(c.obj(dpath(BPM)), "org.freedesktop.DBus.Properties")
        self.assertEqual(props.Get("org.bluez.Device1", "Name"), "BPM-7000")
        props.Set("org.bluez.Device1", "Trusted", dbus.Boolean(True, variant_level=1))
        c.wait(lambda: True in c.pcs(dpath(BPM), "Trusted"))
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            props.Set("org.bluez.Device1", "Connected", dbus.Boolean(True, variant_level=1))
        self.assertEqual(cm.exception.get_dbus_name(),
                         "org.freedesktop.DBus.Error.PropertyReadOnly")
        xml = c.obj(dpath(BPM)).Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")
        self.assertIn('<interface name="org.bluez.Device1">', xml)
        self.assertIn('<node name="service0010"/>', xml)

    def test_02_connect_order_and_reconnect(self):
        self.load("blood_pressure.json")
        c = self.c
        p = dpath(BPM)
        c.acall("connect", p, "org.bluez.Device1", "Connect")
        c.wait(lambda: True in c.pcs(p, "ServicesResolved"))
        i_conn = c.index(lambda e: e[0] == "pc" and e[1] == p and e[3].get("Connected") == True)
        i_rep = c.index(lambda e: e[0] == "reply" and e[1] == "connect")
        i_res = c.index(lambda e: e[0] == "pc" and e[1] == p and
                        e[3].get("ServicesResolved") == True)  # noqa: E712
        self.assertTrue(0 <= i_conn < i_rep < i_res, c.events)
        # Connect on a connected LE device succeeds (no AlreadyConnected)
        c.call(p, "org.bluez.Device1", "Connect")
        # Disconnect: ServicesResolved=false, reply, Connected=false
        c.events.clear()
        c.acall("disc", p, "org.bluez.Device1", "Disconnect")
        c.wait(lambda: False in c.pcs(p, "Connected"))
        i_sr = c.index(lambda e: e[0] == "pc" and e[3].get("ServicesResolved") == False)
        i_rep = c.index(lambda e: e[0] == "reply" and e[1] == "disc")
        i_c = c.index(lambda e: e[0] == "pc" and e[3].get("Connected") == False)
        self.assertTrue(0 <= i_sr < i_rep < i_c, c.events)
        # bonded: GATT objects stay
        self.assertFalse([e for e in c.events if e[0] == "removed"])
        # Disconnect when not connected: success
        c.call(p, "org.bluez.Device1", "Disconnect")

    def test_03_connect_errors(self):
        self.load("blood_pressure.json")
        c = self.c
        p = dpath(BPM)
        self.ctl.SetInRange(BPM, False)
        c.acall("c1", p, "org.bluez.Device1", "Connect")
        c.acall("c2", p, "org.bluez.Device1", "Connect")
        r2 = c.result("c2")
        self.assertEqual(r2[2], "org.bluez.Error.InProgress")
        r1 = c.result("c1")
        self.assertEqual(r1[2:], ("org.bluez.Error.Failed", "le-connection-abort-by-local"))
        ch = c.char_path(BPM, "2A49")
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(ch, "org.bluez.GattCharacteristic1", "ReadValue", dbus.Dictionary(
                {}, signature="sv"))
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.Failed")
        self.assertEqual(cm.exception.get_dbus_message(), "Not connected")

    def test_04_start_notify_before_connect(self):
        self.load("blood_pressure.json")
        c = self.c
        ch = c.char_path(BPM, "2A35")
        c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        self.assertEqual(list(self.ctl.GetNotifySessions(BPM, "2A35")), [c.name])
        # not connected: session pending, second call is InProgress (notify_id == 0)
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.InProgress")
        c.connect(BPM)
        # the stored reading (notify_on_subscribe) arrives after CCC is written
        c.wait(lambda: c.pcs(ch, "Value"))
        self.assertEqual(bytes(c.pcs(ch, "Value")[0]).hex().upper(),
                         "1E8A00580078000000041114293B3C00012700")
        self.assertIn(True, c.pcs(ch, "Notifying"))
        i_res = c.index(lambda e: e[0] == "pc" and e[3].get("ServicesResolved") == True)  # noqa: E712
        i_val = c.index(lambda e: e[0] == "pc" and e[1] == ch and "Value" in e[3])
        self.assertLess(i_res, i_val)
        # registered now: a second StartNotify succeeds
        c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")

    def test_05_start_notify_while_disconnecting(self):
        self.load("blood_pressure.json")
        c = self.c
        ch = c.char_path(BPM, "2A35")
        c.connect(BPM)
        c.acall("disc", dpath(BPM), "org.bluez.Device1", "Disconnect")
        c.settle(0.03)
        c.acall("sn", ch, "org.bluez.GattCharacteristic1", "StartNotify")
        r = c.result("sn")
        self.assertEqual(r[2], "org.bluez.Error.NotConnected")
        self.assertEqual(c.result("disc")[0], "reply")

    def test_06_session_survives_reconnect(self):
        self.load("blood_pressure.json")
        c = self.c
        ch = c.char_path(BPM, "2A35")
        c.connect(BPM)
        c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        c.wait(lambda: c.pcs(ch, "Value"))           # stored reading
        self.ctl.RemoteDisconnect(BPM)
        c.wait(lambda: False in c.pcs(dpath(BPM), "Connected"))
        # dropped while disconnected
        self.assertEqual(self.ctl.Notify(BPM, "2A35", dbus.ByteArray(b"\x00\x01")), 0)
        c.events.clear()
        c.connect(BPM)
        c.settle(0.1)
        self.assertEqual(list(self.ctl.GetNotifySessions(BPM, "2A35")), [c.name])
        self.assertEqual(self.ctl.Notify(BPM, "2A35", dbus.ByteArray(b"\x1e\x8a")), 1)
        c.wait(lambda: [v for v in c.pcs(ch, "Value") if bytes(v) == b"\x1e\x8a"])

    def test_07_session_dropped_when_client_leaves(self):
        self.load("blood_pressure.json")
        c = self.c
        ch = c.char_path(BPM, "2A35")
        c.connect(BPM)
        other = Client(self.bus.address)
        other.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        c.wait(lambda: True in c.pcs(ch, "Notifying"))
        self.assertEqual(list(self.ctl.GetNotifySessions(BPM, "2A35")), [other.name])
        other.close()
        c.wait(lambda: False in c.pcs(ch, "Notifying"))
        self.assertEqual(list(self.ctl.GetNotifySessions(BPM, "2A35")), [])

    def test_08_queued_notification_right_after_start_notify(self):
        self.load("pulse_oximeter.json")
        c = self.c
        c.discover(OXI)
        c.connect(OXI)
        ch = c.char_path(OXI, "2A5F")
        self.ctl.QueueNotification(OXI, "2A5F", dbus.ByteArray(bytes.fromhex("1C5F005A00200000000057F0")))
        c.events.clear()
        c.acall("sn", ch, "org.bluez.GattCharacteristic1", "StartNotify")
        c.wait(lambda: c.pcs(ch, "Value"))
        i_n = c.index(lambda e: e[0] == "pc" and e[1] == ch and e[3].get("Notifying") == True)
        i_r = c.index(lambda e: e[0] == "reply" and e[1] == "sn")
        i_v = c.index(lambda e: e[0] == "pc" and e[1] == ch and "Value" in e[3])
        self.assertTrue(0 <= i_n < i_r < i_v, c.events)
        self.assertEqual(bytes(c.pcs(ch, "Value")[0]).hex().upper(), "1C5F005A00200000000057F0")

    def test_09_passkey_pairing(self):
        self.load("glucose.json")
        c = self.c
        p = dpath(GLU)
        # no agent -> AuthenticationFailed
        c.acall("p0", p, "org.bluez.Device1", "Pair")
        self.assertEqual(c.result("p0")[2], "org.bluez.Error.AuthenticationFailed")
        # wrong passkey -> AuthenticationFailed
        agent = Agent(c.conn, "/test/agent", 111111)
        c.call("/org/bluez", "org.bluez.AgentManager1", "RegisterAgent",
               dbus.ObjectPath("/test/agent"), "KeyboardDisplay")
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call("/org/bluez", "org.bluez.AgentManager1", "RegisterAgent",
                   dbus.ObjectPath("/test/agent"), "KeyboardDisplay")
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.AlreadyExists")
        c.call("/org/bluez", "org.bluez.AgentManager1", "RequestDefaultAgent",
               dbus.ObjectPath("/test/agent"))
        c.acall("p1", p, "org.bluez.Device1", "Pair")
        self.assertEqual(c.result("p1")[2], "org.bluez.Error.AuthenticationFailed")
        self.assertEqual(agent.calls[0], ("RequestPasskey", p))
        # right passkey
        agent.passkey = 246810
        c.acall("p2", p, "org.bluez.Device1", "Pair")
        self.assertEqual(c.result("p2")[0], "reply")
        props = c.call(p, "org.freedesktop.DBus.Properties", "GetAll", "org.bluez.Device1")
        self.assertTrue(props["Paired"] and props["Bonded"] and props["Connected"])
        self.assertTrue(props["ServicesResolved"])
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(p, "org.bluez.Device1", "Pair")
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.AlreadyExists")
        agents = list(self.ctl.GetAgents())
        self.assertEqual([(str(a[0]), str(a[1]), bool(a[2])) for a in agents],
                         [(c.name, "/test/agent", True)])
        # agent goes with its client
        c.close()
        self.c = Client(self.bus.address)
        self.c.wait(lambda: not list(self.ctl.GetAgents()))

    def _racp_setup(self, **kw):
        self.load("glucose.json", **kw)
        c = self.c
        c.connect(GLU)
        paths = {u: c.char_path(GLU, u) for u in ("2A18", "2A34", "2A52")}
        return c, paths

    def _racp(self, c, paths, hexreq, tag):
        c.events.clear()
        c.acall(tag, paths["2A52"], "org.bluez.GattCharacteristic1", "WriteValue",
                dbus.ByteArray(bytes.fromhex(hexreq)), dbus.Dictionary({"type": "request"},
                                                                      signature="sv"))
        r = c.result(tag)
        if r[0] == "error":
            return r
        c.wait(lambda: c.pcs(paths["2A52"], "Value"))
        out = []
        for e in c.events:
            if e[0] == "pc" and "Value" in e[3]:
                for u, pth in paths.items():
                    if pth == e[1]:
                        out.append((u, bytes(e[3]["Value"]).hex().upper()))
        return out

    def test_10_racp_server(self):
        c, paths = self._racp_setup()
        # indications not enabled on RACP -> ATT 0x81
        r = self._racp(c, paths, "0101", "w0")
        self.assertEqual(r[2:], ("org.bluez.Error.Failed",
                                 "Operation failed with ATT error: 0x81"))
        for u in ("2A18", "2A34", "2A52"):
            c.call(paths[u], "org.bluez.GattCharacteristic1", "StartNotify")
        out = self._racp(c, paths, "0101", "w1")
        seqs = [int(v[2:6][2:4] + v[2:6][0:2], 16) for u, v in out if u == "2A18"]
        self.assertEqual(seqs, [1, 2, 3, 4, 5])
        self.assertEqual([v for u, v in out if u == "2A34"], ["02030001"])
        self.assertEqual(out[-1], ("2A52", "06000101"))
        # context follows its measurement
        i3 = out.index(("2A18", "130300E807030207050000008EB011"))
        self.assertEqual(out[i3 + 1], ("2A34", "02030001"))
        out = self._racp(c, paths, "0103010400", "w2")      # seq >= 4
        self.assertEqual([v[2:4] for u, v in out if u == "2A18"], ["04", "05"])
        self.assertEqual(out[-1], ("2A52", "06000101"))
        out = self._racp(c, paths, "0103010600", "w3")      # seq >= 6: none
        self.assertEqual(out, [("2A52", "06000106")])
        out = self._racp(c, paths, "0401", "w4")            # count all
        self.assertEqual(out, [("2A52", "05000500")])
        writes = [(short, bytes(v).hex()) for short, v in self.ctl.GetWrites(GLU)]
        self.assertEqual(writes[0], (u128("2a52"), "0101"))

    def test_11_racp_reverse_quirk(self):
        c, paths = self._racp_setup(**{GLU: {"quirks": ["reverse_order"]}})
        for u in ("2A18", "2A34", "2A52"):
            c.call(paths[u], "org.bluez.GattCharacteristic1", "StartNotify")
        out = self._racp(c, paths, "0101", "w1")
        self.assertEqual([v[2:4] for u, v in out if u == "2A18"], ["05", "04", "03", "02", "01"])
        self.assertEqual(out[-1], ("2A52", "06000101"))

    def test_12_att_error_on_write(self):
        self.load("blood_pressure.json")
        c = self.c
        c.connect(BPM)
        ch = c.char_path(BPM, "2A2B")
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(ch, "org.bluez.GattCharacteristic1", "WriteValue",
                   dbus.ByteArray(bytes.fromhex("E807030F0C1E00050000")),
                   dbus.Dictionary({}, signature="sv"))
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.Failed")
        self.assertEqual(cm.exception.get_dbus_message(), "Operation failed with ATT error: 0x80")
        self.assertEqual(len(self.ctl.GetWrites(BPM)), 1)
        self.ctl.SetAttError(BPM, "2A2B", "write", 0)
        c.call(ch, "org.bluez.GattCharacteristic1", "WriteValue",
               dbus.ByteArray(b"\x01"), dbus.Dictionary({}, signature="sv"))
        # read updates the cached Value (a PropertiesChanged that is not a notification)
        v = c.call(ch, "org.bluez.GattCharacteristic1", "ReadValue",
                   dbus.Dictionary({}, signature="sv"), byte_arrays=True)
        self.assertEqual(bytes(v).hex().upper(), "E807030F0C1E00050000")
        c.wait(lambda: c.pcs(ch, "Value"))
        ro = c.char_path(BPM, "2A49")
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(ro, "org.bluez.GattCharacteristic1", "WriteValue",
                   dbus.ByteArray(b"\x01"), dbus.Dictionary({}, signature="sv"))
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.NotSupported")

    def test_13_restart(self):
        self.load("blood_pressure.json")
        c = self.c
        old = self.ctl.Ping()
        ch = c.char_path(BPM, "2A35")
        c.connect(BPM)
        c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        Agent(c.conn, "/test/agent2", 0)
        c.call("/org/bluez", "org.bluez.AgentManager1", "RegisterAgent",
               dbus.ObjectPath("/test/agent2"), "")
        new = self.ctl.Restart(dbus.UInt32(150))
        self.assertNotEqual(old, new)
        c.wait(lambda: ("owner", old, "") in c.events and ("owner", "", new) in c.events)
        self.assertLess(c.events.index(("owner", old, "")), c.events.index(("owner", "", new)))
        objs = c.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        dev = objs[dpath(BPM)]["org.bluez.Device1"]
        self.assertTrue(dev["Bonded"])
        self.assertFalse(dev["Connected"])
        self.assertIn(ch, objs)                       # cached GATT objects are back
        self.assertFalse(objs[ch]["org.bluez.GattCharacteristic1"]["Notifying"])
        self.assertEqual(list(self.ctl.GetNotifySessions(BPM, "2A35")), [])
        self.assertEqual(list(self.ctl.GetAgents()), [])
        c.connect(BPM)                                # works with the new daemon

    def test_14_discovery_rssi_and_gatt_cache_yes(self):
        self.load("pulse_oximeter.json", settings={"gatt_cache": "yes"})
        c = self.c
        p = dpath(OXI)
        objs = c.call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        self.assertNotIn(p, objs)                     # unknown until discovered
        c.call(HCI, "org.bluez.Adapter1", "StartDiscovery")
        c.wait(lambda: [e for e in c.events if e[0] == "added" and e[1] == p])
        added = [e for e in c.events if e[0] == "added" and e[1] == p][0]
        self.assertIn("org.bluez.Device1", added[2])
        props = c.call(p, "org.freedesktop.DBus.Properties", "GetAll", "org.bluez.Device1")
        self.assertEqual(props["RSSI"], -61)
        self.ctl.SetRSSI(OXI, -70)
        c.wait(lambda: -70 in c.pcs(p, "RSSI"))
        c.connect(OXI)
        ch = c.char_path(OXI, "2A5E")
        c.call(ch, "org.bluez.GattCharacteristic1", "StartNotify")
        c.wait(lambda: c.pcs(ch, "Value"))            # spot check sent on subscribe
        c.call(p, "org.bluez.Device1", "Disconnect")
        c.wait(lambda: [e for e in c.events if e[0] == "removed" and e[1] == ch])
        c.call(HCI, "org.bluez.Adapter1", "StopDiscovery")
        c.wait(lambda: [e for e in c.events if e[0] == "pc" and e[1] == p and
                        "RSSI" in e[4]])              # RSSI invalidated
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            c.call(HCI, "org.bluez.Adapter1", "StopDiscovery")
        self.assertEqual(cm.exception.get_dbus_name(), "org.bluez.Error.Failed")
        c.call(HCI, "org.bluez.Adapter1", "RemoveDevice", dbus.ObjectPath(p))
        c.wait(lambda: [e for e in c.events if e[0] == "removed" and e[1] == p])

    def test_15_remote_disconnect_and_default_cache(self):
        # default Cache=always: a non-bonded device keeps its GATT objects
        self.load("pulse_oximeter.json")
        c = self.c
        c.discover(OXI)
        c.connect(OXI)
        c.events.clear()
        self.ctl.RemoteDisconnect(OXI)
        c.wait(lambda: False in c.pcs(dpath(OXI), "Connected"))
        c.settle(0.1)
        self.assertIn(False, c.pcs(dpath(OXI), "ServicesResolved"))
        self.assertFalse([e for e in c.events if e[0] == "removed"])


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1)
