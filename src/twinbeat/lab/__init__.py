"""`twinbeat lab`: a two-node cluster inside network namespaces on one machine.

The lab is the project's test bench and its demonstration: nodes `prime` and `calc`, a client,
a bridge for the LAN, a veth pair as the dedicated heartbeat NIC, a socat pty pair as the
null-modem cable and Debian's real apache2 as the service. `lab.Lab` is the one API; the
command line (`cli.py`), the demo (`demo.py`), the integration tests and `bench/failover.py`
all drive it.

Owns nothing outside its namespaces and its run directory: every name starts with the lab
name, every address is in 198.18.0.0/15, no namespace gets a default route, and every process
it starts is recorded by PID and stopped by PID.
"""
