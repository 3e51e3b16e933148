"""The .deb `make deb` builds: what it contains, its metadata, its maintainer scripts, its
man pages, lintian's verdict, and the packaged tree run as it is (its private venv, its
compiled codec, `twinbeat check` on the packaged examples).

Fast enough for every CI run once the package is built (the build itself takes 1-2 min).
The install on a clean Debian 12, under its own systemd, is test_deb_install.py.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbeat.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = "usr/lib/twinbeat"
DEBIAN_PYTHON = "/usr/bin/python3"
# The Python modules the package takes from Debian (debian/control's Depends).
DEBIAN_MODULES = ("serial", "outcome", "idna", "sortedcontainers", "prometheus_client")

pytestmark = pytest.mark.slow


def _members(deb: Path) -> dict[str, tarfile.TarInfo]:
    """The data.tar members of the package, by path without the leading './'."""
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        return {m.name.removeprefix("./").rstrip("/"): m for m in tar.getmembers()}


@pytest.fixture(scope="module")
def members(deb: Path) -> dict[str, tarfile.TarInfo]:
    return _members(deb)


@pytest.fixture(scope="module")
def tree(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files extracted (dpkg-deb -x), as they would land under /."""
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


@pytest.fixture(scope="module")
def control(deb: Path) -> dict[str, str]:
    out = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    fields: dict[str, str] = {}
    for line in out.splitlines():
        if line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _site(names: dict[str, tarfile.TarInfo]) -> str:
    sites = [n for n in names if re.fullmatch(rf"{PRIVATE}/lib/python3\.\d+/site-packages", n)]
    assert len(sites) == 1, sites
    return sites[0]


# -- what it installs -----------------------------------------------------------------------


def test_installs_the_command_unit_udev_rule_examples_and_man_pages(members):
    for path in (
        "usr/bin/twinbeat",
        "lib/systemd/system/twinbeat.service",
        "lib/udev/rules.d/60-twinbeat-serial.rules",
        "usr/share/doc/twinbeat/examples/ha.cf",
        "usr/share/doc/twinbeat/examples/authkeys",
        "usr/share/doc/twinbeat/examples/haresources",
        "usr/share/doc/twinbeat/examples/twinbeat-hardening.conf",
        "usr/share/doc/twinbeat/examples/twinbeat.json",  # the sample Grafana dashboard
        "usr/share/doc/twinbeat/copyright",
        "usr/share/man/man8/twinbeat.8.gz",
        "usr/share/man/man5/twinbeat-ha.cf.5.gz",
        f"{PRIVATE}/pyvenv.cfg",
    ):
        assert path in members, f"{path} missing from the package"
    assert members["usr/bin/twinbeat"].mode & 0o111
    # The guides, compressed by dh_compress when large (Debian policy 12.3).
    for guide in ("install", "config", "migrating", "troubleshooting"):
        base = f"usr/share/doc/twinbeat/docs/{guide}.md"
        assert base in members or base + ".gz" in members, f"{base} missing from the package"
    # heartbeat's rule for authkeys, kept so the example directory passes `twinbeat check`.
    assert stat.S_IMODE(members["usr/share/doc/twinbeat/examples/authkeys"].mode) == 0o600


def test_the_private_venv_holds_twinbeat_its_codec_and_the_bundled_packages(members):
    site = _site(members)
    python = members[f"{PRIVATE}/bin/python3"]
    assert python.issym() and python.linkname == "../../../bin/python3"
    names = list(members)
    for pattern in (
        rf"{site}/twinbeat/wire/_twinbeat_wire\..*so",  # compiled at package build time
        rf"{site}/_cffi_backend\..*so",
        rf"{site}/trio/__init__\.py",
        rf"{site}/pyroute2/__init__\.py",
        rf"{site}/attr/__init__\.py",
        rf"{site}/sniffio/__init__\.py",
        rf"{site}/twinbeat/lab/templates/ha\.cf",  # package data
    ):
        assert any(re.fullmatch(pattern, n) for n in names), f"nothing matches {pattern}"
    # From Debian instead (debian/control Depends), so not bundled:
    for module in DEBIAN_MODULES:
        assert f"{site}/{module}" not in members, f"{module} is bundled; Debian's should be used"
    # Bytecode is compiled at install time (dh_python3's postinst), never shipped.
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_ships_nothing_in_etc(members):
    # /etc/ha.d belongs to the admin: never created, changed or removed by the package.
    assert not [n for n in members if n.startswith("etc/")]


def test_the_packaged_unit_is_the_tree_s_unit_with_the_packaged_command(tree):
    packaged = (tree / "lib/systemd/system/twinbeat.service").read_text()
    source = (ROOT / "etc/systemd/twinbeat.service").read_text()
    assert packaged == source.replace("/usr/local/bin/twinbeat", "/usr/bin/twinbeat")
    settings = [line for line in packaged.splitlines() if line and not line.startswith("#")]
    assert not [line for line in settings if "/usr/local" in line]
    exec_lines = [line for line in settings if line.startswith("Exec")]
    assert exec_lines and all("=/usr/bin/twinbeat " in line for line in exec_lines)


# -- metadata and maintainer scripts --------------------------------------------------------


def test_control_fields(control, version):
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert control["Package"] == "twinbeat"
    assert control["Version"] == version
    assert control["Architecture"] == arch
    depends = control["Depends"]
    debian = [f"python3-{m}" for m in DEBIAN_MODULES]
    debian = [{"python3-prometheus_client": "python3-prometheus-client"}.get(d, d) for d in debian]
    for needed in (*debian, "libssl3", "libffi8", "python3 (<< "):
        assert needed in depends, f"Depends lacks {needed}: {depends}"
    for bundled in ("python3-trio", "python3-pyroute2", "python3-cffi", "python3-attr"):
        assert bundled not in depends, f"{bundled} is bundled, not a dependency: {depends}"


@pytest.fixture(scope="module")
def scripts(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's control area (maintainer scripts), extracted by dpkg-deb -e."""
    out = tmp_path_factory.mktemp("deb-control") / "DEBIAN"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(out)], check=True)
    return out


def test_postinst_neither_enables_nor_restarts_the_unit(scripts):
    postinst = (scripts / "postinst").read_text()
    # The admin enables it once /etc/ha.d is written (docs/install.md). The only start is
    # deb-systemd-invoke's, which starts an enabled unit only (one the admin enabled before a
    # remove and reinstall); a restart on upgrade would move the resource groups: never.
    # The one `enable` is dh's "dont-enable" form: only for a unit the admin had enabled.
    assert postinst.count("deb-systemd-helper enable") == 1
    guard = postinst.index("deb-systemd-helper debian-installed 'twinbeat.service'")
    assert guard < postinst.index("deb-systemd-helper enable")
    assert "restart" not in postinst


def test_prerm_stops_the_service_on_removal_only(scripts):
    prerm = (scripts / "prerm").read_text()
    assert "deb-systemd-invoke stop 'twinbeat.service'" in prerm
    assert '"$1" = remove' in prerm  # not on upgrade (--no-stop-on-upgrade)
    postrm = (scripts / "postrm").read_text()
    assert "ha.d" not in postrm and "/var/lib/twinbeat" not in postrm


# -- man pages -------------------------------------------------------------------------------


def _man_text(path: Path) -> str:
    """The page as `man` renders it, plus groff's warnings about it."""
    proc = subprocess.run(
        ["man", "--warnings", "-E", "UTF-8", "-l", str(path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0"),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return re.sub(r".\x08", "", proc.stdout)


def test_twinbeat_8_documents_every_subcommand_and_option(tree):
    if shutil.which("man") is None:
        pytest.skip("man not found (apt-get install man-db)")
    page = _man_text(tree / "usr/share/man/man8/twinbeat.8.gz")
    assert page.startswith("TWINBEAT(8)")
    subparsers = next(a for a in build_parser()._actions if a.choices and a.dest == "command")
    assert isinstance(subparsers.choices, dict)
    for name, parser in subparsers.choices.items():
        assert f"twinbeat {name}" in page, f"subcommand {name} missing from twinbeat(8)"
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in page, f"{name} {option} missing from twinbeat(8)"
    for section in ("FILES", "SEE ALSO", "EXIT STATUS"):
        assert f"\n{section}\n" in page


def test_twinbeat_ha_cf_5_is_the_docs_directive_table(tree):
    if shutil.which("man") is None:
        pytest.skip("man not found (apt-get install man-db)")
    page = _man_text(tree / "usr/share/man/man5/twinbeat-ha.cf.5.gz")
    assert page.startswith("TWINBEAT-HA.CF(5)")
    assert "twinbeat-ha.cf - " in page  # NAME, for whatis/apropos
    config = (ROOT / "docs/config.md").read_text()
    section = config[config.index("\n## ha.cf\n") : config.index("\n## authkeys\n")]
    directives = re.findall(r"^\| `([a-z_0-9]+)", section, flags=re.MULTILINE)
    assert len(directives) > 20
    flat = " ".join(page.split())
    for directive in directives:
        assert directive in flat, f"{directive} (docs/config.md) missing from twinbeat-ha.cf(5)"
    # twinbeat's additions, including the monitoring and fencing ones, with their sections.
    for addition in ("garp_count", "monitor_interval", "migration_threshold", "fence_timeout"):
        assert f"{addition}" in flat
    for heading in ("Monitoring", "Fencing", "Where twinbeat differs"):
        assert f"\n   {heading}" in page, f"section {heading} missing"
    # The docs' "implemented in" column points into the source: not on the man page.
    assert "implemented in" not in flat and "core/membership.py" not in flat


# -- lintian ---------------------------------------------------------------------------------


def test_lintian_finds_no_errors_or_warnings(deb):
    lintian = shutil.which("lintian")
    if lintian is None:
        pytest.skip("lintian not found (apt-get install lintian)")
    proc = subprocess.run(
        [lintian, "--fail-on", "error,warning", str(deb)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the packaged tree, run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def venv_python(tree: Path) -> Iterator[Path]:
    """The package's own interpreter path, usr/lib/twinbeat/bin/python3, made to resolve
    here: its symlink goes to usr/bin/python3 *of the tree*, which points at Debian's."""
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        pytest.skip(f"{DEBIAN_PYTHON} not found: the package runs on Debian's python3")
    link = tree / "usr/bin/python3"
    link.symlink_to(DEBIAN_PYTHON)
    yield tree / PRIVATE / "bin" / "python3"
    link.unlink()


def _missing_debian_modules() -> list[str]:
    code = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] " \
        "if u.find_spec(m) is None))"
    out = subprocess.run(
        [DEBIAN_PYTHON, "-I", "-c", code, *DEBIAN_MODULES],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return out


def test_the_private_venv_runs_the_codec_with_bundled_and_debian_packages(tree, venv_python):
    missing = _missing_debian_modules()
    if missing:
        pytest.skip(f"Debian's python3 lacks {missing} (the package Depends on them)")
    code = (
        "import sys, trio, pyroute2, serial, twinbeat, twinbeat.wire._twinbeat_wire as w\n"
        "print(sys.prefix, sys.executable, trio.__file__, serial.__file__, w.__file__, sep='\\n')"
    )
    proc = subprocess.run(
        [str(venv_python), "-I", "-c", code], capture_output=True, text=True, check=True
    )
    prefix, executable, trio_file, serial_file, codec = proc.stdout.split()
    assert Path(prefix) == tree / PRIVATE  # pyvenv.cfg was found: a venv
    assert Path(executable) == venv_python  # what `twinbeat lab` re-runs
    assert trio_file.startswith(str(tree / PRIVATE))  # bundled, before any python3-trio
    assert serial_file.startswith("/usr/lib/python3/dist-packages/")  # Debian's
    assert codec.startswith(str(tree / PRIVATE))


def test_twinbeat_check_accepts_the_packaged_examples(tree, venv_python):
    missing = _missing_debian_modules()
    if missing:
        pytest.skip(f"Debian's python3 lacks {missing} (the package Depends on them)")
    if os.geteuid() != 0:
        pytest.skip("authkeys must be owned by root")
    examples = tree / "usr/share/doc/twinbeat/examples"
    proc = subprocess.run(
        [str(venv_python), "-I", str(tree / "usr/bin/twinbeat"), "check",
         "--config-dir", str(examples), "--node", "prime"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "configuration OK for node prime" in proc.stdout


def test_the_launcher_uses_the_private_venv_in_isolated_mode(tree):
    first = (tree / "usr/bin/twinbeat").read_text().splitlines()[0]
    assert first == f"#!/{PRIVATE}/bin/python3 -I"
