"""export/: `twinbeat export pacemaker`, the move from twinbeat to Corosync + Pacemaker.

A pure translation from the typed `Config` (plus the few `Facts` of this machine that
gather.py reads) to corosync.conf (corosync.py) and a CIB (translate.py builds model.py's
`Cluster`; cib.py, crm.py and pcs.py write it as XML, crmsh and pcs). What cannot be
translated becomes a `Note`: a warning naming the heartbeat file and line, and a comment in
the output. command.py is the command; docs/pacemaker.md the admin's guide. Nothing here
imports trio, the core or the daemon.
"""
