"""Plain JSON values from numpy/pandas scalars, times and result objects."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, times and NaN into plain JSON values (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"output times must be tz-aware; found naive {value.isoformat()}")
        from levercast.features.timeutil import format_utc

        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_json_dict"):
        return to_jsonable(value.to_json_dict())
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, bool | int | str):
        return value
    # pandas NA / NaT
    if str(value) in {"<NA>", "NaT", "nan"}:
        return None
    return str(value)
