"""How commands print (INTERFACE.md §1): one JSON document with ``--json``, else text."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from levercast.experiments.jsonable import to_jsonable

__all__ = ["emit"]


def emit(args: argparse.Namespace, payload: Any, render: Callable[[Any], str]) -> None:
    """Print ``payload`` as one JSON document with ``--json``, else as text for people."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(to_jsonable(payload), indent=None) + "\n")
    else:
        sys.stdout.write(render(payload).rstrip("\n") + "\n")
