"""daemon/: `twinbeat run`, the composition root, and the process-level helpers it needs.

`root` wires the engine (core + wire translation) to the link drivers, the resource agents and
the control socket inside one trio nursery. Its helpers: `generation` (the boot counter on
disk), `logsetup` (ha.cf's logfile/debugfile/logfacility), `notify` (sd_notify) and
`realtime` (SCHED_FIFO, mlockall, the kernel watchdog device). None of them decides anything
about the cluster: that is the core's job.
"""
