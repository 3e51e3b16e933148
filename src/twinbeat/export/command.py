"""`twinbeat export pacemaker`: load /etc/ha.d, translate, write the files, say what was lost.

Writes into `--output DIR` (made 0700 if missing): `corosync.conf`, `cib.xml`, and with
`--format crm` also `cib.crm`, with `--format pcs` also `cib-pcs.sh`. Each file is written
whole (a temporary file renamed) with mode 0600: the CIB may hold a fence device's
password. Exit 0 with one line per file on stdout and every warning on stderr as
`path:line: warning: ...`; exit 1 on a configuration error (every `path:line` error on
stderr, as `twinbeat check` prints them) or a bad option, with nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from twinbeat.config.loader import load
from twinbeat.config.messages import ConfigErrors
from twinbeat.config.model import Config
from twinbeat.export.cib import render_cib
from twinbeat.export.corosync import render_corosync
from twinbeat.export.crm import render_crm
from twinbeat.export.facts import Facts
from twinbeat.export.gather import gather
from twinbeat.export.model import Note
from twinbeat.export.pcs import render_pcs
from twinbeat.export.translate import translate

FORMATS = ("cib", "crm", "pcs")
DEFAULT_OUTPUT = "pacemaker"


class UsageError(Exception):
    """A bad option value: one line, exit 1."""


def parse_addresses(given: list[str], nodes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`--address NODE=ADDR[,ADDR...]` (repeatable) -> node -> one address per UDP link."""
    found: dict[str, tuple[str, ...]] = {}
    for text in given:
        node, eq, rest = text.partition("=")
        node = node.lower()
        addresses = tuple(rest.split(","))
        if not eq or not all(a and a.isprintable() and " " not in a for a in addresses):
            raise UsageError(f"--address {text}: not NODE=ADDR[,ADDR...]")
        if node not in nodes:
            raise UsageError(f"--address {text}: {node} is not a node in ha.cf")
        if node in found:
            raise UsageError(f"--address {text}: {node} given twice")
        found[node] = addresses
    return found


def render(config: Config, facts: Facts, fmt: str) -> tuple[dict[str, str], tuple[Note, ...]]:
    """Every file's name and text, and every note (corosync.conf's first). Pure."""
    cluster, cib_notes = translate(config, facts)
    corosync, corosync_notes = render_corosync(config, facts)
    files = {"corosync.conf": corosync, "cib.xml": render_cib(cluster)}
    if fmt == "crm":
        files["cib.crm"] = render_crm(cluster)
    elif fmt == "pcs":
        files["cib-pcs.sh"] = render_pcs(cluster)
    return files, corosync_notes + cib_notes


def write_files(output: str, files: dict[str, str]) -> None:
    """Each file whole, mode 0600 (a temporary file renamed over the old one)."""
    os.makedirs(output, mode=0o700, exist_ok=True)
    for name, text in files.items():
        fd, temporary = tempfile.mkstemp(dir=output, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(text)
            os.replace(temporary, os.path.join(output, name))
        except BaseException:
            os.unlink(temporary)
            raise


def main(args: argparse.Namespace) -> int:
    try:
        config = load(args.config_dir, node=args.node)
    except ConfigErrors as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        return 1
    try:
        addresses = parse_addresses(args.address or [], config.hacf.nodes)
    except UsageError as exc:
        print(f"twinbeat export: {exc}", file=sys.stderr)
        return 1
    files, notes = render(config, gather(config, addresses), args.format)
    try:
        write_files(args.output, files)
    except OSError as exc:
        print(f"twinbeat export: {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(note, file=sys.stderr)
    for name in files:
        print(os.path.join(args.output, name))
    return 0
