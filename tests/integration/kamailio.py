"""Kamailio as a registrar and proxy with digest auth, for the registration
tests (harness.md section 8): one process on loopback with a free UDP port,
its own run directory, a db_text subscriber table with plaintext passwords,
and the ctl socket for kamcmd. REGISTER must answer a 401 challenge
(www_authenticate); a new INVITE from outside must answer a 407
(proxy_authenticate), except one to the user "www401", which gets a 401 to
test that path, and one to "gone", refused 480 unchallenged, and so must alice's BYEs; authorised INVITEs are
record-routed to the callee's registered contact.
Readiness is probed with kamcmd, never slept for."""

import os
import re
import shutil
import subprocess
import tempfile
import time

from tandem_harness import free_port, track

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
children=2
listen=udp:127.0.0.1:%(port)d
%(tcp)s
%(more_cfg)s
alias="127.0.0.1:%(port)d"
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
mpath="%(mpath)s"

loadmodule "kex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "ctl.so"
loadmodule "db_text.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "sanity.so"
%(more_modules)s

modparam("ctl", "binrpc", "unix:%(run)s/ctl")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", %(min_expires)d)
modparam("registrar", "max_expires", 3600)
# no GRUUs: Kamailio makes them from the domain without its port
# (sip:carol@127.0.0.1;gr=...), liblinphone puts that in its Contact, and
# this script would relay a BYE to it to port 5060, never to linphone
modparam("registrar", "gruu_enabled", 0)
modparam("auth", "nonce_expire", %(nonce_expire)d)
%(otn)s
%(auth_alg)s
modparam("auth_db", "db_url", "text://%(run)s/db")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
%(proxy_require)s
	if (has_totag()) {
%(dialog_auth)s
		if (is_method("BYE") && $fU == "alice") {
			if (!proxy_authorize("$fd", "subscriber")) {
				xlog("L_NOTICE", "BYE challenged: $fu\n");
				proxy_challenge("$fd", "0");
				exit;
			}
			consume_credentials();
			xlog("L_NOTICE", "BYE authorised: $fu\n");
		}
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay();
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) t_relay();
		exit;
	}
	if (is_method("REGISTER")) {
		if (!auth_check("$fd", "subscriber", "1")) {
			xlog("L_NOTICE", "REGISTER challenged: $fu from $si:$sp rc=$rc\n");
			auth_challenge("$fd", "0");
			exit;
		}
		%(on_register)s
		if (!save("location")) sl_reply_error();
		exit;
	}
	if (is_method("INVITE")) {
		if ($rU == "gone") {
			sl_send_reply("480", "Gone");
			exit;
		}
		if ($rU == "www401") {
			www_challenge("$fd", "0");
			exit;
		}
		if (!proxy_authorize("$fd", "subscriber")) {
			xlog("L_NOTICE", "INVITE challenged: $fu -> $ru\n");
			proxy_challenge("$fd", "0");
			exit;
		}
		consume_credentials();
		xlog("L_NOTICE", "INVITE authorised: $fu -> $ru\n");
		record_route();
	}
%(message_auth)s
%(relay_direct)s
	%(before_lookup)s
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	%(before_relay)s
	t_relay();
}
"""


# every request alice sends in a dialog (but ACK, CANCEL and PRACK) must
# carry credentials for the realm "dlg.test" checked against the dlgsub
# table, so the INVITE's credentials do not serve: each method is challenged
# unless the gateway sends credentials for that realm pre-emptively
DIALOG_AUTH = r"""		if ($fU == "alice" && !is_method("ACK|CANCEL|PRACK")) {
			if (!proxy_authorize("dlg.test", "dlgsub")) {
				xlog("L_NOTICE", "$rm challenged in dialog: $fu\n");
				proxy_challenge("dlg.test", "0");
				exit;
			}
			consume_credentials();
			xlog("L_NOTICE", "$rm authorised in dialog: $fu\n");
			if (loose_route()) {
				t_relay();
				exit;
			}
		}"""


# a MESSAGE outside any dialog must carry credentials for the From domain's
# realm (subscriber table), as an INVITE does
MESSAGE_AUTH = r"""	if (is_method("MESSAGE")) {
		if (!proxy_authorize("$fd", "subscriber")) {
			xlog("L_NOTICE", "MESSAGE challenged: $fu -> $ru\n");
			proxy_challenge("$fd", "0");
			exit;
		}
		consume_credentials();
		xlog("L_NOTICE", "MESSAGE authorised: $fu -> $ru\n");
	}"""


class Kamailio:
    """users: {name: password}. min_expires: the registrar's floor, so a
    test can ask for a short expiry and see the refresh. tcp: listen on TCP
    too (same port). algorithm: the digest algorithm of its challenges
    ("SHA-256"; default MD5)."""

    def __init__(self, users, port=None, min_expires=5, nonce_expire=300, tcp=False,
                 algorithm=None, dialog_users=None, one_time_nonce=False,
                 relay_direct=False, tls=None, lifetime=None, dids=None, flows=False,
                 message_auth=False, dialog_methods=None, proxy_require=False, qop=True):
        """dialog_users: {name: password} of the dlgsub table, which turns
        on DIALOG_AUTH. one_time_nonce: each nonce is good for one request
        (then no credentials can be pre-emptive). relay_direct: a
        Request-URI with another port than Kamailio's is relayed there, no
        registration needed (baresip cannot register with SHA-256).
        tls: (certificate, key) PEM paths: listen for SIP over TLS on
        tls_port too (needs kamailio-tls-modules). lifetime: seconds an idle
        TCP/TLS connection lives (tcp_connection_lifetime). dids: {number:
        user}, an INVITE to number goes to user's contacts (To unchanged, as
        a carrier delivers a DID). flows: a REGISTER's source address is
        kept (fix_nated_register) and requests to a contact go back over that
        connection only, never a new one (set_forward_no_connect): the
        registration's flow must still be open. message_auth: a MESSAGE
        outside a dialog is challenged (407) like an INVITE (MESSAGE_AUTH).
        dialog_methods: only these methods ("INVITE", a Kamailio is_method
        list) meet DIALOG_AUTH; alice's BYE then needs only the base check.
        proxy_require: Proxy-Require is checked (sanity module, 420 for an
        unknown extension) before any credentials, as RFC 3261 16.3 says.
        qop (default): every challenge says qop="auth", and Kamailio checks
        that each answer's nonce count goes up (auth nonce_count), so a
        nonce used again pre-emptively must come with nc + 1."""
        tcp = tcp or bool(tls)
        self.tls_port = free_port() if tls else None
        self.dir = tempfile.mkdtemp(prefix="tandem-kam-")
        self.port = port or (free_port(also_udp=True) if tcp else
                             free_port(kind=__import__("socket").SOCK_DGRAM))
        self.users = users
        self.min_expires = min_expires
        self.nonce_expire = nonce_expire
        self.proc = None
        db = os.path.join(self.dir, "db")
        os.makedirs(db)
        with open(os.path.join(db, "version"), "w") as f:
            f.write("table_name(string) table_version(int)\nsubscriber:7\n")
        with open(os.path.join(db, "subscriber"), "w") as f:
            f.write("id(int,auto) username(string) domain(string) password(string) "
                    "ha1(string,null) ha1b(string,null)\n")
            for i, (u, p) in enumerate(sorted(users.items()), 1):
                f.write("%d:%s:127.0.0.1:%s::\n" % (i, u, p))
        with open(os.path.join(db, "dlgsub"), "w") as f:
            f.write("id(int,auto) username(string) domain(string) password(string) "
                    "ha1(string,null) ha1b(string,null)\n")
            for i, (u, p) in enumerate(sorted((dialog_users or {}).items()), 1):
                f.write("%d:%s:dlg.test:%s::\n" % (i, u, p))
        with open(os.path.join(db, "version"), "a") as f:
            f.write("dlgsub:7\n")
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(self._qop(qop, CFG % {"port": self.port, "mpath": MODULES, "run": self.dir,
                           "tcp": "listen=tcp:127.0.0.1:%d" % self.port if tcp else
                           "disable_tcp=yes",
                           "min_expires": min_expires, "nonce_expire": nonce_expire,
                           "dialog_auth": (DIALOG_AUTH.replace(
                               '!is_method("ACK|CANCEL|PRACK")',
                               'is_method("%s")' % dialog_methods) if dialog_methods
                               else DIALOG_AUTH) if dialog_users else "",
                           "message_auth": MESSAGE_AUTH if message_auth else "",
                           "proxy_require": '\tif (!sanity_check("512")) {\n\t\texit;\n'
                           '\t}' if proxy_require else "",
                           "relay_direct": '\tif ($rp != %d) {\n\t\tt_relay();\n'
                           '\t\texit;\n\t}' % self.port if relay_direct else "",
                           "otn": 'modparam("auth", "one_time_nonce", 1)'
                           if one_time_nonce else "",
                           # algorithm="SHA-256": its challenges name it (RFC 8760)
                           "auth_alg": 'modparam("auth", "algorithm", "%s")' % algorithm
                           if algorithm else "", **self._extras(tls, lifetime, dids, flows)}))
        self.log = os.path.join(self.dir, "kamailio.log")

    def set_password(self, user, password):
        """Changes a subscriber's password in the table; db_text reads it
        at start, so stop() and start() the registrar after."""
        self.users = dict(self.users, **{user: password})
        path = os.path.join(self.dir, "db", "subscriber")
        with open(path) as f:
            head = f.readline()
        with open(path + ".new", "w") as f:
            f.write(head)
            for i, (u, p) in enumerate(sorted(self.users.items()), 1):
                f.write("%d:%s:127.0.0.1:%s::\n" % (i, u, p))
        os.replace(path + ".new", path)

    @staticmethod
    def _qop(qop, cfg):
        if not qop:
            return cfg
        for realm in ('"$fd"', '"dlg.test"'):
            cfg = cfg.replace('_challenge(%s, "0")' % realm, '_challenge(%s, "1")' % realm)
        return cfg.replace('modparam("auth", "nonce_expire"',
                           'modparam("auth", "nonce_count", 1)\nmodparam("auth", "nonce_expire"')

    def _extras(self, tls, lifetime, dids, flows):
        more_cfg, mods = [], []
        if lifetime:
            more_cfg.append("tcp_connection_lifetime=%d" % lifetime)
        if tls:
            more_cfg += ["enable_tls=yes", "listen=tls:127.0.0.1:%d" % self.tls_port]
            mods.append('loadmodule "tls.so"')
            tls_cfg = os.path.join(self.dir, "tls.cfg")
            with open(tls_cfg, "w") as f:
                f.write("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        "require_certificate = no\ncertificate = %s\nprivate_key = %s\n"
                        "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        "require_certificate = no\n" % tls)
            mods.append('modparam("tls", "config", "%s")' % tls_cfg)
            if lifetime:
                # TLS connections have their own idle limit (600 s by default)
                mods.append('modparam("tls", "connection_timeout", %d)' % lifetime)
        on_register, before_relay = "", ""
        if flows:
            mods += ['loadmodule "nathelper.so"',
                     'modparam("nathelper", "received_avp", "$avp(RECEIVED)")',
                     'modparam("registrar", "received_avp", "$avp(RECEIVED)")']
            on_register = "fix_nated_register();"
            before_relay = "set_forward_no_connect();"
        before_lookup = "".join('if ($rU == "%s") { $rU = "%s"; }\n\t' % (n, u)
                                for n, u in (dids or {}).items())
        return {"more_cfg": "\n".join(more_cfg), "more_modules": "\n".join(mods),
                "on_register": on_register, "before_lookup": before_lookup,
                "before_relay": before_relay}

    def tcp_connections(self):
        """[{id, type, src, dst, ...}] of kamcmd core.tcp_list: the TCP and
        TLS connections Kamailio holds now."""
        out = self.kamcmd("core.tcp_list") or ""
        conns, cur = [], None
        for line in out.splitlines():
            m = re.match(r"\s*(\w+):\s*(.*?)\s*$", line)
            if not m:
                continue
            if m.group(1) == "id":
                cur = {}
                conns.append(cur)
            if cur is not None:
                cur[m.group(1)] = m.group(2)
        return conns

    @property
    def uri(self):
        return "sip:127.0.0.1:%d" % self.port

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=15):
        self.logf = open(self.log, "ab")
        self.proc = track(subprocess.Popen(
            ["kamailio", "-f", self.cfg, "-DD", "-E", "-m", "64", "-M", "8",
             "-Y", self.dir, "-P", os.path.join(self.dir, "pid")],
            stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kamailio exited %d: %s" % (self.proc.returncode,
                                                               self.read_log()[-3000:]))
            if os.path.exists(os.path.join(self.dir, "ctl")) and \
                    self.kamcmd("core.uptime", check=False) is not None:
                return self
            time.sleep(0.05)
        raise RuntimeError("kamailio did not answer kamcmd in %d s: %s" % (
            timeout, self.read_log()[-3000:]))

    def kamcmd(self, *args, check=True):
        r = subprocess.run(["kamcmd", "-s", "unix:" + os.path.join(self.dir, "ctl")] +
                           list(args), capture_output=True, text=True, timeout=10)
        if r.returncode:
            if check:
                raise RuntimeError("kamcmd %s: %s" % (args, r.stderr or r.stdout))
            return None
        return r.stdout

    def contacts(self, user):
        """[{uri, expires, cseq, socket[, received]}] registered for user
        (socket: the transport and address Kamailio received the REGISTER
        on; received: where it came from, when fix_nated_register kept it)."""
        out = self.kamcmd("ul.dump") or ""
        found, aor = [], None
        for line in out.splitlines():
            m = re.search(r"AoR:\s*(\S+)", line)
            if m:
                aor = m.group(1)
                continue
            m = re.search(r"Address:\s*(\S+)", line)
            if m and aor == user:
                found.append({"uri": m.group(1)})
                continue
            m = re.search(r"(Expires|CSeq|Socket|Received):\s*(\S+)", line)
            if m and aor == user and found:
                found[-1][m.group(1).lower()] = m.group(2)
        return found

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def cleanup(self):
        self.stop()
        if not os.environ.get("TANDEM_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
