"""Configuration diagnostics: one message per problem, `path:line: text`, collected not raised.

`twinbeat check` must report every error in all three files at once (issue #2), so the
parsers never stop at the first problem: they append to a `Report` and carry on. Only
`load()` turns a report with errors into a `ConfigErrors` exception.

This module must not import the parsers or the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ConfigMessage:
    """One diagnostic. `line` is 1-based; 0 means the message is about the whole file."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}: {self.text}"
        return f"{self.path}: {self.text}"


class ConfigErrors(Exception):  # noqa: N818 (name fixed by docs/internals.md)
    """The configuration cannot be used. `.messages` are the errors, `.warnings` the rest."""

    def __init__(
        self,
        messages: tuple[ConfigMessage, ...] | list[ConfigMessage],
        warnings: tuple[ConfigMessage, ...] | list[ConfigMessage] = (),
    ) -> None:
        self.messages: tuple[ConfigMessage, ...] = tuple(messages)
        self.warnings: tuple[ConfigMessage, ...] = tuple(warnings)
        super().__init__("\n".join(str(m) for m in self.messages))


@dataclass(slots=True)
class Report:
    """Errors and warnings gathered while reading the configuration files."""

    errors: list[ConfigMessage] = field(default_factory=list)
    warnings: list[ConfigMessage] = field(default_factory=list)

    def error(self, path: str, line: int, text: str) -> None:
        self.errors.append(ConfigMessage(path, line, text))

    def warn(self, path: str, line: int, text: str) -> None:
        self.warnings.append(ConfigMessage(path, line, text))


def shown(token: str, limit: int = 40) -> str:
    """A token made safe to echo in one terminal line: control and odd bytes escaped, clipped.

    Config files may hold binary garbage; an error message must stay one readable line.
    Never call this on key material (authkeys keys are not echoed at all).
    """
    out = "".join(
        ch if ch.isprintable() and not ("\udc80" <= ch <= "\udcff") else _escape(ch)
        for ch in token
    )
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
