#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""BlueZ (bluetoothd 5.66) D-Bus emulator for varde integration tests.

Owns org.bluez on a (private) bus and exports the object tree bluetoothd
exports: ObjectManager at "/", AgentManager1 at /org/bluez, Adapter1 at
/org/bluez/hci0, Device1 / GattService1 / GattCharacteristic1 /
GattDescriptor1 below it.  Simulated BLE devices (described by a scenario
JSON file, see README.md) sit "on the air" behind the adapter.

A second connection owns org.varde.Emulator (/org/varde/Emulator,
interface org.varde.Emulator1): the test-control API.  It survives an
emulated bluetoothd restart, which closes the org.bluez connection and
opens a new one (new unique name), like a real daemon restart.

Behaviour follows bluez src/device.c, src/adapter.c, src/agent.c and
src/gatt-client.c, including gdbus' signal batching: property changes are
queued and flushed on idle or before any other message is sent (gdbus
g_dbus_send_message() flushes), so several changes made together arrive as
one PropertiesChanged, and "Value" changes are flushed at once
(G_DBUS_PROPERTY_CHANGED_FLAG_FLUSH).

Run: bluez_emulator.py [--bus ADDRESS] [--scenario FILE] [--ready-fd N] [-v]
"""

import argparse
import json
import os
import signal
import sys
import time
from collections import OrderedDict
from xml.sax.saxutils import escape

import dbus
import dbus.lowlevel
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

BLUEZ = "org.bluez"
ERR = "org.bluez.Error."
DBUS_ERR = "org.freedesktop.DBus.Error."
PROPS_IFACE = "org.freedesktop.DBus.Properties"
OM_IFACE = "org.freedesktop.DBus.ObjectManager"
INTRO_IFACE = "org.freedesktop.DBus.Introspectable"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
AGENT_MGR_IFACE = "org.bluez.AgentManager1"
AGENT_IFACE = "org.bluez.Agent1"
SERVICE_IFACE = "org.bluez.GattService1"
CHRC_IFACE = "org.bluez.GattCharacteristic1"
DESC_IFACE = "org.bluez.GattDescriptor1"
CTL_NAME = "org.varde.Emulator"
CTL_PATH = "/org/varde/Emulator"
CTL_IFACE = "org.varde.Emulator1"

BASE_UUID = "-0000-1000-8000-00805f9b34fb"
CCC_UUID = "00002902" + BASE_UUID

VERBOSE = False


def log(*a):
    if VERBOSE:
        sys.stderr.write("[emu %.3f] %s\n" % (time.monotonic(), " ".join(str(x) for x in a)))
        sys.stderr.flush()


def full_uuid(u):
    """'2A35', '0x2a35', '00002a35' or a 128-bit string -> 128-bit lower case."""
    u = str(u).strip().lower()
    if u.startswith("0x"):
        u = u[2:]
    if len(u) <= 4:
        return "%08x" % int(u, 16) + BASE_UUID
    if len(u) == 8:
        return u + BASE_UUID
    return u


def short_uuid(u):
    u = full_uuid(u)
    if u.endswith(BASE_UUID) and u.startswith("0000"):
        return u[4:8].upper()
    return u


def hexbytes(v):
    if v is None:
        return b""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, list):
        return bytes(v)
    return bytes.fromhex(str(v).replace(" ", "").replace(":", ""))


def addr_path(adapter_path, address):
    return "%s/dev_%s" % (adapter_path, address.upper().replace(":", "_"))


# --------------------------------------------------------------------------
# D-Bus typing helpers

def typed(sig, v):
    if sig == "s":
        return dbus.String(v)
    if sig == "o":
        return dbus.ObjectPath(v)
    if sig == "b":
        return dbus.Boolean(bool(v))
    if sig == "n":
        return dbus.Int16(v)
    if sig == "q":
        return dbus.UInt16(v)
    if sig == "u":
        return dbus.UInt32(v)
    if sig == "y":
        return dbus.Byte(v)
    if sig == "ay":
        return dbus.ByteArray(bytes(v))
    if sig == "as":
        return dbus.Array([dbus.String(x) for x in v], signature="s")
    if sig == "ao":
        return dbus.Array([dbus.ObjectPath(x) for x in v], signature="o")
    if sig == "a{qv}":
        return dbus.Dictionary({dbus.UInt16(k): dbus.ByteArray(bytes(b), variant_level=1)
                                for k, b in v.items()}, signature="qv")
    if sig == "a{sv}":
        return dbus.Dictionary({dbus.String(k): dbus.ByteArray(bytes(b), variant_level=1)
                                for k, b in v.items()}, signature="sv")
    raise ValueError("unsupported signature " + sig)


# Interface descriptions for introspection and argument checking.
# methods: name -> (in signature, out signature); props: name -> (sig, rw)
IFACE_SPECS = {
    INTRO_IFACE: {"methods": {"Introspect": ("", "s")}},
    PROPS_IFACE: {"methods": {"Get": ("ss", "v"), "GetAll": ("s", "a{sv}"),
                              "Set": ("ssv", "")},
                  "signals": {"PropertiesChanged": "sa{sv}as"}},
    OM_IFACE: {"methods": {"GetManagedObjects": ("", "a{oa{sa{sv}}}")},
               "signals": {"InterfacesAdded": "oa{sa{sv}}", "InterfacesRemoved": "oas"}},
    AGENT_MGR_IFACE: {"methods": {"RegisterAgent": ("os", ""), "UnregisterAgent": ("o", ""),
                                  "RequestDefaultAgent": ("o", "")}},
    ADAPTER_IFACE: {
        "methods": {"StartDiscovery": ("", ""), "StopDiscovery": ("", ""),
                    "SetDiscoveryFilter": ("a{sv}", ""), "GetDiscoveryFilters": ("", "as"),
                    "RemoveDevice": ("o", "")},
        "props": OrderedDict([
            ("Address", ("s", False)), ("AddressType", ("s", False)), ("Name", ("s", False)),
            ("Alias", ("s", True)), ("Class", ("u", False)), ("Powered", ("b", True)),
            ("Discoverable", ("b", True)), ("DiscoverableTimeout", ("u", True)),
            ("Pairable", ("b", True)), ("PairableTimeout", ("u", True)),
            ("Discovering", ("b", False)), ("UUIDs", ("as", False)),
            ("Modalias", ("s", False)), ("Roles", ("as", False))])},
    DEVICE_IFACE: {
        "methods": {"Connect": ("", ""), "Disconnect": ("", ""), "Pair": ("", ""),
                    "CancelPairing": ("", ""), "ConnectProfile": ("s", ""),
                    "DisconnectProfile": ("s", "")},
        "props": OrderedDict([
            ("Address", ("s", False)), ("AddressType", ("s", False)), ("Name", ("s", False)),
            ("Alias", ("s", True)), ("Appearance", ("q", False)), ("Icon", ("s", False)),
            ("Paired", ("b", False)), ("Bonded", ("b", False)), ("Trusted", ("b", True)),
            ("Blocked", ("b", True)), ("LegacyPairing", ("b", False)), ("RSSI", ("n", False)),
            ("Connected", ("b", False)), ("UUIDs", ("as", False)), ("Adapter", ("o", False)),
            ("ManufacturerData", ("a{qv}", False)), ("ServiceData", ("a{sv}", False)),
            ("ServicesResolved", ("b", False))])},
    SERVICE_IFACE: {"methods": {}, "props": OrderedDict([
        ("UUID", ("s", False)), ("Device", ("o", False)), ("Primary", ("b", False)),
        ("Includes", ("ao", False))])},
    CHRC_IFACE: {
        "methods": {"ReadValue": ("a{sv}", "ay"), "WriteValue": ("aya{sv}", ""),
                    "AcquireWrite": ("a{sv}", "hq"), "AcquireNotify": ("a{sv}", "hq"),
                    "StartNotify": ("", ""), "StopNotify": ("", "")},
        "props": OrderedDict([
            ("UUID", ("s", False)), ("Service", ("o", False)), ("Value", ("ay", False)),
            ("Notifying", ("b", False)), ("Flags", ("as", False)),
            ("WriteAcquired", ("b", False)), ("NotifyAcquired", ("b", False))])},
    DESC_IFACE: {
        "methods": {"ReadValue": ("a{sv}", "ay"), "WriteValue": ("aya{sv}", "")},
        "props": OrderedDict([("UUID", ("s", False)), ("Characteristic", ("o", False)),
                              ("Value", ("ay", False))])},
}

ARG_NAMES = {"Get": ["interface", "name"], "GetAll": ["interface"],
             "Set": ["interface", "name", "value"], "RegisterAgent": ["agent", "capability"],
             "UnregisterAgent": ["agent"], "RequestDefaultAgent": ["agent"],
             "RemoveDevice": ["device"], "SetDiscoveryFilter": ["filter"],
             "ReadValue": ["options"], "WriteValue": ["value", "options"]}


def split_sig(sig):
    """Split a D-Bus signature into complete types."""
    out, i = [], 0
    while i < len(sig):
        j = i
        while sig[j] == "a":
            j += 1
        if sig[j] in "({":
            depth, k = 0, j
            while True:
                if sig[k] in "({":
                    depth += 1
                elif sig[k] in ")}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            j = k
        out.append(sig[i:j + 1])
        i = j + 1
    return out


def introspect_xml(ifaces, children):
    x = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
         ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">', "<node>"]
    for name in ifaces:
        spec = IFACE_SPECS[name]
        x.append('  <interface name="%s">' % name)
        for m, (i, o) in sorted(spec.get("methods", {}).items()):
            x.append('    <method name="%s">' % m)
            names = ARG_NAMES.get(m, [])
            for n, t in enumerate(split_sig(i)):
                an = names[n] if n < len(names) else "arg%d" % n
                x.append('      <arg name="%s" type="%s" direction="in"/>' % (an, escape(t)))
            for n, t in enumerate(split_sig(o)):
                x.append('      <arg name="out%d" type="%s" direction="out"/>' % (n, escape(t)))
            x.append("    </method>")
        for s, t in spec.get("signals", {}).items():
            x.append('    <signal name="%s">' % s)
            for n, tt in enumerate(split_sig(t)):
                x.append('      <arg name="arg%d" type="%s"/>' % (n, escape(tt)))
            x.append("    </signal>")
        for p, (t, rw) in spec.get("props", {}).items():
            x.append('    <property name="%s" type="%s" access="%s"/>'
                     % (p, escape(t), "readwrite" if rw else "read"))
        x.append("  </interface>")
    for c in children:
        x.append('  <node name="%s"/>' % c)
    x.append("</node>")
    return "\n".join(x)


class Call:
    """An incoming method call; reply now or later (async like gdbus)."""

    def __init__(self, bus, msg):
        self.bus = bus
        self.msg = msg
        self.sender = msg.get_sender()
        self.member = msg.get_member()
        self.done = False
        self.gen = bus.generation

    def reply(self, sig="", *vals):
        if self.done:
            return
        self.done = True
        if self.msg.get_no_reply() or self.gen != self.bus.generation:
            return
        r = dbus.lowlevel.MethodReturnMessage(self.msg)
        if sig:
            r.append(*vals, signature=sig)
        self.bus.send(r)

    def error(self, name, text):
        if self.done:
            return
        self.done = True
        log("error reply", self.member, name, text)
        if self.msg.get_no_reply() or self.gen != self.bus.generation:
            return
        self.bus.send(dbus.lowlevel.ErrorMessage(self.msg, name, text))


class BluezError(Exception):
    def __init__(self, name, text):
        Exception.__init__(self, text)
        self.name = name
        self.text = text


def err_failed(text):
    return BluezError(ERR + "Failed", text)


def att_error(code):
    """create_gatt_dbus_error() of src/gatt-client.c"""
    if code == 0x02:
        return BluezError(ERR + "NotPermitted", "Read not permitted")
    if code == 0x03:
        return BluezError(ERR + "NotPermitted", "Write not permitted")
    if code in (0x05, 0x0F, 0x0C):
        return BluezError(ERR + "NotPermitted", "Not paired")
    if code == 0x07:
        return BluezError(ERR + "InvalidArguments", "Invalid offset")
    if code == 0x0D:
        return BluezError(ERR + "InvalidArguments", "Invalid Length")
    if code == 0x08:
        return BluezError(ERR + "NotAuthorized", "Operation Not Authorized")
    if code == 0x06:
        return BluezError(ERR + "NotSupported", "Operation is not supported")
    if code == 0:
        return err_failed("Operation failed")
    return err_failed("Operation failed with ATT error: 0x%02x" % code)


# --------------------------------------------------------------------------
# The org.bluez connection, with gdbus-like batching of signals

class BluezBus:
    def __init__(self, emu):
        self.emu = emu
        self.conn = None
        self.generation = 0
        self.objects = OrderedDict()      # path -> Obj (exported)
        self.pending = []                 # ordered list of pending change records
        self.pending_props = {}           # (path, iface) -> record
        self.idle_id = 0
        self.flushing = False
        self.closed_conns = []

    # -- connection lifecycle
    def open(self, address):
        self.generation += 1
        self.conn = dbus.bus.BusConnection(address)
        self.conn.set_exit_on_disconnect(False)
        self.conn._register_object_path("/", self._on_message, None, True)
        self.conn.add_signal_receiver(self._name_owner_changed, "NameOwnerChanged",
                                      "org.freedesktop.DBus", "org.freedesktop.DBus",
                                      "/org/freedesktop/DBus")
        return self.conn

    def request_name(self):
        r = self.conn.request_name(BLUEZ, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
        if r not in (dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER,
                     dbus.bus.REQUEST_NAME_REPLY_ALREADY_OWNER):
            raise RuntimeError("could not own " + BLUEZ)

    def close(self):
        self.generation += 1
        self.pending = []
        self.pending_props = {}
        if self.idle_id:
            GLib.source_remove(self.idle_id)
            self.idle_id = 0
        self.objects = OrderedDict()
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception as e:  # pragma: no cover
                log("close failed", e)
            # keep the Python object alive: libdbus may still dispatch the
            # queued Disconnected message to it from the main loop
            self.closed_conns.append(self.conn)
        self.conn = None

    @property
    def unique_name(self):
        return self.conn.get_unique_name() if self.conn else ""

    def _name_owner_changed(self, name, old, new):
        if name.startswith(":") and old and not new:
            self.emu.client_left(name)

    # -- sending
    def send(self, msg):
        if self.conn is None:
            return
        self.flush()
        self.conn.send_message(msg)

    def _signal(self, path, iface, member, sig, *args):
        m = dbus.lowlevel.SignalMessage(path, iface, member)
        m.append(*args, signature=sig)
        self.conn.send_message(m)

    def call_async(self, dest, path, iface, method, sig, args, ok, fail, timeout=25.0):
        if self.conn is None:
            return
        self.flush()
        gen = self.generation

        def _ok(*a):
            if gen == self.generation:
                ok(*a)

        def _fail(e):
            if gen == self.generation:
                fail(e)
        self.conn.call_async(dest, path, iface, method, sig, args, _ok, _fail,
                             timeout=timeout)

    # -- object export / change batching
    def _schedule(self):
        if not self.idle_id and self.conn is not None:
            self.idle_id = GLib.idle_add(self._idle_flush)

    def _idle_flush(self):
        self.idle_id = 0
        self.flush()
        return False

    def export(self, obj):
        if obj.path in self.objects:
            return
        self.objects[obj.path] = obj
        if self.conn is None:
            return
        self.pending.append({"kind": "added", "path": obj.path, "obj": obj})
        self._schedule()

    def unexport(self, obj):
        if obj.path not in self.objects:
            return
        del self.objects[obj.path]
        if self.conn is None:
            return
        added = [r for r in self.pending if r["kind"] == "added" and r["path"] == obj.path]
        if added:   # never announced: drop silently
            for r in added:
                self.pending.remove(r)
        else:
            self.pending.append({"kind": "removed", "path": obj.path,
                                 "ifaces": list(obj.all_ifaces())})
        for key in [k for k in self.pending_props if k[0] == obj.path]:
            rec = self.pending_props.pop(key)
            if rec in self.pending:
                self.pending.remove(rec)
        self._schedule()

    def changed(self, obj, iface, *names, flush=False):
        if self.conn is None or obj.path not in self.objects:
            return
        if any(r["kind"] == "added" and r["path"] == obj.path for r in self.pending):
            return   # InterfacesAdded will carry the current values
        key = (obj.path, iface)
        rec = self.pending_props.get(key)
        if rec is None:
            rec = {"kind": "props", "path": obj.path, "iface": iface, "names": [], "obj": obj}
            self.pending_props[key] = rec
            self.pending.append(rec)
        for n in names:
            if n not in rec["names"]:
                rec["names"].append(n)
        if flush:
            self.flush_object(obj.path)
        else:
            self._schedule()

    def flush_object(self, path):
        """G_DBUS_PROPERTY_CHANGED_FLAG_FLUSH: emit this object's pending
        property changes now (after anything queued before them)."""
        self.flush()

    def flush(self):
        if self.flushing or self.conn is None:
            return
        self.flushing = True
        try:
            while self.pending:
                rec = self.pending.pop(0)
                if rec["kind"] == "added":
                    obj = rec["obj"]
                    self._signal("/", OM_IFACE, "InterfacesAdded", "oa{sa{sv}}",
                                 dbus.ObjectPath(obj.path), obj.all_props_dict())
                elif rec["kind"] == "removed":
                    self._signal("/", OM_IFACE, "InterfacesRemoved", "oas",
                                 dbus.ObjectPath(rec["path"]),
                                 dbus.Array(rec["ifaces"], signature="s"))
                else:
                    self.pending_props.pop((rec["path"], rec["iface"]), None)
                    props = rec["obj"].props(rec["iface"])
                    # gdbus walks its property table: table order, absent
                    # properties are reported as invalidated
                    changed = dbus.Dictionary({}, signature="sv")
                    for n in props:
                        if n in rec["names"]:
                            changed[n] = props[n]
                    inval = [n for n in rec["names"] if n not in props]
                    self._signal(rec["path"], PROPS_IFACE, "PropertiesChanged", "sa{sv}as",
                                 rec["iface"], changed, dbus.Array(inval, signature="s"))
        finally:
            self.flushing = False

    # -- dispatch
    def _on_message(self, conn, msg):
        if not isinstance(msg, dbus.lowlevel.MethodCallMessage):
            return
        call = Call(self, msg)
        path, iface, member = msg.get_path(), msg.get_interface(), msg.get_member()
        sig = msg.get_signature() or ""
        obj = self.objects.get(path)
        try:
            if iface == INTRO_IFACE and member == "Introspect":
                prefix = "" if path == "/" else path
                kids = set()
                for p in self.objects:
                    if p.startswith(prefix + "/") and p != path:
                        kids.add(p[len(prefix) + 1:].split("/")[0])
                # intermediate nodes such as /org
                ifaces = obj.all_ifaces() if obj is not None else [INTRO_IFACE]
                call.reply("s", introspect_xml(ifaces, sorted(kids)))
                return
            if obj is None:
                raise BluezError(DBUS_ERR + "UnknownObject",
                                 "Method \"%s\" with signature \"%s\" on interface \"%s\" "
                                 "doesn't exist" % (member, sig, iface))
            ifaces = obj.all_ifaces()
            if iface is None:
                for i in ifaces:
                    if member in IFACE_SPECS[i].get("methods", {}):
                        iface = i
                        break
            if iface not in ifaces or member not in IFACE_SPECS[iface].get("methods", {}):
                raise BluezError(DBUS_ERR + "UnknownMethod",
                                 "Method \"%s\" with signature \"%s\" on interface \"%s\" "
                                 "doesn't exist" % (member, sig, iface))
            in_sig = IFACE_SPECS[iface]["methods"][member][0]
            if sig != in_sig:
                raise BluezError(DBUS_ERR + "InvalidArgs", "Invalid arguments in method call")
            args = msg.get_args_list(byte_arrays=True)
            if iface == PROPS_IFACE:
                self._props_call(obj, call, member, args)
            elif iface == OM_IFACE:
                call.reply("a{oa{sa{sv}}}", self.managed_objects())
            else:
                getattr(obj, "m_" + member)(call, *args)
        except BluezError as e:
            call.error(e.name, e.text)
        except Exception as e:  # keep the daemon alive, like bluetoothd would
            import traceback
            traceback.print_exc()
            call.error(ERR + "Failed", "emulator internal error: %s" % e)

    def _props_call(self, obj, call, member, args):
        iface = args[0]
        if iface not in obj.all_ifaces() or iface in (PROPS_IFACE, INTRO_IFACE):
            if member == "GetAll":
                call.reply("a{sv}", dbus.Dictionary({}, signature="sv"))
                return
            raise BluezError(DBUS_ERR + "InvalidArgs", "No such interface '%s'" % iface)
        props = obj.props(iface)
        if member == "GetAll":
            call.reply("a{sv}", props)
        elif member == "Get":
            if args[1] not in props:
                raise BluezError(DBUS_ERR + "InvalidArgs", "No such property '%s'" % args[1])
            call.reply("v", props[args[1]])
        else:
            name, value = args[1], args[2]
            spec = IFACE_SPECS[iface].get("props", {}).get(name)
            if spec is None:
                raise BluezError(DBUS_ERR + "UnknownProperty", "No such property '%s'" % name)
            if not spec[1]:
                raise BluezError(DBUS_ERR + "PropertyReadOnly",
                                 "Property '%s' is not writable" % name)
            want = {"b": dbus.Boolean, "s": (dbus.String, str), "u": dbus.UInt32}[spec[0]]
            if not isinstance(value, want):
                raise BluezError(DBUS_ERR + "InvalidArgs", "Invalid argument type: '%s'"
                                 % (getattr(value, "signature", None) or type(value).__name__))
            obj.set_prop(call, iface, name, value)

    def managed_objects(self):
        out = dbus.Dictionary({}, signature="oa{sa{sv}}")
        for path, obj in self.objects.items():
            if path == "/":
                continue
            out[dbus.ObjectPath(path)] = obj.all_props_dict()
        return out


class Obj:
    IFACES = []

    def __init__(self, emu, path):
        self.emu = emu
        self.path = path

    def all_ifaces(self):
        return [INTRO_IFACE] + self.IFACES + [PROPS_IFACE]

    def props(self, iface):
        out = dbus.Dictionary({}, signature="sv")
        spec = IFACE_SPECS[iface].get("props", {})
        for name, val in self.prop_values(iface):
            out[name] = typed(spec[name][0], val)
        return out

    def all_props_dict(self):
        d = dbus.Dictionary({}, signature="sa{sv}")
        d[INTRO_IFACE] = dbus.Dictionary({}, signature="sv")
        for i in self.IFACES:
            d[i] = self.props(i)
        d[PROPS_IFACE] = dbus.Dictionary({}, signature="sv")
        return d

    def prop_values(self, iface):
        return []

    def set_prop(self, call, iface, name, value):
        raise BluezError(DBUS_ERR + "PropertyReadOnly", "Property '%s' is not writable" % name)

    def changed(self, iface, *names, flush=False):
        self.emu.bus.changed(self, iface, *names, flush=flush)


class RootObj(Obj):
    IFACES = [OM_IFACE]

    def all_props_dict(self):   # not reported by GetManagedObjects
        return dbus.Dictionary({}, signature="sa{sv}")


# --------------------------------------------------------------------------
# Agents

CAPABILITIES = ("", "DisplayOnly", "DisplayYesNo", "KeyboardOnly", "NoInputNoOutput",
                "KeyboardDisplay")


class AgentManager(Obj):
    IFACES = [AGENT_MGR_IFACE]

    def __init__(self, emu):
        Obj.__init__(self, emu, "/org/bluez")
        self.agents = OrderedDict()      # owner -> (path, capability)
        self.default_stack = []          # owners, most recent last

    def reset(self):
        self.agents.clear()
        self.default_stack = []

    def m_RegisterAgent(self, call, path, cap):
        if cap not in CAPABILITIES:
            raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
        if call.sender in self.agents:
            raise BluezError(ERR + "AlreadyExists", "Already Exists")
        self.agents[call.sender] = (str(path), str(cap) or "KeyboardDisplay")
        log("agent registered", call.sender, path, cap)
        call.reply()

    def m_UnregisterAgent(self, call, path):
        a = self.agents.get(call.sender)
        if a is None or a[0] != path:
            raise BluezError(ERR + "DoesNotExist", "Does Not Exist")
        self.drop(call.sender)
        call.reply()

    def m_RequestDefaultAgent(self, call, path):
        a = self.agents.get(call.sender)
        if a is None or a[0] != path:
            raise BluezError(ERR + "DoesNotExist", "Does Not Exist")
        if call.sender in self.default_stack:
            self.default_stack.remove(call.sender)
        self.default_stack.append(call.sender)
        call.reply()

    def drop(self, owner):
        if owner in self.agents:
            log("agent dropped", owner)
            del self.agents[owner]
        if owner in self.default_stack:
            self.default_stack.remove(owner)

    def agent_for(self, owner):
        """agent_get(): the caller's own agent, else the default agent."""
        if owner in self.agents:
            return owner, self.agents[owner]
        for o in reversed(self.default_stack):
            if o in self.agents:
                return o, self.agents[o]
        return None, None


# --------------------------------------------------------------------------
# Adapter

class Adapter(Obj):
    IFACES = [ADAPTER_IFACE]

    def __init__(self, emu, cfg):
        Obj.__init__(self, emu, "/org/bluez/hci0")
        self.address = cfg.get("address", "00:1A:7D:DA:71:13").upper()
        self.name = cfg.get("name", "varde-gateway")
        self.alias = cfg.get("alias", self.name)
        self.powered = bool(cfg.get("powered", True))
        self.discoverable = False
        self.pairable = True
        self.sessions = OrderedDict()    # owner -> filter dict
        self.sessions_filters = {}       # owner -> filter set by SetDiscoveryFilter
        self.devices = OrderedDict()     # address -> Device

    @property
    def discovering(self):
        return bool(self.sessions) and self.powered

    def prop_values(self, iface):
        return [("Address", self.address), ("AddressType", "public"), ("Name", self.name),
                ("Alias", self.alias), ("Class", 0x000000), ("Powered", self.powered),
                ("Discoverable", self.discoverable), ("DiscoverableTimeout", 180),
                ("Pairable", self.pairable), ("PairableTimeout", 0),
                ("Discovering", self.discovering),
                ("UUIDs", [full_uuid("1800"), full_uuid("1801"), full_uuid("180a")]),
                ("Modalias", "usb:v1D6Bp0246d0542"), ("Roles", ["central", "peripheral"])]

    def set_prop(self, call, iface, name, value):
        if name == "Alias":
            self.alias = str(value) or self.name
        elif name == "Powered":
            self.set_powered(bool(value))
        elif name == "Discoverable":
            self.discoverable = bool(value)
        elif name == "Pairable":
            self.pairable = bool(value)
        elif name in ("DiscoverableTimeout", "PairableTimeout"):
            pass
        self.changed(ADAPTER_IFACE, name)
        call.reply()

    def set_powered(self, on):
        if on == self.powered:
            return
        was = self.discovering
        self.powered = on
        if not on:
            for d in self.devices.values():
                d.link_lost("adapter powered off")
            self.sessions.clear()
        if was != self.discovering:
            self.discovery_changed(was)
        self.changed(ADAPTER_IFACE, "Powered")

    def m_StartDiscovery(self, call):
        if not self.powered:
            raise BluezError(ERR + "NotReady", "Resource Not Ready")
        if call.sender in self.sessions:
            raise BluezError(ERR + "InProgress", "Operation already in progress")
        was = self.discovering
        self.sessions[call.sender] = self.sessions_filters.get(call.sender, {})
        call.reply()
        if not was:
            self.discovery_changed(was)

    def m_StopDiscovery(self, call):
        if call.sender not in self.sessions:
            raise BluezError(ERR + "Failed", "No discovery started")
        was = self.discovering
        del self.sessions[call.sender]
        call.reply()
        if was != self.discovering:
            self.discovery_changed(was)

    def m_SetDiscoveryFilter(self, call, flt):
        allowed = {"UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData",
                   "Discoverable", "Pattern"}
        for k in flt:
            if k not in allowed:
                raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
        if "RSSI" in flt and "Pathloss" in flt:
            raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
        if "Transport" in flt and flt["Transport"] not in ("auto", "bredr", "le"):
            raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
        f = {"uuids": [full_uuid(u) for u in flt.get("UUIDs", [])],
             "rssi": int(flt["RSSI"]) if "RSSI" in flt else None}
        # bluez keeps the filter for the client, used by its next StartDiscovery
        self.sessions_filters[call.sender] = f
        if call.sender in self.sessions:
            self.sessions[call.sender] = f
        call.reply()
        self.emu.rescan()

    def m_GetDiscoveryFilters(self, call):
        call.reply("as", dbus.Array(["UUIDs", "RSSI", "Pathloss", "Transport",
                                     "DuplicateData", "Discoverable", "Pattern"],
                                    signature="s"))

    def m_RemoveDevice(self, call, path):
        dev = None
        for d in self.devices.values():
            if d.path == path and d.exported:
                dev = d
        if dev is None:
            raise BluezError(ERR + "DoesNotExist", "Does Not Exist")
        dev.remove_from_bluez()
        call.reply()
        GLib.timeout_add(50, lambda: (self.emu.rescan(), False)[1])

    def discovery_changed(self, was):
        self.changed(ADAPTER_IFACE, "Discovering")
        if not self.discovering:
            # adapter.c discovery_cleanup(): invalidate RSSI / TxPower
            for d in self.devices.values():
                if d.rssi_visible:
                    d.rssi_visible = False
                    if d.exported:
                        d.changed(DEVICE_IFACE, "RSSI")
        self.emu.rescan()

    def client_left(self, owner):
        self.sessions_filters.pop(owner, None)
        if owner in self.sessions:
            was = self.discovering
            del self.sessions[owner]
            if was != self.discovering:
                self.discovery_changed(was)

    def sees(self, dev):
        """Would an advertisement of dev be reported by the current scan?"""
        if not (self.discovering and dev.in_range and dev.advertising):
            return False
        for f in self.sessions.values():
            if f.get("uuids") and not set(f["uuids"]) & set(dev.adv_uuids()):
                continue
            if f.get("rssi") is not None and dev.rssi < f["rssi"]:
                continue
            return True
        return False


# --------------------------------------------------------------------------
# GATT objects

class Service(Obj):
    IFACES = [SERVICE_IFACE]

    def __init__(self, emu, dev, cfg, handle):
        self.dev = dev
        self.uuid = full_uuid(cfg["uuid"])
        self.primary = cfg.get("primary", True)
        self.handle = handle
        Obj.__init__(self, emu, "%s/service%04x" % (dev.path, handle))
        self.chars = []
        h = handle
        for c in cfg.get("characteristics", []):
            ch = Characteristic(emu, self, c, h + 1)
            self.chars.append(ch)
            h = ch.last_handle
        self.end_handle = h

    def prop_values(self, iface):
        return [("UUID", self.uuid), ("Device", self.dev.path), ("Primary", self.primary),
                ("Includes", [])]


class Characteristic(Obj):
    IFACES = [CHRC_IFACE]

    def __init__(self, emu, svc, cfg, handle):
        self.svc = svc
        self.dev = svc.dev
        self.uuid = full_uuid(cfg["uuid"])
        self.handle = handle
        Obj.__init__(self, emu, "%s/char%04x" % (svc.path, handle))
        self.flags = list(cfg.get("flags", ["read"]))
        self.value_handle = handle + 1
        self.last_handle = self.value_handle
        self.desc = None
        if self.can_notify():
            self.desc = Descriptor(emu, self, self.value_handle + 1)
            self.last_handle = self.value_handle + 1
        # D-Bus side (bluetoothd's view)
        self.cached = None               # "Value" property; absent until read/notified
        self.notifying = False
        self.sessions = OrderedDict()    # owner -> {"registered": bool, "call": Call|None}
        self.write_busy = False

    def can_notify(self):
        return "notify" in self.flags or "indicate" in self.flags

    @property
    def model(self):
        return self.dev.chars_model[self.uuid]

    def prop_values(self, iface):
        v = [("UUID", self.uuid), ("Service", self.svc.path)]
        if self.cached:
            v.append(("Value", self.cached))
        if self.can_notify():
            v.append(("Notifying", self.notifying))
        v.append(("Flags", self.flags))
        if "write-without-response" in self.flags:
            v.append(("WriteAcquired", False))
        if "notify" in self.flags:
            v.append(("NotifyAcquired", False))
        return v

    def registered_sessions(self):
        return [o for o, s in self.sessions.items() if s["registered"]]

    def set_cached(self, value):
        """gatt_db_attribute_write + write_characteristic_cb: always emits,
        flushed immediately."""
        self.cached = bytes(value)
        self.changed(CHRC_IFACE, "Value", flush=True)

    # -- methods
    def _parse_options(self, opts):
        offset, wtype = 0, None
        for k, v in opts.items():
            if k == "offset":
                if not isinstance(v, dbus.UInt16):
                    raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
                offset = int(v)
            elif k == "type":
                if not isinstance(v, dbus.String):
                    raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")
                wtype = str(v)
        return offset, wtype

    def m_ReadValue(self, call, opts):
        if not self.dev.link_up():
            raise err_failed("Not connected")
        offset, _ = self._parse_options(opts)
        self.dev.gatt_read(self, call, offset)

    def m_WriteValue(self, call, value, opts):
        if not self.dev.link_up():
            raise err_failed("Not connected")
        if self.write_busy:
            raise BluezError(ERR + "InProgress", "In Progress")
        offset, wtype = self._parse_options(opts)
        value = bytes(value)
        f = self.flags
        if wtype is not None and wtype.lower() == "reliable" or \
                (wtype is None and "reliable-write" in f):
            return self.dev.gatt_write(self, call, value, "reliable")
        if (wtype is None and "write" in f) or (wtype is not None and wtype.lower() == "request"):
            return self.dev.gatt_write(self, call, value, "request")
        if (wtype is not None and wtype.lower() != "command") or offset or \
                (wtype is None and "write-without-response" not in f):
            raise BluezError(ERR + "NotSupported", "Operation is not supported")
        call.reply()     # write command: no ATT response
        self.dev.gatt_write(self, None, value, "command")

    def m_AcquireWrite(self, call, opts):
        raise BluezError(ERR + "NotSupported", "Operation is not supported (emulator)")

    def m_AcquireNotify(self, call, opts):
        raise BluezError(ERR + "NotSupported", "Operation is not supported (emulator)")

    def m_StartNotify(self, call):
        dev = self.dev
        if dev.state == "disconnecting":
            raise BluezError(ERR + "NotConnected", "Not Connected")
        if not self.can_notify():
            raise BluezError(ERR + "NotSupported", "Operation is not supported")
        s = self.sessions.get(call.sender)
        if s is not None:
            if s["registered"]:
                call.reply()
                return
            raise BluezError(ERR + "InProgress", "In Progress")
        self.sessions[call.sender] = {"registered": False, "call": None}
        log("StartNotify", self.uuid, call.sender, dev.state)
        if not dev.link_up():
            call.reply()        # takes effect on the next connection
            return
        self.sessions[call.sender]["call"] = call
        if dev.gatt_ready:
            dev.later(dev.timing("gatt_delay_ms"), dev.register_notify, self, call.sender)
        # else: registered when the GATT client becomes ready

    def m_StopNotify(self, call):
        s = self.sessions.pop(call.sender, None)
        if s is None:
            raise err_failed("No notify session started")
        if s["call"] is not None:
            s["call"].error(ERR + "Failed", "Operation failed")
        self.update_notifying()
        call.reply()
        self.dev.update_ccc(self)

    def update_notifying(self):
        if self.notifying and not self.registered_sessions():
            self.notifying = False
            self.changed(CHRC_IFACE, "Notifying")

    def drop_owner(self, owner):
        s = self.sessions.pop(owner, None)
        if s is not None:
            self.update_notifying()
            self.dev.update_ccc(self)


class Descriptor(Obj):
    IFACES = [DESC_IFACE]

    def __init__(self, emu, chrc, handle):
        self.chrc = chrc
        self.uuid = CCC_UUID
        Obj.__init__(self, emu, "%s/desc%04x" % (chrc.path, handle))
        self.cached = None

    def prop_values(self, iface):
        v = [("UUID", self.uuid), ("Characteristic", self.chrc.path)]
        if self.cached:
            v.append(("Value", self.cached))
        return v

    def m_ReadValue(self, call, opts):
        if not self.chrc.dev.link_up():
            raise err_failed("Not connected")
        ccc = self.chrc.dev.ccc.get(self.chrc.uuid, 0)
        val = bytes([ccc & 0xFF, 0])
        self.cached = val
        self.changed(DESC_IFACE, "Value")
        call.reply("ay", dbus.ByteArray(val))

    def m_WriteValue(self, call, value, opts):
        if not self.chrc.dev.link_up():
            raise err_failed("Not connected")
        raise BluezError(ERR + "NotPermitted", "Write not permitted")


# --------------------------------------------------------------------------
# Devices: bluetoothd's Device1 object plus the simulated peripheral behind it

class Device(Obj):
    IFACES = [DEVICE_IFACE]

    def __init__(self, emu, adapter, cfg):
        self.adapter = adapter
        self.address = cfg["address"].upper()
        Obj.__init__(self, emu, addr_path(adapter.path, self.address))
        self.cfg = cfg
        self.name = cfg.get("name")
        self.alias = cfg.get("alias")
        self.address_type = cfg.get("address_type", "public")
        self.appearance = cfg.get("appearance")
        self.paired = bool(cfg.get("paired", cfg.get("bonded", False)))
        self.bonded = bool(cfg.get("bonded", False))
        self.trusted = bool(cfg.get("trusted", False))
        self.blocked = False
        self.known = bool(cfg.get("known", False)) or self.bonded or self.paired
        self.in_range = bool(cfg.get("in_range", True))
        self.advertising = bool(cfg.get("advertising", False))
        self.rssi = int(cfg.get("rssi", -60))
        self.rssi_visible = False
        self.manufacturer_data = {int(str(k), 0): hexbytes(v)
                                  for k, v in cfg.get("manufacturer_data", {}).items()}
        self.service_data = {full_uuid(k): hexbytes(v)
                             for k, v in cfg.get("service_data", {}).items()}
        pairing = cfg.get("pairing", {})
        self.pair_method = pairing.get("method", "passkey" if "passkey" in pairing or
                                       "passkey" in cfg else "just-works")
        self.passkey = pairing.get("passkey", cfg.get("passkey"))
        self.bonds = pairing.get("bond", True)
        self.quirks = set(cfg.get("quirks", []))
        # GATT database
        self.services = []
        h = int(str(cfg.get("first_handle", "0x0010")), 0)
        self.chars_model = OrderedDict()
        for s in cfg.get("services", []):
            if "handle" in s:
                h = int(str(s["handle"]), 0)
            svc = Service(emu, self, s, h)
            self.services.append(svc)
            h = svc.end_handle + 1
            for ch_cfg, ch in zip(s.get("characteristics", []), svc.chars):
                self.chars_model[ch.uuid] = CharModel(ch_cfg)
        self.records = [dict(measurement=hexbytes(r.get("measurement")),
                             context=hexbytes(r.get("context")) if r.get("context") else None)
                        for r in cfg.get("records", [])]
        self.responders = []
        for r in cfg.get("responders", []):
            self.responders.append((full_uuid(r["char"]), hexbytes(r.get("prefix", "")),
                                    [(full_uuid(c), hexbytes(v)) for c, v in r["notify"]]))
        # state
        self.exported = False
        self.gatt_exported = False
        self.gatt_cached = False     # bluetoothd has the attribute cache for it
        self.state = "disconnected"  # connecting, connected, disconnecting
        self.services_resolved = False
        self.gatt_ready = False
        self.connect_calls = []
        self.disconnect_calls = []
        self.pairing = None
        self.ccc = {}                # device side: uuid -> 1 notify / 2 indicate / 0
        self.writes = []
        self.timers = set()
        self.racp_busy = False
        self.resolve_waiters = []

    # -- helpers
    def later(self, ms, fn, *args):
        holder = {}

        def run():
            self.timers.discard(holder["id"])
            fn(*args)
            return False
        holder["id"] = GLib.timeout_add(max(0, int(ms)), run)
        self.timers.add(holder["id"])
        return holder["id"]

    def cancel_timers(self):
        for t in list(self.timers):
            GLib.source_remove(t)
        self.timers.clear()

    def timing(self, key):
        return self.cfg.get("timing", {}).get(key, self.emu.settings[key])

    def link_up(self):
        return self.state in ("connected", "disconnecting")

    def chars(self):
        for s in self.services:
            for c in s.chars:
                yield c

    def char(self, uuid):
        u = full_uuid(uuid)
        for c in self.chars():
            if c.uuid == u:
                return c
        raise BluezError(DBUS_ERR + "InvalidArgs", "no characteristic %s on %s"
                         % (uuid, self.address))

    def adv_uuids(self):
        return [full_uuid(u) for u in self.cfg.get("adv_uuids",
                                                   [s["uuid"] for s in self.cfg.get("services", [])
                                                    if s.get("advertised", True)])]

    def uuids(self):
        if self.gatt_exported or self.services_resolved:
            return sorted(set(s.uuid for s in self.services))
        return sorted(set(self.adv_uuids()))

    def prop_values(self, iface):
        v = [("Address", self.address), ("AddressType", self.address_type)]
        if self.name:
            v.append(("Name", self.name))
        v.append(("Alias", self.alias or self.name or self.address.replace(":", "-")))
        if self.appearance is not None:
            v.append(("Appearance", int(self.appearance)))
        v += [("Paired", self.paired), ("Bonded", self.bonded), ("Trusted", self.trusted),
              ("Blocked", self.blocked), ("LegacyPairing", False)]
        if self.rssi_visible:
            v.append(("RSSI", self.rssi))
        v += [("Connected", self.state in ("connected", "disconnecting")),
              ("UUIDs", self.uuids()), ("Adapter", self.adapter.path)]
        if self.manufacturer_data:
            v.append(("ManufacturerData", self.manufacturer_data))
        if self.service_data:
            v.append(("ServiceData", self.service_data))
        v.append(("ServicesResolved", self.services_resolved))
        return v

    def set_prop(self, call, iface, name, value):
        if name == "Alias":
            self.alias = str(value) or None
        elif name == "Trusted":
            self.trusted = bool(value)
        elif name == "Blocked":
            self.blocked = bool(value)
            if self.blocked and self.link_up():
                self.link_lost("blocked")
        self.changed(DEVICE_IFACE, name)
        call.reply()

    # -- export to bluez
    def export(self):
        if not self.exported:
            self.exported = True
            self.emu.bus.export(self)

    def export_gatt(self):
        if self.gatt_exported:
            return
        self.gatt_exported = True
        self.gatt_cached = True
        for s in self.services:
            self.emu.bus.export(s)
            for c in s.chars:
                self.emu.bus.export(c)
                if c.desc:
                    self.emu.bus.export(c.desc)
        self.changed(DEVICE_IFACE, "UUIDs")

    def unexport_gatt(self):
        if not self.gatt_exported:
            return
        self.gatt_exported = False
        self.gatt_cached = False
        for s in self.services:
            for c in s.chars:
                for owner, sess in c.sessions.items():
                    if sess["call"] is not None:
                        sess["call"].error(ERR + "Failed", "Operation failed")
                c.sessions.clear()
                c.notifying = False
                c.cached = None
                if c.desc:
                    self.emu.bus.unexport(c.desc)
                self.emu.bus.unexport(c)
            self.emu.bus.unexport(s)

    def remove_from_bluez(self):
        """Adapter1.RemoveDevice: forget bond, cache and the object."""
        self.cancel_pairing_internal(ERR + "AuthenticationCanceled", "Authentication Canceled")
        if self.state != "disconnected":
            self.link_lost("removed", quiet=True)
        self.unexport_gatt()
        self.paired = self.bonded = self.trusted = False
        self.known = False
        self.rssi_visible = False
        self.exported = False
        self.emu.bus.unexport(self)

    def cache_policy_keeps(self):
        pol = self.emu.settings["gatt_cache"]
        if pol == "always":
            return True
        if pol == "yes":
            return self.paired
        return False

    # -- advertising / discovery
    def update_visibility(self):
        seen = self.adapter.sees(self)
        if seen and not self.exported:
            self.export()          # a new (temporary) device was discovered
        if seen != self.rssi_visible and self.exported:
            self.rssi_visible = seen
            self.changed(DEVICE_IFACE, "RSSI")
        elif seen:
            self.rssi_visible = True

    # -- Device1 methods
    def m_Connect(self, call):
        if not self.adapter.powered:
            raise BluezError(ERR + "NotReady", "Resource Not Ready")
        if self.state in ("connected", "disconnecting"):
            call.reply()       # LE: already connected -> success
            return
        if self.state == "connecting" or self.pairing:
            raise BluezError(ERR + "InProgress", "In Progress")
        self.known = True      # btd_device_set_temporary(dev, false)
        self.connect_calls.append(call)
        self.start_link()

    def start_link(self):
        self.state = "connecting"
        log("connecting", self.address)
        if self.in_range:
            self.later(self.timing("connect_delay_ms"), self.link_established)
        else:
            self.later(self.timing("connect_fail_delay_ms"), self.link_failed,
                       self.cfg.get("connect_error", "le-connection-abort-by-local"))

    def link_failed(self, text):
        if self.state != "connecting":
            return
        self.state = "disconnected"
        calls, self.connect_calls = self.connect_calls, []
        for c in calls:
            c.error(ERR + "Failed", text)
        if self.pairing:
            p, self.pairing = self.pairing, None
            p["call"].error(ERR + "ConnectionAttemptFailed", "Page Timeout")

    def link_established(self):
        if self.state != "connecting":
            return
        if not self.in_range:
            return self.link_failed(self.cfg.get("connect_error", "le-connection-abort-by-local"))
        self.state = "connected"
        self.gatt_ready = False
        log("connected", self.address)
        self.changed(DEVICE_IFACE, "Connected")
        calls, self.connect_calls = self.connect_calls, []
        for c in calls:
            c.reply()            # att_connect_cb replies before discovery
        if self.pairing:
            self.later(5, self.pair_step)
        delay = self.timing("cached_discovery_delay_ms" if self.gatt_cached
                            else "discovery_delay_ms")
        self.later(delay, self.gatt_client_ready)

    def gatt_client_ready(self):
        if self.state not in ("connected", "disconnecting"):
            return
        self.export_gatt()
        self.gatt_ready = True
        self.services_resolved = True
        self.changed(DEVICE_IFACE, "ServicesResolved", "UUIDs")
        log("services resolved", self.address)
        waiters, self.resolve_waiters = self.resolve_waiters, []
        for w in waiters:
            w()
        # register every pre-registered / pending notify session (CCC writes)
        step = 0
        for c in self.chars():
            for owner in list(c.sessions):
                step += 1
                self.later(step * 2, self.register_notify, c, owner)

    def register_notify(self, chrc, owner):
        """bt_gatt_client_register_notify completion: CCC written."""
        s = chrc.sessions.get(owner)
        if s is None or not self.gatt_ready or s["registered"]:
            return
        code = self.chars_model[chrc.uuid].att_errors.get("ccc", 0)
        if code:
            call = s["call"]
            del chrc.sessions[owner]
            if call:
                e = att_error(code)
                call.error(e.name, e.text)
            return
        s["registered"] = True
        if not chrc.notifying:
            chrc.notifying = True
            chrc.changed(CHRC_IFACE, "Notifying")
        call, s["call"] = s["call"], None
        if call:
            call.reply()
        self.update_ccc(chrc)

    def update_ccc(self, chrc):
        """Device side: CCC enabled while at least one session is registered
        on the current connection."""
        old = self.ccc.get(chrc.uuid, 0)
        new = 0
        if self.link_up() and chrc.registered_sessions():
            new = 2 if "indicate" in chrc.flags and "notify" not in chrc.flags else 1
        self.ccc[chrc.uuid] = new
        if new and not old:
            self.later(self.timing("notify_after_ccc_ms"), self.flush_queue, chrc.uuid)

    def flush_queue(self, uuid):
        m = self.chars_model[uuid]
        while m.queue and self.ccc.get(uuid):
            self.device_notify(uuid, m.queue.pop(0))

    def device_notify(self, uuid, value):
        """The peripheral sends a notification/indication."""
        c = self.char(uuid)
        if not self.link_up() or not self.ccc.get(c.uuid):
            log("notification dropped", uuid, value.hex())
            return 0
        n = len(c.registered_sessions())
        for _ in range(n):     # one notify_cb per registered client
            c.set_cached(value)
        log("notified", short_uuid(uuid), value.hex(), "x%d" % n)
        return n

    def m_Disconnect(self, call):
        self.cancel_pairing_internal(ERR + "AuthenticationCanceled", "Authentication Canceled")
        if self.state == "connecting":
            calls, self.connect_calls = self.connect_calls, []
            self.cancel_timers()
            self.state = "disconnected"
            for c in calls:
                c.error(ERR + "Failed", "le-connection-abort-by-local")
            call.reply()
            return
        if self.state == "disconnected":
            call.reply()
            return
        self.disconnect_calls.append(call)
        if self.state == "disconnecting":
            return
        self.state = "disconnecting"      # disconn_timer running
        self.later(self.timing("disconnect_delay_ms"), self.link_lost, "local")

    def link_lost(self, reason, quiet=False):
        """device_remove_connection() + gatt client cleanup."""
        if self.state == "disconnected":
            return
        was = self.state
        self.cancel_timers()
        self.state = "disconnected"
        log("disconnected", self.address, reason)
        self.gatt_ready = False
        self.racp_busy = False
        calls, self.connect_calls = self.connect_calls, []
        for c in calls:
            c.error(ERR + "Failed", "le-connection-abort-by-remote")
        self.resolve_waiters = []
        if self.pairing:
            p, self.pairing = self.pairing, None
            p["call"].error(ERR + "AuthenticationCanceled", "Authentication Canceled")
        if was == "connecting":
            return
        for c in self.chars():
            for s in c.sessions.values():
                s["registered"] = False      # clear_notify_id(); Notifying stays as is
                if s["call"] is not None:
                    s["call"].error(ERR + "Failed", "Not connected")
                    s["call"] = None
            c.write_busy = False
        self.ccc = {}
        if quiet:
            return
        if self.services_resolved:
            self.services_resolved = False
            self.changed(DEVICE_IFACE, "ServicesResolved")
        dcalls, self.disconnect_calls = self.disconnect_calls, []
        for c in dcalls:
            c.reply()          # g_dbus_send_message flushes ServicesResolved first
        self.changed(DEVICE_IFACE, "Connected")
        if not self.cache_policy_keeps():
            self.unexport_gatt()
            self.changed(DEVICE_IFACE, "UUIDs")

    # -- pairing
    def m_Pair(self, call):
        if self.paired:
            raise BluezError(ERR + "AlreadyExists", "Already Exists")
        if self.pairing or self.state == "connecting":
            raise BluezError(ERR + "InProgress", "In Progress")
        owner, agent = self.emu.agents.agent_for(call.sender)
        self.pairing = {"call": call, "owner": owner, "agent": agent, "pending_agent": False}
        self.known = True
        if self.state == "disconnected":
            self.start_link()
        else:
            self.later(5, self.pair_step)

    def pair_step(self):
        p = self.pairing
        if p is None or not self.link_up():
            return
        cap = p["agent"][1] if p["agent"] else "NoInputNoOutput"
        method = self.pair_method
        dev_path = dbus.ObjectPath(self.path)
        if method == "just-works":
            return self.later(self.timing("pair_delay_ms"), self.pair_done, True, None)
        if p["agent"] is None or cap == "NoInputNoOutput":
            return self.later(self.timing("pair_delay_ms"), self.pair_done, False,
                              (ERR + "AuthenticationFailed", "Authentication Failed"))
        owner, path = p["owner"], p["agent"][0]
        p["pending_agent"] = True

        def agent_error(e):
            if self.pairing is not p:
                return
            p["pending_agent"] = False
            name = e.get_dbus_name() if hasattr(e, "get_dbus_name") else ""
            if name == ERR + "Canceled":
                res = (ERR + "AuthenticationCanceled", "Authentication Canceled")
            elif name == ERR + "Rejected":
                res = (ERR + "AuthenticationRejected", "Authentication Rejected")
            elif name == DBUS_ERR + "NoReply":
                res = (ERR + "AuthenticationTimeout", "Authentication Timeout")
            else:
                res = (ERR + "AuthenticationFailed", "Authentication Failed")
            self.pair_done(False, res)

        if method == "passkey":
            if cap not in ("KeyboardOnly", "KeyboardDisplay"):
                return self.later(self.timing("pair_delay_ms"), self.pair_done, False,
                                  (ERR + "AuthenticationFailed", "Authentication Failed"))

            def got(pk):
                if self.pairing is not p:
                    return
                p["pending_agent"] = False
                ok = self.passkey is not None and int(pk) == int(self.passkey)
                log("agent passkey", int(pk), "expected", self.passkey)
                self.pair_done(ok, None if ok else (ERR + "AuthenticationFailed",
                                                    "Authentication Failed"))
            self.emu.bus.call_async(owner, path, AGENT_IFACE, "RequestPasskey", "o",
                                    (dev_path,), got, agent_error,
                                    timeout=self.emu.settings["agent_timeout_s"])
        elif method in ("confirm", "authorize"):
            def ok(*a):
                if self.pairing is not p:
                    return
                p["pending_agent"] = False
                self.pair_done(True, None)
            if method == "confirm":
                self.emu.bus.call_async(owner, path, AGENT_IFACE, "RequestConfirmation", "ou",
                                        (dev_path, dbus.UInt32(self.passkey or 0)), ok,
                                        agent_error,
                                        timeout=self.emu.settings["agent_timeout_s"])
            else:
                self.emu.bus.call_async(owner, path, AGENT_IFACE, "RequestAuthorization", "o",
                                        (dev_path,), ok, agent_error,
                                        timeout=self.emu.settings["agent_timeout_s"])
        else:
            self.pair_done(False, (ERR + "AuthenticationFailed", "Authentication Failed"))

    def pair_done(self, ok, err):
        p = self.pairing
        if p is None:
            return
        if not ok:
            self.pairing = None
            p["call"].error(*err)
            return
        if not self.services_resolved:
            # bluez defers "Paired" (pending_paired) until services are resolved
            if self.bonds:
                self.bonded = True
                self.changed(DEVICE_IFACE, "Bonded")
            self.resolve_waiters.append(lambda: self.pair_finish(p))
            return
        self.pair_finish(p)

    def pair_finish(self, p):
        if self.pairing is not p:
            return
        self.pairing = None
        self.paired = True
        if self.bonds:
            self.bonded = True
        self.known = True
        self.changed(DEVICE_IFACE, "Paired", "Bonded")
        p["call"].reply()

    def cancel_pairing_internal(self, name, text):
        p, self.pairing = self.pairing, None
        if p is None:
            return False
        if p["pending_agent"] and p["agent"]:
            self.emu.bus.call_async(p["owner"], p["agent"][0], AGENT_IFACE, "Cancel", "", (),
                                    lambda *a: None, lambda e: None)
        p["call"].error(name, text)
        return True

    def m_CancelPairing(self, call):
        if not self.cancel_pairing_internal(ERR + "AuthenticationCanceled",
                                            "Authentication Canceled"):
            raise BluezError(ERR + "DoesNotExist", "Does Not Exist")
        call.reply()

    def m_ConnectProfile(self, call, uuid):
        raise BluezError(ERR + "NotAvailable", "Operation currently not available")

    def m_DisconnectProfile(self, call, uuid):
        raise BluezError(ERR + "InvalidArguments", "Invalid arguments in method call")

    # -- GATT operations as the peripheral answers them
    def gatt_read(self, chrc, call, offset):
        m = self.chars_model[chrc.uuid]

        def done():
            if not self.link_up():
                return call.error(ERR + "Failed", "Not connected")
            code = m.att_errors.get("read", 0)
            if not code and "read" not in chrc.flags:
                code = 0x02
            if code:
                e = att_error(code)
                return call.error(e.name, e.text)
            if offset > len(m.value):
                e = att_error(0x07)
                return call.error(e.name, e.text)
            val = m.value[offset:]
            chrc.set_cached(val)
            call.reply("ay", dbus.ByteArray(val))
        self.later(self.timing("gatt_delay_ms"), done)

    def gatt_write(self, chrc, call, value, wtype):
        m = self.chars_model[chrc.uuid]
        if call is None:       # write command: no response, errors are silent
            self.writes.append((chrc.uuid, value))
            self.later(1, self.after_write, chrc, value)
            return
        chrc.write_busy = True

        def done():
            chrc.write_busy = False
            if not self.link_up():
                return call.error(ERR + "Failed", "Not connected")
            code = m.att_errors.get("write", 0)
            if not code and "write" not in chrc.flags and wtype != "command":
                code = 0x03
            if not code and m.racp is not None and "no_ccc_check" not in self.quirks \
                    and not self.ccc.get(chrc.uuid):
                code = 0x81
            if not code and m.racp is not None and self.racp_busy and value[:1] != b"\x03":
                code = 0x80
            self.writes.append((chrc.uuid, value))   # the device received it
            if code:
                e = att_error(code)
                return call.error(e.name, e.text)
            if m.store_writes:
                m.value = value
            call.reply()
            self.later(1, self.after_write, chrc, value)
        self.later(self.timing("gatt_delay_ms"), done)

    def after_write(self, chrc, value):
        for uuid, prefix, notes in self.responders:
            if uuid == chrc.uuid and value.startswith(prefix):
                return self.emit_sequence(list(notes))
        if self.chars_model[chrc.uuid].racp is not None:
            self.racp(chrc, value)

    def emit_sequence(self, notes, done=None):
        if not notes or not self.link_up():
            if done:
                done()
            return

        def step():
            uuid, val = notes.pop(0)
            self.device_notify(uuid, val)
            self.emit_sequence(notes, done)
        self.later(self.timing("racp_interval_ms"), step)

    # -- tiny Record Access Control Point server (Glucose style)
    def racp(self, chrc, value):
        m = self.chars_model[chrc.uuid]
        meas_uuid = full_uuid(m.racp.get("measurement", "2A18"))
        ctx_uuid = full_uuid(m.racp.get("context", "2A34"))
        op = value[0] if value else 0
        oper = value[1] if len(value) > 1 else 0
        rsp = chrc.uuid

        def code(opcode, c):
            return [(rsp, bytes([0x06, 0x00, opcode, c]))]

        if op == 0x03:      # abort
            self.racp_busy = False
            return self.emit_sequence(code(0x03, 0x01))
        if op not in (0x01, 0x02, 0x04):
            return self.emit_sequence(code(op, 0x02))      # op code not supported
        sel = self.racp_select(oper, value[2:])
        if isinstance(sel, int):
            return self.emit_sequence(code(op, sel))
        if op == 0x04:
            return self.emit_sequence([(rsp, bytes([0x05, 0x00]) +
                                        len(sel).to_bytes(2, "little"))])
        if op == 0x02:
            for r in sel:
                self.records.remove(r)
            return self.emit_sequence(code(0x02, 0x01))
        if not sel:
            return self.emit_sequence(code(0x01, 0x06))
        if "reverse_order" in self.quirks:
            sel = list(reversed(sel))
        notes = []
        for r in sel:
            notes.append((meas_uuid, r["measurement"]))
            if r["context"]:
                notes.append((ctx_uuid, r["context"]))
        notes += code(0x01, 0x01)
        self.racp_busy = True

        def finished():
            self.racp_busy = False
        self.emit_sequence(notes, finished)

    def racp_select(self, oper, operand):
        recs = sorted(self.records, key=lambda r: seq_of(r["measurement"]))
        if oper == 0x01:
            return recs
        if oper == 0x05:
            return recs[:1]
        if oper == 0x06:
            return recs[-1:]
        if oper in (0x02, 0x03, 0x04):
            if not operand:
                return 0x05          # invalid operand
            if operand[0] != 0x01:
                return 0x09          # operand not supported (only sequence number)
            vals = operand[1:]
            need = 4 if oper == 0x04 else 2
            if len(vals) < need:
                return 0x05
            a = int.from_bytes(vals[0:2], "little")
            if oper == 0x02:
                return [r for r in recs if seq_of(r["measurement"]) <= a]
            if oper == 0x03:
                return [r for r in recs if seq_of(r["measurement"]) >= a]
            b = int.from_bytes(vals[2:4], "little")
            if a > b:
                return 0x05
            return [r for r in recs if a <= seq_of(r["measurement"]) <= b]
        if oper == 0x00:
            return 0x03              # invalid operator
        return 0x04                  # operator not supported

    # -- test control helpers
    def state_dict(self):
        d = dbus.Dictionary({}, signature="sv")
        d["path"] = dbus.ObjectPath(self.path)
        d["exported"] = dbus.Boolean(self.exported)
        d["state"] = dbus.String(self.state)
        d["connected"] = dbus.Boolean(self.link_up())
        d["services_resolved"] = dbus.Boolean(self.services_resolved)
        d["paired"] = dbus.Boolean(self.paired)
        d["bonded"] = dbus.Boolean(self.bonded)
        d["in_range"] = dbus.Boolean(self.in_range)
        d["advertising"] = dbus.Boolean(self.advertising)
        d["gatt_exported"] = dbus.Boolean(self.gatt_exported)
        d["ccc"] = dbus.Dictionary({k: dbus.Byte(v) for k, v in self.ccc.items()},
                                   signature="sy")
        d["records"] = dbus.UInt32(len(self.records))
        return d


def seq_of(measurement):
    return int.from_bytes(measurement[1:3], "little") if len(measurement) >= 3 else 0


class CharModel:
    """The peripheral's side of a characteristic."""

    def __init__(self, cfg):
        self.value = hexbytes(cfg.get("value", ""))
        self.queue = [hexbytes(v) for v in cfg.get("notify_on_subscribe", [])]
        self.att_errors = {k: int(str(v), 0) for k, v in cfg.get("att_error", {}).items()}
        racp = cfg.get("racp")
        self.racp = ({} if racp is True else dict(racp)) if racp else None
        self.store_writes = bool(cfg.get("store_writes", False))


def read_scenario(path):
    """Load a scenario file; "include": [files] merges other scenarios
    (paths relative to this file; adapter/settings of the first one win
    unless given here)."""
    with open(path) as f:
        scen = json.load(f)
    return resolve_includes(scen, os.path.dirname(os.path.abspath(path)))


def resolve_includes(scen, base):
    incs = scen.pop("include", [])
    if not incs:
        return scen
    out = {"adapter": {}, "settings": {}, "devices": []}
    for inc in incs:
        sub = read_scenario(os.path.join(base, inc))
        out["adapter"] = out["adapter"] or sub.get("adapter", {})
        for k, v in sub.get("settings", {}).items():
            out["settings"].setdefault(k, v)
        out["devices"] += sub.get("devices", [])
    out["adapter"].update(scen.get("adapter", {}))
    out["settings"].update(scen.get("settings", {}))
    out["devices"] += scen.get("devices", [])
    return out


# --------------------------------------------------------------------------
# The emulator

DEFAULT_SETTINGS = {
    "gatt_cache": "always",          # bluetoothd main.conf [GATT] Cache (5.66 default)
    "connect_delay_ms": 60,
    "connect_fail_delay_ms": 400,
    "discovery_delay_ms": 120,
    "cached_discovery_delay_ms": 40,
    "disconnect_delay_ms": 150,
    "gatt_delay_ms": 10,
    "notify_after_ccc_ms": 5,
    "racp_interval_ms": 10,
    "pair_delay_ms": 30,
    "agent_timeout_s": 25.0,
    "restart_down_ms": 300,
}


class Emulator:
    def __init__(self, address):
        self.address = address
        self.bus = BluezBus(self)
        self.settings = dict(DEFAULT_SETTINGS)
        self.root = RootObj(self, "/")
        self.agents = AgentManager(self)
        self.adapter = Adapter(self, {})
        self.running = False
        self.control = None

    # -- scenario
    def load(self, scen):
        for d in list(self.adapter.devices.values()):
            d.cancel_timers()
        was_running = self.running
        if was_running:
            self.stop_bluez()
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(scen.get("settings", {}))
        self.adapter = Adapter(self, scen.get("adapter", {}))
        for dcfg in scen.get("devices", []):
            self.add_device(dcfg, announce=False)
        if was_running:
            self.start_bluez()

    def add_device(self, cfg, announce=True):
        dev = Device(self, self.adapter, cfg)
        if dev.address in self.adapter.devices:
            raise BluezError(DBUS_ERR + "InvalidArgs", "device %s exists" % dev.address)
        self.adapter.devices[dev.address] = dev
        if dev.known:
            dev.gatt_cached = bool(cfg.get("gatt_cached", dev.bonded))
            if self.running:
                self.export_stored(dev)
        if self.running:
            self.rescan()
        return dev

    def export_stored(self, dev):
        dev.export()
        if dev.gatt_cached and (self.settings["gatt_cache"] == "always" or
                                (self.settings["gatt_cache"] == "yes" and dev.paired)):
            dev.gatt_cached = False
            dev.export_gatt()
        else:
            dev.gatt_cached = False

    def device(self, address):
        d = self.adapter.devices.get(str(address).upper())
        if d is None:
            raise BluezError(DBUS_ERR + "InvalidArgs", "unknown device %s" % address)
        return d

    # -- bluetoothd lifetime
    def start_bluez(self):
        self.bus.open(self.address)
        self.bus.export(self.root)
        self.bus.export(self.agents)
        self.bus.export(self.adapter)
        for d in self.adapter.devices.values():
            if d.known:
                self.export_stored(d)
        self.bus.pending = []          # nothing announced before we own the name
        self.bus.pending_props = {}
        self.bus.request_name()
        self.running = True
        self.rescan()
        log("bluez up as", self.bus.unique_name)
        if self.control:
            self.control.Ready(self.bus.unique_name)

    def stop_bluez(self):
        """bluetoothd exits: every connection, session, agent and discovery
        is gone; stored devices and their GATT caches survive."""
        log("bluez going down")
        for d in self.adapter.devices.values():
            d.cancel_timers()
            d.state = "disconnected"
            d.connect_calls = []
            d.disconnect_calls = []
            d.pairing = None
            d.gatt_ready = False
            d.services_resolved = False
            d.ccc = {}
            d.racp_busy = False
            d.rssi_visible = False
            d.resolve_waiters = []
            keep_cache = d.gatt_exported and d.known and (
                self.settings["gatt_cache"] == "always" or
                (self.settings["gatt_cache"] == "yes" and d.paired))
            for c in d.chars():
                c.sessions.clear()
                c.notifying = False
                c.cached = None
                c.write_busy = False
            d.exported = False
            d.gatt_exported = False
            d.gatt_cached = keep_cache
        self.agents.reset()
        self.adapter.sessions.clear()
        self.running = False
        self.bus.close()

    # -- clients
    def client_left(self, owner):
        log("client left", owner)
        self.agents.drop(owner)
        self.adapter.client_left(owner)
        for d in self.adapter.devices.values():
            for c in d.chars():
                c.drop_owner(owner)

    def rescan(self):
        if not self.running:
            return
        for d in self.adapter.devices.values():
            d.update_visibility()


# --------------------------------------------------------------------------
# Test-control interface

class Control(dbus.service.Object):
    def __init__(self, conn, emu, mainloop):
        dbus.service.Object.__init__(self, conn, CTL_PATH)
        self.emu = emu
        self.loop = mainloop

    def _dev(self, address):
        try:
            return self.emu.device(address)
        except BluezError as e:
            raise dbus.exceptions.DBusException(e.text, name=e.name)

    @dbus.service.signal(CTL_IFACE, signature="s")
    def Ready(self, bluez_unique_name):
        pass

    @dbus.service.method(CTL_IFACE, in_signature="", out_signature="s")
    def Ping(self):
        return self.emu.bus.unique_name if self.emu.running else ""

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="")
    def LoadScenario(self, path):
        self.emu.load(read_scenario(path))

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="")
    def LoadScenarioJson(self, text):
        self.emu.load(resolve_includes(json.loads(text), os.getcwd()))

    @dbus.service.method(CTL_IFACE, in_signature="ssa{sv}", out_signature="o")
    def AddDevice(self, address, name, options):
        cfg = {}
        if "json" in options:
            cfg.update(json.loads(str(options["json"])))
        for k, v in options.items():
            if k == "json":
                continue
            if k == "services_json":
                cfg["services"] = json.loads(str(v))
            elif isinstance(v, dbus.Boolean):
                cfg[str(k)] = bool(v)
            elif isinstance(v, (dbus.String, str)):
                cfg[str(k)] = str(v)
            elif isinstance(v, dbus.Array):
                cfg[str(k)] = [str(x) for x in v]
            else:
                cfg[str(k)] = int(v)
        cfg["address"] = str(address)
        if name:
            cfg["name"] = str(name)
        try:
            return dbus.ObjectPath(self.emu.add_device(cfg).path)
        except BluezError as e:
            raise dbus.exceptions.DBusException(e.text, name=e.name)

    @dbus.service.method(CTL_IFACE, in_signature="sb", out_signature="")
    def SetInRange(self, address, on):
        d = self._dev(address)
        d.in_range = bool(on)
        if not on and d.link_up():
            d.link_lost("link loss (out of range)")
        self.emu.rescan()

    @dbus.service.method(CTL_IFACE, in_signature="sb", out_signature="")
    def SetAdvertising(self, address, on):
        d = self._dev(address)
        d.advertising = bool(on)
        self.emu.rescan()

    @dbus.service.method(CTL_IFACE, in_signature="sn", out_signature="")
    def SetRSSI(self, address, rssi):
        d = self._dev(address)
        d.rssi = int(rssi)
        if d.rssi_visible and d.exported:
            d.changed(DEVICE_IFACE, "RSSI")
        self.emu.rescan()

    @dbus.service.method(CTL_IFACE, in_signature="ssay", out_signature="u", byte_arrays=True)
    def Notify(self, address, char_uuid, value):
        d = self._dev(address)
        try:
            return d.device_notify(full_uuid(char_uuid), bytes(value))
        except BluezError as e:
            raise dbus.exceptions.DBusException(e.text, name=e.name)

    @dbus.service.method(CTL_IFACE, in_signature="ssay", out_signature="", byte_arrays=True)
    def QueueNotification(self, address, char_uuid, value):
        d = self._dev(address)
        u = full_uuid(char_uuid)
        if u not in d.chars_model:
            raise dbus.exceptions.DBusException("no such characteristic",
                                                name=DBUS_ERR + "InvalidArgs")
        d.chars_model[u].queue.append(bytes(value))
        if d.ccc.get(u):
            d.later(0, d.flush_queue, u)

    @dbus.service.method(CTL_IFACE, in_signature="ssay", out_signature="", byte_arrays=True)
    def SetValue(self, address, char_uuid, value):
        d = self._dev(address)
        d.chars_model[full_uuid(char_uuid)].value = bytes(value)

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="")
    def RemoteDisconnect(self, address):
        d = self._dev(address)
        if d.state != "disconnected":
            d.link_lost("remote user terminated connection")

    @dbus.service.method(CTL_IFACE, in_signature="sssy", out_signature="")
    def SetAttError(self, address, char_uuid, op, code):
        d = self._dev(address)
        if op not in ("read", "write", "ccc"):
            raise dbus.exceptions.DBusException("op must be read, write or ccc",
                                                name=DBUS_ERR + "InvalidArgs")
        m = d.chars_model[full_uuid(char_uuid)]
        if code:
            m.att_errors[str(op)] = int(code)
        else:
            m.att_errors.pop(str(op), None)

    @dbus.service.method(CTL_IFACE, in_signature="ssaya(say)", out_signature="",
                         byte_arrays=True)
    def SetReplyOnWrite(self, address, char_uuid, prefix, notifications):
        d = self._dev(address)
        u = full_uuid(char_uuid)
        d.responders = [r for r in d.responders if not (r[0] == u and r[1] == bytes(prefix))]
        if notifications:
            d.responders.insert(0, (u, bytes(prefix),
                                    [(full_uuid(c), bytes(v)) for c, v in notifications]))

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="a(say)")
    def GetWrites(self, address):
        d = self._dev(address)
        return dbus.Array([dbus.Struct((u, dbus.ByteArray(v)), signature="say")
                           for u, v in d.writes], signature="(say)")

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="")
    def ClearWrites(self, address):
        self._dev(address).writes = []

    @dbus.service.method(CTL_IFACE, in_signature="ss", out_signature="as")
    def GetNotifySessions(self, address, char_uuid):
        d = self._dev(address)
        u = full_uuid(char_uuid)
        for c in d.chars():
            if c.uuid == u:
                return dbus.Array(list(c.sessions.keys()), signature="s")
        return dbus.Array([], signature="s")

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="a{sv}")
    def GetDeviceState(self, address):
        return self._dev(address).state_dict()

    @dbus.service.method(CTL_IFACE, in_signature="", out_signature="a(ssb)")
    def GetAgents(self):
        dflt, _ = self.emu.agents.agent_for("")
        out = []
        for owner, (path, cap) in self.emu.agents.agents.items():
            out.append(dbus.Struct((owner, path, owner == dflt), signature="ssb"))
        return dbus.Array(out, signature="(ssb)")

    @dbus.service.method(CTL_IFACE, in_signature="sayay", out_signature="", byte_arrays=True)
    def AddRecord(self, address, measurement, context):
        d = self._dev(address)
        d.records.append({"measurement": bytes(measurement),
                          "context": bytes(context) if context else None})

    @dbus.service.method(CTL_IFACE, in_signature="s", out_signature="")
    def ClearRecords(self, address):
        self._dev(address).records = []

    @dbus.service.method(CTL_IFACE, in_signature="su", out_signature="")
    def SetPasskey(self, address, passkey):
        d = self._dev(address)
        d.passkey = int(passkey)
        d.pair_method = "passkey"

    @dbus.service.method(CTL_IFACE, in_signature="a{sv}", out_signature="")
    def SetSettings(self, settings):
        for k, v in settings.items():
            if k not in DEFAULT_SETTINGS:
                raise dbus.exceptions.DBusException("unknown setting " + k,
                                                    name=DBUS_ERR + "InvalidArgs")
            self.emu.settings[str(k)] = str(v) if k == "gatt_cache" else float(v)

    @dbus.service.method(CTL_IFACE, in_signature="u", out_signature="s",
                         async_callbacks=("ok", "fail"))
    def Restart(self, down_ms, ok, fail):
        """bluetoothd restart: drop org.bluez, wait down_ms, come back with a
        new unique name.  Replies with the new unique name."""
        if self.emu.running:
            self.emu.stop_bluez()

        def up():
            try:
                self.emu.start_bluez()
                ok(self.emu.bus.unique_name)
            except Exception as e:
                fail(e)
            return False
        GLib.timeout_add(int(down_ms) if down_ms else
                         int(self.emu.settings["restart_down_ms"]), up)

    @dbus.service.method(CTL_IFACE, in_signature="", out_signature="")
    def Stop(self):
        if self.emu.running:
            self.emu.stop_bluez()

    @dbus.service.method(CTL_IFACE, in_signature="", out_signature="s")
    def Start(self):
        if not self.emu.running:
            self.emu.start_bluez()
        return self.emu.bus.unique_name

    @dbus.service.method(CTL_IFACE, in_signature="", out_signature="")
    def Quit(self):
        GLib.idle_add(self.loop.quit)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bus", default=os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"),
                    help="bus address (default: $DBUS_SYSTEM_BUS_ADDRESS)")
    ap.add_argument("--scenario", help="scenario JSON file")
    ap.add_argument("--ready-fd", type=int, help="write 'ready\\n' to this fd when up")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose or bool(os.environ.get("VARDE_EMULATOR_VERBOSE"))
    if not a.bus:
        ap.error("no bus: give --bus or set DBUS_SYSTEM_BUS_ADDRESS")
    DBusGMainLoop(set_as_default=True)
    loop = GLib.MainLoop()
    emu = Emulator(a.bus)
    if a.scenario:
        emu.load(read_scenario(a.scenario))
    ctl_conn = dbus.bus.BusConnection(a.bus)
    ctl_conn.set_exit_on_disconnect(False)
    ctl_conn.add_signal_receiver(lambda *x: loop.quit(), "Disconnected",
                                 "org.freedesktop.DBus.Local")
    emu.control = Control(ctl_conn, emu, loop)
    emu.start_bluez()
    ctl_conn.request_name(CTL_NAME, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    for s in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, s, lambda *x: (loop.quit(), False)[1])
    if a.ready_fd is not None:
        os.write(a.ready_fd, b"ready\n")
        os.close(a.ready_fd)
    loop.run()
    return 0      # exiting closes both connections; org.bluez vanishes


if __name__ == "__main__":
    sys.exit(main())
