"""How commands print (INTERFACE.md §1): one JSON document with ``--json``, else text for people.

``emit`` writes the payload: with ``--json`` exactly one JSON document on stdout; otherwise the
command's ``render`` result, which is text or rich renderables (tables from
``experiments.cli.format``), printed to stdout as plain text when stdout is not a terminal (no
colour codes in files and pipes). ``say`` writes an informational line on stderr unless ``-q``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from levercast.experiments.jsonable import to_jsonable

__all__ = ["PIPE_WIDTH", "emit", "print_rich", "say"]

PIPE_WIDTH: Final = 150  # columns of a table written to a file or a pipe


def print_rich(parts: Any, *, file: Any = None) -> None:
    """Print text or rich renderables (one or a sequence) to ``file`` (default stdout): in
    colour on a terminal, else as plain text ``PIPE_WIDTH`` columns wide without trailing
    spaces."""
    import io

    from rich.console import Console

    file = sys.stdout if file is None else file
    tty = bool(getattr(file, "isatty", lambda: False)())
    target = file if tty else io.StringIO()
    console = Console(
        file=target,
        width=None if tty else PIPE_WIDTH,
        color_system="auto" if tty else None,
        force_terminal=tty,
        soft_wrap=False,
        highlight=False,
    )
    items = parts if isinstance(parts, list | tuple) else [parts]
    for item in items:
        if isinstance(item, str):
            # Plain text is written as is: rich markup characters ([...]) stay literal.
            console.out(item.rstrip("\n"), highlight=False)
        else:
            console.print(item)
    if not tty:
        text = target.getvalue()  # type: ignore[union-attr]
        file.write("\n".join(line.rstrip() for line in text.splitlines()) + "\n")


def emit(args: argparse.Namespace, payload: Any, render: Callable[[Any], Any]) -> None:
    """Print ``payload`` as one JSON document with ``--json``, else ``render(payload)`` (text,
    a rich renderable, or a list of them) for people."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(to_jsonable(payload), indent=None) + "\n")
        return
    shown = render(payload)
    if isinstance(shown, str):
        sys.stdout.write(shown.rstrip("\n") + "\n")
    else:
        print_rich(list(shown) if isinstance(shown, Sequence) else shown)
    sys.stdout.flush()


def say(args: argparse.Namespace, text: str) -> None:
    """An informational line on stderr (silenced by ``-q``)."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)
