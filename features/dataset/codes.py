"""A text column factorised once, so that many equality filters compare integer codes.

Used by ``Store`` slices (every venue and interval of the candles) and by the feature frame's
candidate rows (``features.frame.inputs``): comparing a column of strings row by row once per
filter costs a full string comparison each time; the codes are computed once per column.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TextCodes"]


@dataclass(frozen=True, slots=True)
class TextCodes:
    """``codes`` (one per row, ``-1`` for a null) and the code of each value."""

    codes: np.ndarray
    lookup: dict[Any, int]

    @classmethod
    def of(cls, values: pd.Series) -> TextCodes:
        """The codes of a column."""
        codes, uniques = pd.factorize(values)
        return cls(np.asarray(codes, dtype=np.int64), {u: i for i, u in enumerate(uniques)})

    def equal(self, values: Collection[Any]) -> np.ndarray:
        """Rows whose value is one of ``values`` (a null is none)."""
        wanted = [self.lookup[v] for v in values if v in self.lookup]
        if len(wanted) == 1:
            return np.asarray(self.codes == wanted[0])
        return np.isin(self.codes, wanted)
