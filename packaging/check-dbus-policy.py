#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests packaging/org.varde.Hub.conf on a real dbus-daemon (run as root).

The bus is the system bus's own configuration (/usr/share/dbus-1/system.conf,
so its default policy: method calls denied, signals and replies allowed) on a
private socket, plus the policy under test. The policy names the user and
group varde; the test maps them to existing accounts so that nothing is
added to this machine: user varde -> daemon (the hub), group varde -> bin
(a vardectl user), and nobody is everyone else. A fake bluetoothd runs as
root. Each identity connects with setpriv(1), so dbus-daemon sees its uid.

Usage: check-dbus-policy.py POLICY_FILE     exit 0 when every case holds
"""
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HUB_USER, VARDECTL_USER, OTHER_USER = "daemon", "bin", "nobody"
HUB, HUB_PATH, HUB_IFACE = "org.varde.Hub", "/org/varde/Hub", "org.varde.Hub1"
AGENT_PATH = "/org/varde/agent"


# ---- the identities' programs (this script, run again in a mode) ----------

def serve(mode):
    import dbus
    import dbus.service
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()  # DBUS_SYSTEM_BUS_ADDRESS points at the test bus
    loop = GLib.MainLoop()

    if mode == "bluez":
        class Device(dbus.service.Object):
            @dbus.service.method("org.bluez.Device1")
            def Connect(self):
                GLib.idle_add(self.PropertiesChanged, "org.bluez.Device1",
                              {"Connected": True}, [])

            @dbus.service.method("org.bluez.Media1")
            def RegisterEndpoint(self):
                pass

            @dbus.service.signal("org.freedesktop.DBus.Properties", signature="sa{sv}as")
            def PropertiesChanged(self, iface, changed, invalidated):
                pass

        name = dbus.service.BusName("org.bluez", bus)  # noqa: F841 (kept)
        Device(bus, "/org/bluez/hci0/dev_C0_26_DA_01_02_03")
        print("ready", flush=True)
        loop.run()

    elif mode == "hub":
        class Hub(dbus.service.Object):
            @dbus.service.method(HUB_IFACE, out_signature="s")
            def GetStatus(self):
                GLib.idle_add(self.Reading, "{}")
                return "{}"

            @dbus.service.signal(HUB_IFACE, signature="s")
            def Reading(self, json):
                pass

        class Agent(dbus.service.Object):
            @dbus.service.method("org.bluez.Agent1")
            def Release(self):
                pass

        name = dbus.service.BusName(HUB, bus)  # noqa: F841 (kept)
        Hub(bus, HUB_PATH)
        Agent(bus, AGENT_PATH)
        dev = bus.get_object("org.bluez", "/org/bluez/hci0/dev_C0_26_DA_01_02_03",
                             introspect=False)

        def on_changed(iface, changed, invalidated):
            print("hub: PropertiesChanged from org.bluez received", flush=True)

        # Matched by path, not by the sender name org.bluez: dbus-python
        # learns that name's owner asynchronously and drops a signal that
        # arrives first. Only the fake bluetoothd emits on this path.
        bus.add_signal_receiver(on_changed, "PropertiesChanged",
                                "org.freedesktop.DBus.Properties", None,
                                "/org/bluez/hci0/dev_C0_26_DA_01_02_03")
        for iface, member in (("org.bluez.Device1", "Connect"),
                              ("org.bluez.Media1", "RegisterEndpoint")):
            try:
                dev.get_dbus_method(member, iface)()
                print(f"hub: {iface}.{member} allowed", flush=True)
            except dbus.DBusException as e:
                print(f"hub: {iface}.{member} {e.get_dbus_name()}", flush=True)
        print("ready", flush=True)
        loop.run()

    elif mode == "listen":
        def on_reading(json):
            print("received", flush=True)
            loop.quit()

        bus.add_signal_receiver(on_reading, "Reading", HUB_IFACE, None, HUB_PATH)
        print("ready", flush=True)
        GLib.timeout_add(3000, loop.quit)
        loop.run()


# ---- the test -------------------------------------------------------------

def bus_config(tmp, policy):
    """system.conf with a private socket, its default policy, and `policy`."""
    root = ET.parse("/usr/share/dbus-1/system.conf").getroot()
    for tag in ("user", "fork", "pidfile", "syslog", "servicehelper",
                "standard_system_servicedirs", "include", "includedir", "listen"):
        for el in root.findall(tag):
            root.remove(el)
    ET.SubElement(root, "listen").text = f"unix:path={tmp}/bus"
    bluez = ET.SubElement(root, "policy", user="root")  # bluetooth.conf's part
    ET.SubElement(bluez, "allow", own="org.bluez")
    ET.SubElement(bluez, "allow", send_destination="org.bluez")
    ET.SubElement(root, "include").text = policy
    path = f"{tmp}/bus.conf"
    ET.ElementTree(root).write(path)
    return path


def as_user(user, argv):
    gid = pwd.getpwnam(user).pw_gid
    return ["setpriv", f"--reuid={user}", f"--regid={gid}", "--init-groups", "--"] + argv


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--mode":
        serve(sys.argv[2])
        return 0
    if len(sys.argv) != 2 or os.geteuid() != 0:
        print(__doc__.strip().splitlines()[-1], "(as root)", file=sys.stderr)
        return 2

    failures = []
    procs = []
    tmp = tempfile.mkdtemp(prefix="varde-dbus-")
    os.chmod(tmp, 0o755)
    with open(sys.argv[1]) as f:
        text = f.read()
    mapped = text.replace('user="varde"', f'user="{HUB_USER}"').replace(
        'group="varde"', f'group="{VARDECTL_USER}"')
    with open(f"{tmp}/policy.conf", "w") as f:
        f.write(mapped)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp}/bus")
    me = [sys.executable, os.path.abspath(__file__), "--mode"]

    def start(argv):
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        return p

    def wait_ready(p, what):
        lines = []
        for line in p.stdout:
            if line.strip() == "ready":
                return lines
            lines.append(line.strip())
        raise SystemExit(f"check-dbus-policy: {what} did not start")

    def expect(label, ok):
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
        if not ok:
            failures.append(label)

    def call(user, dest, path, method, *args):
        argv = ["dbus-send", "--system", "--print-reply", f"--dest={dest}", path, method, *args]
        if user != "root":
            argv = as_user(user, argv)
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=20)
        if r.returncode == 0:
            return "allowed"
        m = re.search(r"Error (\S+):", r.stderr)
        return m.group(1) if m else r.stderr.strip()

    try:
        daemon = start(["dbus-daemon", f"--config-file={bus_config(tmp, tmp + '/policy.conf')}",
                        "--nofork", "--nopidfile", "--print-address=1"])
        daemon.stdout.readline()
        wait_ready(start(me + ["bluez"]), "fake bluetoothd")
        hub = start(as_user(HUB_USER, me + ["hub"]))
        hub_lines = wait_ready(hub, "fake varded")
        time.sleep(0.5)

        print("varded (user varde):")
        expect("owns org.varde.Hub", True)
        expect("may call org.bluez.Device1", "hub: org.bluez.Device1.Connect allowed" in hub_lines)
        expect("may not call org.bluez.Media1 (not in its list)",
               "hub: org.bluez.Media1.RegisterEndpoint "
               "org.freedesktop.DBus.Error.AccessDenied" in hub_lines)

        print("callers of org.varde.Hub1:")
        get = (HUB, HUB_PATH, f"{HUB_IFACE}.GetStatus")
        expect("root may call it", call("root", *get) == "allowed")
        expect("group varde may call it", call(VARDECTL_USER, *get) == "allowed")
        expect("anyone else is denied",
               call(OTHER_USER, *get) == "org.freedesktop.DBus.Error.AccessDenied")

        print("the pairing agent (org.bluez.Agent1):")
        rel = ("org.bluez.Agent1.Release",)
        expect("root (bluetoothd) may call it at /org/varde/agent",
               call("root", HUB, AGENT_PATH, *rel) == "allowed")
        expect("root may not call it elsewhere",
               call("root", HUB, HUB_PATH, *rel) == "org.freedesktop.DBus.Error.AccessDenied")
        expect("group varde may not call it",
               call(VARDECTL_USER, HUB, AGENT_PATH, *rel) ==
               "org.freedesktop.DBus.Error.AccessDenied")
        expect("anyone else may not call it",
               call(OTHER_USER, HUB, AGENT_PATH, *rel) ==
               "org.freedesktop.DBus.Error.AccessDenied")

        print("signals:")
        listeners = {}
        for user in ("root", VARDECTL_USER, OTHER_USER):
            argv = me + ["listen"]
            p = start(argv if user == "root" else as_user(user, argv))
            wait_ready(p, f"listener {user}")
            listeners[user] = p
        call("root", *get)  # makes the fake hub emit Reading
        got = {u: "received" in p.communicate(timeout=10)[0] for u, p in listeners.items()}
        expect("root receives Reading", got["root"])
        expect("group varde receives Reading", got[VARDECTL_USER])
        expect("anyone else does not", not got[OTHER_USER])
        hub.terminate()
        hub_out = hub.communicate(timeout=10)[0]
        expect("varded receives PropertiesChanged from bluetoothd",
               "PropertiesChanged from org.bluez received" in "\n".join(hub_lines) + hub_out)

        print("name ownership:")
        own = (HUB_USER, "org.freedesktop.DBus", "/org/freedesktop/DBus",
               "org.freedesktop.DBus.RequestName", "string:org.varde.Hub", "uint32:0")
        expect("nobody else may own org.varde.Hub",
               call(OTHER_USER, *own[1:]) == "org.freedesktop.DBus.Error.AccessDenied")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["rm", "-rf", tmp])

    print(f"D-Bus policy: {'FAILED: ' + ', '.join(failures) if failures else 'all cases hold'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
