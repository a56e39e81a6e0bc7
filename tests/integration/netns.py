"""Runs the calling test inside a private network namespace (harness.md
section 3): lo up, plus a veth pair whose v0 end carries 127.0.0.2, so ICE
stacks that skip loopback interfaces still find an address, and nothing the
test sends can leave the namespace. Needs root; takes milliseconds."""

import os
import sys

NETNS_ENV = "TANDEM_IN_NETNS"


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
