"""A clean Debian 12 in a directory, for installing the .deb where nothing else of ours is.

`bootstrap` makes it with debootstrap: the minimal base (`--variant=minbase`) plus systemd
and man-db, which every Debian 12 installation has (Priority: important) and which the package
meets there (its unit, its man pages). `prefetch` downloads, from inside the tree, what
`apt install ./twinbeat_*.deb` will need, so that the install itself can run in a network
namespace with no way out (tests/packaging/test_deb_install.py boots the tree's own systemd
there, nsroots.TreeRoot).

Nothing is mounted on the host's side: debootstrap and `chroot TREE apt-get` write into the
tree only. `remove` deletes the tree, and refuses if anything is still mounted in it.

The mirror is TWINBEAT_DEBIAN_MIRROR, else deb.debian.org; the downloaded packages are kept
in build/debian12-cache/ (debootstrap --cache-dir) for the next run on this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = os.environ.get("TWINBEAT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = ROOT / "build" / "debian12-cache"
INCLUDE = ("systemd", "man-db")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}


class BootstrapError(RuntimeError):
    """debootstrap or apt in the tree failed (the message ends with its output)."""


def cannot_bootstrap_reason() -> str | None:
    """Why no Debian 12 tree can be made here, or None (the tests are skipped with it)."""
    if os.geteuid() != 0:
        return "needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None:
        return "debootstrap not found (apt-get install debootstrap)"
    release = f"{MIRROR}/dists/{SUITE}/Release"
    try:
        with urllib.request.urlopen(release, timeout=15) as reply:
            reply.read(64)
    except OSError as exc:
        return f"Debian mirror unreachable ({release}: {exc}); set TWINBEAT_DEBIAN_MIRROR"
    return None


def _run(argv: list[str], log: Path, what: str, timeout: float) -> None:
    with log.open("ab") as out:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **APT_ENV},
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BootstrapError(f"{what}: exit {proc.returncode} (log {log}):\n{tail}")


def bootstrap(tree: Path, log: Path) -> None:
    """debootstrap a minimal Debian 12 with systemd and man-db into the empty `tree`."""
    CACHE.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(INCLUDE)}",
        f"--cache-dir={CACHE}",
        SUITE,
        str(tree),
        MIRROR,
    ]
    _run(argv, log, "debootstrap", timeout=900)


def prefetch(tree: Path, deb: Path, log: Path) -> Path:
    """Copy the .deb into the tree's /root and download what installing it needs; the .deb's
    path inside the tree."""
    inside = Path("/root") / deb.name
    shutil.copy(deb, tree / inside.relative_to("/"))
    resolv = tree / "etc" / "resolv.conf"
    had_resolv = resolv.exists() or resolv.is_symlink()
    if not had_resolv:
        shutil.copy("/etc/resolv.conf", resolv)
    try:
        _run(["chroot", str(tree), "apt-get", "update", "-q"], log, "apt-get update", 300)
        _run(
            ["chroot", str(tree), "apt-get", "install", "-q", "-y", "--download-only",
             str(inside)],
            log, "apt-get install --download-only", 600,
        )  # fmt: skip
    finally:
        if not had_resolv:
            resolv.unlink()
    return inside


def mounts_under(tree: Path) -> list[str]:
    """Mount points of this process's view at or below `tree` (there should be none)."""
    top = str(tree.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == top or point.startswith(top + "/"):
            found.append(point)
    return found


def remove(tree: Path) -> None:
    """Delete the tree; refuse (and keep it) if anything is mounted in it."""
    mounted = mounts_under(tree)
    if mounted:
        raise RuntimeError(f"not removing {tree}: still mounted there: {mounted}")
    shutil.rmtree(tree, ignore_errors=False)
