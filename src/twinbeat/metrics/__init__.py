"""metrics/: the Prometheus endpoint (ha.cf `metrics ADDRESS:PORT`, docs/metrics.md).

Readers only: `collector.py` turns the core's snapshot and the drivers' counters into
metric families (it decides nothing), `httpd.py` serves them over a deliberately tiny
HTTP/1.x server in trio (no thread), `looplag.py` measures how late the event loop wakes.
The daemon wires them up (daemon/metrics.py).
"""
