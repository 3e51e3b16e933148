"""OCF agent: `ocf:PROVIDER:AGENT::NAME=VALUE` (and heartbeat's classic names) driven per the
OCF resource agent API.

Owns calling an agent and reading its exit codes. An agent is run as
`<OCF_ROOT>/resource.d/PROVIDER/AGENT ACTION` (an argument list, process.py) with the
parameters in its environment (`config.ocf.ocf_environment`: OCF_ROOT, OCF_RESOURCE_INSTANCE,
OCF_RESKEY_NAME..., OCF_RESKEY_CRM_meta_timeout in ms), never on a command line.

Exit codes (OCF API; the names appear in the log):
- start: 0 is success, anything else a failure naming the code.
- stop: 0, and 7 (already not running: the API says stop must then succeed, not every
  agent does) are success.
- monitor: 0 running; 7 not running; 3 unimplemented (not checked: UNSUPPORTED);
  4 (insufficient privilege), 5 (not installed), 6 (not configured) say this node cannot
  run it (CANNOT_RUN, Pacemaker's "hard" errors); 1, 2 and anything else a failure.
- status (the start-up probe and the stop's last word): monitor's 0 is running; 7, and 5
  (what is not installed cannot run; Pacemaker's probe reads it so) are not; anything else
  is unknown (AgentError), which the caller counts as running.

Timeouts: each action's own from the agent's `meta-data` (read once, the first time one is
needed, under META_DATA_TIMEOUT), else `default_timeout`; the monitor's is the driver's.
The agent's stderr line `ocf-exit-reason:...` (ocf_exit_reason) is kept in the failure.
"""

from __future__ import annotations

import logging
import os

from twinbeat.config.ocf import ocf_environment
from twinbeat.config.ocfmeta import MetaData, MetaDataError, parse_meta_data
from twinbeat.resources.errors import AgentError
from twinbeat.resources.health import OK, Check, Health
from twinbeat.resources.process import Completed, run_program

log = logging.getLogger("twinbeat.resources")

OCF_SUCCESS, OCF_UNIMPLEMENTED, OCF_NOT_RUNNING = 0, 3, 7
OCF_CODES = {
    0: "OCF_SUCCESS", 1: "OCF_ERR_GENERIC", 2: "OCF_ERR_ARGS", 3: "OCF_ERR_UNIMPLEMENTED",
    4: "OCF_ERR_PERM", 5: "OCF_ERR_INSTALLED", 6: "OCF_ERR_CONFIGURED", 7: "OCF_NOT_RUNNING",
    8: "OCF_RUNNING_PROMOTED", 9: "OCF_FAILED_PROMOTED",
}
CANNOT_RUN = frozenset({4, 5, 6})
META_DATA_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 30.0  # an action without advice in the meta-data


def code_name(code: int) -> str:
    return f"{OCF_CODES.get(code, 'unknown exit code')} ({code})"


class OcfAgent:
    """One OCF resource; see the module docstring."""

    def __init__(self, text: str, path: str, *, provider: str, agent: str,
                 params: tuple[tuple[str, str], ...], instance: str,
                 default_timeout: float = DEFAULT_TIMEOUT, ocf_root: str | None = None) -> None:
        self.text = text
        self.path = path
        self.provider = provider
        self.agent = agent
        self.params = params
        self.instance = instance
        self.default_timeout = default_timeout
        self.ocf_root = ocf_root or os.path.dirname(os.path.dirname(os.path.dirname(path)))
        self._meta: MetaData | None = None
        self._meta_read = False

    # -- the Agent protocol ----------------------------------------------------------------

    async def start(self) -> None:
        done = await self._call("start", await self._timeout("start"))
        if done.code != OCF_SUCCESS:
            raise AgentError(f"{self.text}: start: {code_name(done.code)}{_why(done)}")

    async def stop(self) -> None:
        done = await self._call("stop", await self._timeout("stop"))
        if done.code not in (OCF_SUCCESS, OCF_NOT_RUNNING):
            raise AgentError(f"{self.text}: stop: {code_name(done.code)}{_why(done)}")

    async def status(self) -> bool:
        done = await self._call("monitor", await self._timeout("monitor"), quiet=True)
        if done.code == OCF_SUCCESS:
            return True
        if done.code in (OCF_NOT_RUNNING, 5):
            return False
        raise AgentError(f"{self.text}: monitor: {code_name(done.code)}{_why(done)}")

    async def monitor(self, timeout: float) -> Check:
        """One check (module docstring); a hung agent is the driver's to time out."""
        if not await self.monitored():
            return Check(Health.UNSUPPORTED, "the agent has no monitor action")
        done = await self._call("monitor", timeout, quiet=True)
        code = done.code
        if code == OCF_SUCCESS:
            return OK
        detail = f"monitor: {code_name(code)}{_why(done)}"
        if code == OCF_NOT_RUNNING:
            return Check(Health.NOT_RUNNING, detail)
        if code == OCF_UNIMPLEMENTED:
            return Check(Health.UNSUPPORTED, detail)
        if code in CANNOT_RUN:
            return Check(Health.CANNOT_RUN, detail)
        return Check(Health.FAILED, detail)

    async def advised_timeout(self, action: str) -> float | None:
        """The meta-data's timeout for `action`, if the agent gives one."""
        meta = await self.meta_data()
        return None if meta is None else meta.timeout(action)

    async def monitored(self) -> bool:
        """False when the meta-data lists actions but no `monitor` (never checked)."""
        meta = await self.meta_data()
        return meta is None or not meta.actions or "monitor" in meta.actions

    async def announce(self) -> None:
        """Nothing to announce for an OCF resource (an address is IPaddr's business)."""

    def quiet(self) -> None:
        """Nothing to silence either (GroupRunner.stop)."""

    # -- internals -------------------------------------------------------------------------

    async def meta_data(self) -> MetaData | None:
        """The agent's meta-data, read once; None (logged once) when it cannot be had."""
        if not self._meta_read:
            self._meta_read = True
            try:
                done = await self._call("meta-data", META_DATA_TIMEOUT, quiet=True)
                if done.code != OCF_SUCCESS:
                    raise MetaDataError(f"exited {done.code}")
                self._meta = parse_meta_data(done.stdout)
            except (AgentError, MetaDataError) as exc:
                log.warning("%s: cannot read the agent's meta-data (%s); using %g s "
                            "timeouts", self.text, exc, self.default_timeout)
        return self._meta

    async def _timeout(self, action: str) -> float:
        return await self.advised_timeout(action) or self.default_timeout

    async def _call(self, action: str, timeout: float, *, quiet: bool = False) -> Completed:
        env = ocf_environment(dict(os.environ), provider=self.provider, agent=self.agent,
                              instance=self.instance, params=self.params, timeout=timeout,
                              ocf_root=self.ocf_root)
        return await run_program([self.path, action], label=self.text, action=action,
                                 timeout=timeout, env=env, quiet=quiet)


def _why(done: Completed) -> str:
    """`: <reason>` from the agent's `ocf-exit-reason:` stderr line, or nothing."""
    for line in reversed(done.stderr.splitlines()):
        if line.startswith("ocf-exit-reason:"):
            return f": {line.partition(':')[2].strip()[:200]}"
    return ""
