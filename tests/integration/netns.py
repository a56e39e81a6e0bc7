"""Runs the calling test inside a private network namespace (harness.md
section 3): lo up, plus a veth pair whose v0 end carries 127.0.0.2, so ICE
stacks that ignore loopback interfaces still find an address, and nothing the
test sends can leave the namespace. Needs root; takes milliseconds."""

import os
import sys

NETNS_ENV = "TANDEM_IN_NETNS"


# Two hosts across a veth pair: this namespace (the gateway's) has 127.0.0.2
# on v0, a named namespace BROWSER_NS has 127.0.0.3 on v1. Loopback-range
# addresses keep the test inside the rules for test traffic; to route them
# over a veth, lo keeps only 127.0.0.1/32 (not the whole 127/8 as local) and
# route_localnet lets 127.x cross a real interface.
BROWSER_NS = "tndbr%d" % os.getpid()
TWO_HOSTS = """
set -e
mount --make-rprivate /
ip link set lo up
ip addr del 127.0.0.1/8 dev lo && ip addr add 127.0.0.1/32 dev lo
ip netns add $NS
ip link add v0 type veth peer name v1 netns $NS
ip addr add 127.0.0.2/32 dev v0 && ip link set v0 up
for k in all.route_localnet v0.route_localnet; do sysctl -qw net.ipv4.conf.$k=1; done
for k in all.rp_filter v0.rp_filter; do sysctl -qw net.ipv4.conf.$k=0; done
ip route add 127.0.0.3/32 dev v0 src 127.0.0.2
ip netns exec $NS sh -c 'set -e; ip link set lo up
  ip addr del 127.0.0.1/8 dev lo && ip addr add 127.0.0.1/32 dev lo
  ip addr add 127.0.0.3/32 dev v1 && ip link set v1 up
  for k in all.route_localnet v1.route_localnet; do sysctl -qw net.ipv4.conf.$k=1; done
  for k in all.rp_filter v1.rp_filter; do sysctl -qw net.ipv4.conf.$k=0; done
  ip route add 127.0.0.2/32 dev v1 src 127.0.0.3'
"$@"; rc=$?
ip netns del $NS
exit $rc
"""


def enter_two_hosts():
    """Re-executes this script in a new network and mount namespace wired to
    a second network namespace (BROWSER_NS) over a veth pair."""
    if os.environ.get(NETNS_ENV):
        return
    os.environ[NETNS_ENV] = "2"
    os.environ["TANDEM_BROWSER_NS"] = BROWSER_NS
    os.environ["NS"] = BROWSER_NS
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "-n", "-m", "--", "sh", "-c", TWO_HOSTS, "sh",
                          sys.executable] + sys.argv)


def enter():
    """Re-executes this script inside a new network namespace, once."""
    if os.environ.get(NETNS_ENV):
        return
    os.environ[NETNS_ENV] = "1"
    script = ("ip link set lo up && ip link add v0 type veth peer name v1 && "
              "ip addr add 127.0.0.2/32 dev v0 && ip link set v0 up && ip link set v1 up && "
              'exec "$@"')
    args = ["unshare", "-n", "--", "sh", "-c", script, "sh", sys.executable] + sys.argv
    sys.stdout.flush()
    os.execvp("unshare", args)


def enter_private_lan():
    """Like enter(), with a veth pair on a private /24 (10.77.0.1 and
    10.77.0.2) and a default route inside the namespace: for browsers
    (Firefox's nICEr) that gather no candidates on a loopback-only host.
    Nothing leaves the namespace."""
    if os.environ.get(NETNS_ENV):
        return
    os.environ[NETNS_ENV] = "3"
    script = ("ip link set lo up && ip link add v0 type veth peer name v1 && "
              "ip addr add 10.77.0.1/24 dev v0 && ip addr add 10.77.0.2/24 dev v1 && "
              "ip link set v0 up && ip link set v1 up && "
              # nICEr finds its default address by connecting a UDP socket
              # to a public one; the route only has to exist (the veth
              # leads nowhere outside)
              "ip route add default dev v0 && "
              'exec "$@"')
    args = ["unshare", "-n", "--", "sh", "-c", script, "sh", sys.executable] + sys.argv
    sys.stdout.flush()
    os.execvp("unshare", args)
