"""The root file systems a test's systemd boots on (nsboot.py), each kept off the host's disk.

A systemd booted on the host's own file system runs sysinit (systemd-tmpfiles once emptied the
host's /tmp) and starts every enabled unit (DESIGN.md §9). Each root here is prepared by a
shell script that runs as PID 1 of the new namespaces, before it execs systemd, and says what
it does to stay private:

- `HostRoot`: the host's file system, with private tmpfs on /run, /tmp and /var/tmp, private
  overlay layers on /etc, /var/lib and /usr/local/bin, and a unit path of the test's own
  (SYSTEMD_UNIT_PATH), so that no host unit is even loaded. Used to run the unit of the tree
  with this checkout's twinbeat (tests/systemd).
- `TreeRoot`: a whole Debian tree in a directory the test made (debootstrap), made the root
  with pivot_root; /proc/sys and /sys read-only (no sysctl of the tree reaches the host's
  kernel), a /dev of a few device nodes, private /run and /tmp. Its own units load as on a
  real machine. Used to install the .deb on a clean Debian 12 (tests/packaging).

Both bind /dev/console to a log file of the test's, boot `BOOT_TARGET` (journald, nothing
else; units start only when asked) and mount cgroup2 rooted in a cgroup made for the boot.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

SYSTEMD = "/lib/systemd/systemd"
BOOT_TARGET = "twinbeat-test.target"
BOOT_TARGET_TEXT = """[Unit]
Description=twinbeat test boot: journald, nothing else
Wants=systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service
"""
# The manager's defaults (not the units'): no core files (a watchdog abort would write one
# into / on the host's disk) and a journal in /run only.
SYSTEM_CONF = "[Manager]\nDefaultLimitCORE=0\n"
JOURNALD_CONF = "[Journal]\nStorage=volatile\nForwardToConsole=no\nForwardToSyslog=no\n"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Files as a test gives them: absolute path -> (text, mode).
Files = Mapping[str, tuple[str, int]]

_EXEC = """\
hostname {hostname}
ulimit -c 0
echo "twinbeat-test: exec systemd" >&2
exec env -i container=twinbeat-test {env} SYSTEMD_LOG_COLOR=0 PATH={path} \\
  {systemd} --system --unit={target} --show-status=no --log-target=journal
"""


class Root(Protocol):
    def stage(self, work: Path, units: Mapping[str, str], files: Files, hostname: str) -> None:
        """Write what the boot needs (under `work`, or into the root itself)."""

    def script(self, work: Path, hostname: str) -> str:
        """The shell script that makes the mounts and execs systemd."""


def _common_files(hostname: str, files: Files) -> dict[str, tuple[str, int]]:
    return {
        "/etc/hostname": (hostname + "\n", 0o644),
        "/etc/systemd/system.conf.d/zz-twinbeat-test.conf": (SYSTEM_CONF, 0o644),
        "/etc/systemd/journald.conf.d/zz-twinbeat-test.conf": (JOURNALD_CONF, 0o644),
        **files,
    }


def _write(top: Path, files: Files) -> None:
    for path, (text, mode) in files.items():
        if not path.startswith("/") or ".." in Path(path).parts:
            raise ValueError(f"not an absolute path: {path!r}")
        target = top / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)


def _exec(hostname: str, env: str = "") -> str:
    return _EXEC.format(
        hostname=shlex.quote(hostname), env=env, path=PATH, systemd=SYSTEMD, target=BOOT_TARGET
    )


# -- the host's file system, made private ------------------------------------------------------

# Units of the host's that the boot uses as they are (journald, so that `journalctl -u` shows
# a failing unit's output); everything else in the unit path is written here.
HOST_UNITS = (
    "systemd-journald.service",
    "systemd-journald.socket",
    "systemd-journald-dev-log.socket",
)
# The units' default dependencies and Wants= name these; empty stand-ins suffice.
STUB_TARGETS = (
    "sysinit.target",
    "basic.target",
    "shutdown.target",
    "network-online.target",
    "multi-user.target",
    "sockets.target",
)
SLICE_TEXT = "[Unit]\nDescription=System Slice\nDefaultDependencies=no\n"
OVERLAID = ("/etc", "/var/lib", "/usr/local/bin")

_HOST_SETUP = """\
set -eu
work={work}
mount --make-rprivate /
mount --bind "$work/console.log" /dev/console
mount -t tmpfs -o mode=0755 twinbeat-test /mnt
cp -a "$work/stage" /mnt/stage
i=0
for keep in {keep}; do
  mkdir "/mnt/keep$i" && mount --rbind "$keep" "/mnt/keep$i"; i=$((i + 1))
done
mount -t tmpfs -o mode=0755 twinbeat-test /run
mount -t tmpfs -o mode=1777 twinbeat-test /tmp
mount -t tmpfs -o mode=1777 twinbeat-test /var/tmp
i=0
for keep in {keep}; do
  mkdir -p "$keep" && mount --move "/mnt/keep$i" "$keep"; i=$((i + 1))
done
i=0
for dir in {overlaid}; do
  mkdir -p "/mnt/ovl$i/upper" "/mnt/ovl$i/work"
  mount -t overlay twinbeat-test \\
    -o "lowerdir=$dir,upperdir=/mnt/ovl$i/upper,workdir=/mnt/ovl$i/work" "$dir"
  i=$((i + 1))
done
cp -a /mnt/stage/root/. /
mount -t cgroup2 twinbeat-test /sys/fs/cgroup
"""


class HostRoot:
    """The host's file system; `keep`: host directories carried over under the private /run,
    /tmp and /var/tmp (the lab's run dir: its serial pty links, apache2's files). Files may
    only go under the overlaid /etc, /var/lib and /usr/local/bin."""

    def __init__(self, keep: Sequence[Path] = ()) -> None:
        self.keep = [str(p) for p in keep]

    def stage(self, work: Path, units: Mapping[str, str], files: Files, hostname: str) -> None:
        for path in (*self.keep, *files):
            if not path.startswith("/") or ".." in Path(path).parts:
                raise ValueError(f"not an absolute path: {path!r}")
        for path in files:
            if not any(path.startswith(d + "/") for d in OVERLAID):
                raise ValueError(f"{path}: outside the overlaid {', '.join(OVERLAID)}")
        stage = work / "stage"
        unit_dir = stage / "units"
        unit_dir.mkdir(parents=True)
        for name in HOST_UNITS:
            shutil.copy(Path("/lib/systemd/system") / name, unit_dir / name)
        for name in STUB_TARGETS:
            (unit_dir / name).write_text(f"[Unit]\nDescription=stand-in {name}\n")
        (unit_dir / "system.slice").write_text(SLICE_TEXT)
        (unit_dir / BOOT_TARGET).write_text(BOOT_TARGET_TEXT)
        for name, text in units.items():
            (unit_dir / name).write_text(text)
        _write(stage / "root", _common_files(hostname, files))

    def script(self, work: Path, hostname: str) -> str:
        setup = _HOST_SETUP.format(
            work=shlex.quote(str(work)),
            keep=" ".join(shlex.quote(k) for k in self.keep),
            overlaid=" ".join(OVERLAID),
        )
        return setup + _exec(hostname, "SYSTEMD_UNIT_PATH=/mnt/stage/units")


# -- a Debian tree of the test's own -----------------------------------------------------------

_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")

_TREE_SETUP = """\
set -eu
work={work}
root={root}
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 twinbeat-test "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid dev "$root/dev"
for node in {dev_nodes}; do
  touch "$root/dev/$node" && mount --bind "/dev/$node" "$root/dev/$node"
done
touch "$root/dev/console" && mount --bind "$work/console.log" "$root/dev/console"
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
mount -t tmpfs -o mode=0755 run "$root/run"
mount -t tmpfs -o mode=1777 tmp "$root/tmp"
mkdir -p "$root/.oldroot"
cd "$root"
pivot_root . .oldroot
cd /
umount -l /.oldroot
"""


class TreeRoot:
    """A Debian tree in `tree` (its /proc, /sys, /dev, /run and /tmp are mounted over, not
    written); units and files are written into it before the boot."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree

    def stage(self, work: Path, units: Mapping[str, str], files: Files, hostname: str) -> None:
        unit_files = {
            f"/etc/systemd/system/{name}": (text, 0o644)
            for name, text in {BOOT_TARGET: BOOT_TARGET_TEXT, **units}.items()
        }
        _write(self.tree, {**_common_files(hostname, files), **unit_files})

    def script(self, work: Path, hostname: str) -> str:
        setup = _TREE_SETUP.format(
            work=shlex.quote(str(work)),
            root=shlex.quote(str(self.tree)),
            dev_nodes=" ".join(_DEV_NODES),
        )
        return setup + _exec(hostname)
