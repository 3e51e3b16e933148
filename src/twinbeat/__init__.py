"""twinbeat: a two-node high-availability daemon that reads Linux-HA heartbeat's /etc/ha.d."""

__version__ = "0.1.0"
