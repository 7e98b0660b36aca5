"""Probability transforms shared by every model: clip, logit and its inverse.

One implementation for the whole project (pricers, the learned forecaster, the market blend).
Each caller names the clipping it needs, because the clip is part of its behaviour: the design
matrix clips at 1e-6, the market blend at 1e-4 (quotes of 0.1 % and 99.9 % exist), logit
shifts of the learned model at 1e-9.

NaN policy: NaN in, NaN out.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from levercast.features._typing import FloatArray

__all__ = ["DEFAULT_EPS", "clip_prob", "expit", "logit", "shift_logit"]

DEFAULT_EPS: Final = 1e-9


def clip_prob(p: npt.ArrayLike, *, eps: float = DEFAULT_EPS) -> FloatArray:
    """``p`` clipped into ``[eps, 1 - eps]`` (float64 array)."""
    if not 0.0 <= eps < 0.5:
        raise ValueError(f"eps must be within [0, 0.5); found {eps}")
    return np.asarray(np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps))


def logit(p: npt.ArrayLike, *, eps: float = DEFAULT_EPS) -> FloatArray:
    """``log(q / (1 - q))`` of ``q = clip_prob(p, eps)``."""
    q = clip_prob(p, eps=eps)
    return np.asarray(np.log(q / (1.0 - q)))


def expit(z: npt.ArrayLike) -> FloatArray:
    """The logistic function ``1 / (1 + exp(-z))``, in [0, 1]."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))))


def shift_logit(p: npt.ArrayLike, shift: npt.ArrayLike, *, eps: float = DEFAULT_EPS) -> FloatArray:
    """``expit(logit(p) + shift)``: move probabilities by a shift in log-odds."""
    return expit(logit(p, eps=eps) + np.asarray(shift, dtype=np.float64))
