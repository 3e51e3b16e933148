"""`twinbeat lab`: a two-node cluster inside network namespaces on one machine, and its harness.

The lab is the project's test bench and its demonstration: nodes `prime` and `calc`, a client,
a bridge for the LAN, a veth pair as the dedicated heartbeat NIC, a socat pty pair as the
null-modem cable and Debian's real apache2 as the service. The command line (`cli.py`), the
demo (`demo.py`), the integration tests and the benchmarks all drive the same code:

    errors.py   LabError, wait_for
    network.py  namespaces, veths, bridges, addresses, neighbours (pyroute2 only)
    procs.py    spawn / run in a namespace, PidTable, the one stop policy
    harness.py  Harness: namespaces and processes under one prefix, teardown that always works
    cable.py    Cable: the socat pty pair
    files.py    NodeFiles: a node's ha.d, state, run dir and logs
    node.py     NodeDaemon: `twinbeat run` in a namespace, its log and status
    plan.py     the lab's fixed names, addresses, timer presets and paths (pure data)
    render.py   the lab's ha.d and apache2 files
    lab.py      Lab: the two-node topology on a Harness, apache2, faults, the client
    poller.py   the client's HTTP poller

Owns nothing outside its namespaces and its run directory: every name starts with the lab's
(or a harness's) prefix, every address is in 198.18.0.0/15, no namespace gets a default
route, and every process it starts is recorded by PID and stopped by PID.
"""
