"""GARCH(1,1)-t parameters of ``mc-garch``, estimated by ``arch`` on the returns known at T.

``mc-garch`` fits daily returns (sums of 24 consecutive hourly log returns over the last two
years known at T): hourly returns fit as integrated (on a year of BTC hours ``arch`` gives alpha
~0.24, beta ~0.76 at its bound alpha + beta = 1, nu ~3, from intraday seasonality and jumps),
which as a unit-variance multiplier collapses most paths' variance; daily fits are in the usual
range (BTC 2022-2026: alpha 0.04-0.13, beta 0.87-0.95, nu 2.6-4.1). The simulation updates the
multiplier once a simulated day from that day's return (``montecarlo._Shocks``).

``fit_garch(log_returns)`` fits a zero-mean GARCH(1,1) with Student-t innovations
(``arch.arch_model(100 r, mean="Zero", vol="GARCH", p=1, q=1, dist="t")``, returns in percent
as ``arch`` recommends) and returns the dynamics the Monte Carlo uses: ``alpha``, ``beta`` and
the degrees of freedom ``nu``. The level is not taken from the fit: the simulation scales a
unit-variance GARCH multiplier by the pricer's EWMA volatility, so the fit only shapes
clustering and tails. When the fit cannot be trusted the fixed parameters of the earlier
version are used (``FALLBACK``: alpha 0.05, beta 0.90, t5) and ``GarchParams.warning`` says
why: fewer than ``MIN_RETURNS`` returns, an optimiser that did not converge, or tails without
a variance (``nu <= 2.05``). A unit-variance multiplier needs a stationary process, so a fit at
the bound (``alpha + beta`` above ``MAX_PERSISTENCE``, 0.995) is shrunk to it keeping the
alpha:beta split, and ``GarchParams.capped`` says so.

``arch`` is imported inside ``fit_garch`` only: ``price --model gbm`` never loads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["FALLBACK", "MAX_PERSISTENCE", "MIN_RETURNS", "GarchParams", "fit_garch"]

MIN_RETURNS: Final = 250  # daily returns: about eight months
MAX_PERSISTENCE: Final = 0.995
_MIN_NU: Final = 2.05  # a t with nu <= 2 has no variance: the unit-variance scaling breaks
_MAX_NU: Final = 200.0


@dataclass(frozen=True, slots=True)
class GarchParams:
    """Per-period GARCH(1,1)-t dynamics of a unit-variance multiplier ``h``:
    ``h' = (1 - alpha - beta) + alpha z^2 + beta h``, shocks ``z ~ t(nu)`` scaled to variance 1.

    Attributes
    ----------
    alpha, beta, nu
        News impact, persistence and degrees of freedom.
    source
        ``arch`` (fitted) or ``fixed`` (the fallback).
    n_returns
        Returns the fit used (0 for the fallback without data).
    warning
        Why the fixed parameters were used (None when fitted).
    capped
        The fitted persistence was shrunk to ``MAX_PERSISTENCE``.
    """

    alpha: float
    beta: float
    nu: float
    source: str = "arch"
    n_returns: int = 0
    warning: str | None = None
    capped: bool = False

    def __post_init__(self) -> None:
        if not (self.alpha >= 0 and self.beta >= 0 and self.alpha + self.beta < 1):
            raise ValueError(
                f"alpha, beta must be >= 0 with alpha + beta < 1; found alpha={self.alpha}, "
                f"beta={self.beta}"
            )
        if not self.nu > 2:
            raise ValueError(f"nu must be > 2 (a finite variance); found {self.nu}")

    def per_step(self, periods: float) -> tuple[float, float]:
        """``(alpha, beta)`` for a step of ``periods`` fit periods: the persistence
        ``alpha + beta`` compounds to ``(alpha + beta) ** periods`` and keeps its split (an
        approximation to temporal aggregation; exact for one period)."""
        persistence = self.alpha + self.beta
        if periods == 1 or persistence == 0:
            return self.alpha, self.beta
        scaled = persistence**periods
        return self.alpha * scaled / persistence, self.beta * scaled / persistence


FALLBACK: Final = GarchParams(0.05, 0.90, 5.0, source="fixed")


def _fallback(why: str, n: int) -> GarchParams:
    note = f"GARCH fit not used ({why}); fixed alpha 0.05, beta 0.90, t5"
    return replace(FALLBACK, n_returns=n, warning=note)


def fit_garch(log_returns: npt.ArrayLike) -> GarchParams:
    """Fit GARCH(1,1)-t to per-period log returns (oldest first) with ``arch``; fall back to
    ``FALLBACK`` with a warning when the fit cannot be trusted (see module docstring).

    Non-finite returns are dropped first.
    """
    r = np.asarray(log_returns, dtype=np.float64).ravel()
    r = r[np.isfinite(r)]
    if r.size < MIN_RETURNS:
        return _fallback(f"{r.size} returns, at least {MIN_RETURNS} needed", int(r.size))
    if not np.any(r != 0):
        return _fallback("every return is zero", int(r.size))
    import warnings

    from arch import arch_model
    from arch.utility.exceptions import ConvergenceWarning

    model = arch_model(100.0 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            result = model.fit(disp="off", show_warning=False)
    except (ValueError, np.linalg.LinAlgError) as e:
        return _fallback(f"arch failed: {type(e).__name__}: {e}", int(r.size))
    if result.convergence_flag != 0:
        return _fallback(f"optimiser flag {result.convergence_flag}", int(r.size))
    params = result.params
    alpha, beta, nu = float(params["alpha[1]"]), float(params["beta[1]"]), float(params["nu"])
    if not all(math.isfinite(v) for v in (alpha, beta, nu)):
        return _fallback("non-finite parameters", int(r.size))
    if nu <= _MIN_NU:
        return _fallback(f"nu = {nu:.3f}: tails without a variance", int(r.size))
    alpha, beta = max(alpha, 0.0), max(beta, 0.0)
    capped = alpha + beta > MAX_PERSISTENCE
    if capped:
        shrink = MAX_PERSISTENCE / (alpha + beta)
        alpha, beta = alpha * shrink, beta * shrink
    return GarchParams(
        alpha, beta, min(nu, _MAX_NU), source="arch", n_returns=int(r.size), capped=capped
    )
