"""Shared type aliases used by every layer (STYLE G5)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "FloatArray", "IntArray", "ProbArray"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
ProbArray: TypeAlias = npt.NDArray[np.float64]  # values in [0, 1]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
