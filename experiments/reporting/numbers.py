"""Numbers and values as people read them: the CLI's human output and the report page alike.

One rule per unit, used by every table: money as ``$1.23B`` / ``$68,237`` / ``$0.42``,
probabilities as ``13.9%``, edges in percentage points (``+2.4 pts``), funding and other rates in
basis points (``1.2 bps``), plain numbers with at most a few significant digits and never in
scientific notation (``0.000012`` rather than ``1.2e-05``; ``< 0.000001`` below that), times as
``2026-01-15 12:00 UTC``, booleans as ``yes``/``no``, missing values (``None``, NaN, inf) as
``n/a``. Nothing here imports pandas or numpy: values are duck-typed (anything ``float()``
accepts, datetimes and pandas Timestamps alike), so the CLI's ``--help`` stays light.

They live here, below ``experiments.cli`` in the layer order, because the report page uses the
same rules; ``experiments.cli.format`` re-exports them with the rich table helpers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from levercast.features.timeutil import utc_text

__all__ = [
    "MISSING",
    "fmt_bool",
    "fmt_bps",
    "fmt_duration",
    "fmt_number",
    "fmt_pct",
    "fmt_points",
    "fmt_prob",
    "fmt_time",
    "fmt_unit",
    "fmt_usd",
    "fmt_value",
]

MISSING: Final = "n/a"
_SUFFIXES: Final = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, pandas NA, non-numbers)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_usd(value: Any, *, cents: bool | None = None) -> str:
    """Money: ``$1.23B``, ``$45.6M``, ``$68,237``, ``$12.50``; negative as ``-$3.1M``.

    ``cents`` forces (True) or drops (False) two decimals below $1M; by default they are shown
    under $100 only.
    """
    number = _finite(value)
    if number is None:
        return MISSING
    sign, size = ("-" if number < 0 else ""), abs(number)
    for scale, suffix in _SUFFIXES:
        if size >= scale:
            scaled = size / scale
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{sign}${scaled:.{digits}f}{suffix}"
    show_cents = size < 100 if cents is None else cents
    return f"{sign}${size:,.2f}" if show_cents else f"{sign}${size:,.0f}"


def fmt_prob(value: Any, *, digits: int = 1) -> str:
    """A probability in [0, 1] as a percentage: ``0.1386 -> 13.9%``; tiny but non-zero values
    as ``<0.1%`` / ``>99.9%`` instead of a misleading ``0.0%``/``100.0%``."""
    number = _finite(value)
    if number is None:
        return MISSING
    pct = 100.0 * number
    floor = 10.0**-digits
    if 0 < pct < floor:
        return f"<{floor:.{digits}f}%"
    if 100 - floor < pct < 100:
        return f">{100 - floor:.{digits}f}%"
    return f"{pct:.{digits}f}%"


def fmt_pct(value: Any, *, digits: int = 1, signed: bool = False) -> str:
    """A number that is already in percent (``distance_pct``): ``-3.25 -> -3.2%``."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{number:+.{digits}f}%" if signed else f"{number:.{digits}f}%"


def fmt_points(value: Any, *, digits: int = 1) -> str:
    """A probability difference (an edge) in percentage points: ``0.024 -> +2.4 pts``."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{100.0 * number:+.{digits}f} pts"


def fmt_bps(value: Any, *, digits: int = 1) -> str:
    """A rate as a fraction (funding per 8 h, a fee) in basis points: ``0.0001 -> 1.0 bps``."""
    number = _finite(value)
    if number is None:
        return MISSING
    return f"{1e4 * number:.{digits}f} bps"


def fmt_number(value: Any, *, digits: int = 3) -> str:
    """A plain number with ``digits`` significant digits, thousands separated, never in
    scientific notation: ``0.0123456 -> 0.0123``, ``5408050000 -> 5,408,050,000``,
    ``3.74e-43 -> <0.000001`` (and ``>-0.000001`` for tiny negatives)."""
    number = _finite(value)
    if number is None:
        return MISSING
    if number == 0:
        return "0"
    size = abs(number)
    if size >= 10 ** (digits - 1):
        return f"{number:,.0f}"
    if size < 1e-6:
        return "<0.000001" if number > 0 else ">-0.000001"
    decimals = digits - 1 - math.floor(math.log10(size))
    text = f"{number:.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_bool(value: Any) -> str:
    """``yes`` / ``no`` (``n/a`` for None)."""
    return MISSING if value is None else ("yes" if value else "no")


def fmt_time(value: Any, *, seconds: bool = False) -> str:
    """A UTC time as ``2026-01-15 12:00 UTC`` (ISO strings and datetimes alike)."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return utc_text(value, seconds=seconds)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fmt_duration(value: Any) -> str:
    """A duration (seconds or ``timedelta``) as ``45 s``, ``12 min``, ``3.5 h``, ``4 d``."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    secs = _finite(value)
    if secs is None:
        return MISSING
    if abs(secs) < 90:
        return f"{secs:.0f} s"
    if abs(secs) < 90 * 60:
        return f"{secs / 60:.0f} min"
    if abs(secs) < 48 * 3600:
        return f"{secs / 3600:.1f} h"
    return f"{secs / 86400:.0f} d"


def fmt_value(value: Any, *, name: str = "") -> str:
    """Any value by the unit its name carries (STYLE G7 suffixes): ``*_usd`` as money,
    ``prob*`` as a probability, ``*_bps`` as-is in bps, ``*_pct`` in percent, ``funding*`` in
    bps, booleans as yes/no, mappings as ``key value, ...``; else a plain number or the text."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return fmt_bool(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {fmt_value(v, name=str(k))}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v, name=name) for v in value) or "-"
    if isinstance(value, datetime | date):
        return fmt_time(value)
    if isinstance(value, str):
        return value
    lowered = name.lower()
    if lowered.endswith("_usd") or lowered.startswith("mass_usd"):
        return fmt_usd(value)
    if lowered.startswith("prob"):
        return fmt_prob(value)
    if lowered.startswith("funding"):
        return fmt_bps(value)
    if lowered.endswith("_bps"):
        number = _finite(value)
        return MISSING if number is None else f"{number:.1f} bps"
    if lowered.endswith("_pct"):
        return fmt_pct(value)
    return fmt_number(value)


def fmt_unit(value: Any, unit: str, *, name: str = "") -> str:
    """A feature value by its catalogue unit (``features.frame.specs.FeatureSpec.unit``):
    ``usd`` as money, ``fraction`` as a signed percentage (funding rates in bps), ``prob`` and
    ``annualised`` in percent, ``percent`` as is, ``flag`` as yes/no, anything else as a plain
    number."""
    number = _finite(value)
    if number is None:
        return MISSING
    if unit == "usd":
        return fmt_usd(number)
    if unit == "fraction":
        return fmt_bps(number) if name.startswith("funding") else fmt_pct(100 * number, signed=True)
    if unit in ("prob", "annualised"):
        return fmt_prob(number)
    if unit == "percent":
        return fmt_pct(number, digits=2, signed=True)
    if unit == "flag":
        return fmt_bool(number != 0)
    if unit == "count":
        return f"{number:,.0f}"
    return fmt_number(number)
