"""control/: the operator's side of a running daemon.

`server` owns the Unix socket under the run directory (one JSON object per line, SO_PEERCRED
decides who may change state), `client` is what `twinbeat status|standby|takeover` run, and
`statusview` turns the core's snapshot into the status document both print. Nothing here
decides cluster policy: a handoff is asked of the core and its completion read from the
core's snapshot.
"""
