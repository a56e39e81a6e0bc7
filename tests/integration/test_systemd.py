#!/usr/bin/python3
"""contrib/tandem.service under a real systemd (issue 13 item 6): the test
boots systemd 252 as PID 1 of its own PID and mount namespaces (tmpfs on
/run, /tmp and /var/tmp, so nothing of the host is touched; the units that
would clean or stamp the host are masked), with the unit file exactly as
shipped plus one drop-in that drops its default dependencies on
sysinit.target (there is no boot to wait for). Then:

- the unit starts and its process runs as the dynamic user `tandem`, not
  root, with no capabilities and no_new_privs;
- a WebSocket login works for alice and fails (401) for bob; after bob is
  added to the file, `systemctl reload tandem` (SIGHUP) lets him in;
- the journal holds the gateway's own lines under SYSLOG_IDENTIFIER=tandem,
  the reload among them;
- `systemctl stop tandem` (SIGTERM) ends it cleanly: inactive, result
  success, exit status 0."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time

from abuse import client
from tandem_harness import TANDEM, error_code, free_port, tap_main
from test_admin import hash_of

MASK = ["systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service",
        "systemd-tmpfiles-clean.service", "systemd-tmpfiles-clean.timer",
        "systemd-update-utmp.service", "systemd-timesyncd.service"]
UNIT = os.path.join(os.path.dirname(TANDEM), "contrib", "tandem.service")
if not os.path.exists(UNIT):
    UNIT = os.path.join(os.environ.get("top_srcdir", "."), "contrib", "tandem.service")

BOOT = """#!/bin/bash
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system/tandem.service.d /run/tandem-test
cp %(tandem)s /run/tandem-test/tandem
cp %(conf)s /run/tandem-test/tandem.conf
sed -e 's#/usr/sbin/tandem#/run/tandem-test/tandem#g' \\
    -e 's#/etc/tandem/tandem.conf#/run/tandem-test/tandem.conf#g' \\
    %(unit)s > /run/systemd/system/tandem.service
# after the copies: the test's files are in the host's /tmp
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
for u in %(mask)s; do ln -s /dev/null /run/systemd/system/$u; done
printf '[Unit]\\nDescription=tandem test\\nDefaultDependencies=no\\nWants=systemd-journald.service tandem.service\\n' \\
	> /run/systemd/system/tandem-test.target
printf '[Unit]\\nDefaultDependencies=no\\n' > /run/systemd/system/tandem.service.d/test.conf
chmod 755 /run/tandem-test; chmod 644 /run/tandem-test/tandem.conf
exec /lib/systemd/systemd --system --unit=tandem-test.target
"""


class Box:
    """systemd as PID 1 of fresh PID and mount namespaces."""

    def __init__(self, conf_text):
        self.dir = tempfile.mkdtemp(prefix="tandem-systemd-")
        conf = os.path.join(self.dir, "tandem.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        boot = os.path.join(self.dir, "boot.sh")
        with open(boot, "w") as f:
            f.write(BOOT % {"mask": " ".join(MASK), "tandem": TANDEM, "conf": conf,
                            "unit": UNIT})
        self.log = open(os.path.join(self.dir, "boot.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--uts", "--mount-proc",
             "--kill-child=SIGKILL", "bash", boot], stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.pid:
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            for k in kids:
                try:
                    if "systemd" in open("/proc/%s/comm" % k).read():
                        self.pid = int(k)
                except OSError:
                    pass
            time.sleep(0.1)
        assert self.pid, "systemd did not start: %s" % open(self.log.name).read()[-1500:]

    def run(self, *cmd, check=True):
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p"] + list(cmd),
                           capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r.stdout

    def show(self, prop):
        return self.run("systemctl", "show", "-p", prop, "--value", "tandem.service").strip()

    def wait_active(self, want="active", timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.run("systemctl", "is-active", "tandem.service", check=False).strip()
            if st == want:
                return
            time.sleep(0.2)
        raise AssertionError("tandem.service is %s, not %s: %s" % (
            st, want, self.run("journalctl", "-u", "tandem", "--no-pager", check=False)[-2000:]))

    def write_conf(self, text):
        with open("/proc/%d/root/run/tandem-test/tandem.conf" % self.pid, "w") as f:
            f.write(text)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Url:
    def __init__(self, port):
        self.url = "ws://127.0.0.1:%d/ws" % port


HASHES = {}


def conf_for(ws, sip, users):
    for u in users:
        HASHES.setdefault(u, hash_of(u + "pw"))
    return ("[websocket]\nlisten = 127.0.0.1\nport = %d\n[sip]\nport = %d\n"
            "[auth]\nmode = users\n[users]\n%s" % (
                ws, sip, "".join("%s = %s\n" % (u, HASHES[u]) for u in users)))


async def login_code(gw, user):
    try:
        c = await client(gw, {"user": user, "password": user + "pw"})
    except Exception as e:   # the helper raises on an error answer
        return str(e)
    await c.close()
    return "ok"


def test_unit_under_systemd():
    ws, sip = free_port(), free_port(also_udp=True)
    box = Box(conf_for(ws, sip, ["alice"]))
    try:
        box.wait_active()
        main_pid = int(box.show("MainPID"))
        ps = box.run("ps", "-o", "user=", "-p", str(main_pid)).strip()
        assert ps == "tandem", ps
        status = box.run("cat", "/proc/%d/status" % main_pid)
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["CapEff"].strip("0\n ") == "", fields["CapEff"]
        assert fields["NoNewPrivs"].strip() == "1", fields["NoNewPrivs"]
        gw = Url(ws)
        deadline = time.monotonic() + 10
        while (got := asyncio.run(login_code(gw, "alice"))) != "ok":
            assert time.monotonic() < deadline, "alice cannot log in: %s" % got
            time.sleep(0.2)
        assert "401" in asyncio.run(login_code(gw, "bob"))
        box.write_conf(conf_for(ws, sip, ["alice", "bob"]))
        box.run("systemctl", "reload", "tandem.service")
        deadline = time.monotonic() + 10
        while asyncio.run(login_code(gw, "bob")) != "ok":
            assert time.monotonic() < deadline, "bob cannot log in after the reload"
            time.sleep(0.2)
        assert int(box.show("MainPID")) == main_pid, "the reload restarted the process"
        lines = [json.loads(x) for x in box.run(
            "journalctl", "-u", "tandem.service", "-o", "json", "--no-pager").splitlines()]
        ours = [x for x in lines if x.get("SYSLOG_IDENTIFIER") == "tandem"]
        assert any("reloaded" in x.get("MESSAGE", "") and "2 users" in x.get("MESSAGE", "")
                   for x in ours), [x.get("MESSAGE") for x in ours][-10:]
        assert any(x.get("_PID") == str(main_pid) for x in ours), ours[-3:]
        box.run("systemctl", "stop", "tandem.service")
        box.wait_active("inactive")
        assert box.show("Result") == "success", box.show("Result")
        assert box.show("ExecMainStatus") == "0", box.show("ExecMainStatus")
    finally:
        box.close()


if __name__ == "__main__":
    tap_main([test_unit_under_systemd])
