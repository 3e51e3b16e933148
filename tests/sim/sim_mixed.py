"""What the mixed-cluster simulations share (sim_foreign.py, sim_r1.py): a twinbeat node and
a simulated heartbeat 3.0.6 peer on heartbeat's own timers, over the lab's two links, with the
lab's md5 key. Each simulation keeps its own groups, agents and faults."""

from __future__ import annotations

from twinbeat import wire

UDP, TTY = "eth1", "/dev/ttyS0"
LINK_IDS = {UDP: 0, TTY: 0x80}
KEEPALIVE, DEADTIME, INITDEAD = 1.0, 5.0, 10.0
MAX_DELAY = 0.3  # a message's delay on either link, at most
TICK = 0.05  # how late a node's timer may fire
KEY = {1: ("md5", b"hb-lab-secret")}
RING = wire.Keyring(KEY, 1)
