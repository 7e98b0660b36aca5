"""The model-market blend that ``evaluate`` scores beside the model and the market.

``p_blend = sigmoid((1 - w) logit(p_market) + w logit(p_model))`` (logarithmic pooling). At an
observation at time t, ``w_t = (n0 w0 + n_t w_hat_t) / (n0 + n_t)``: ``w_hat_t`` minimises the
log loss (each market weighted equally) over the observations of the ``n_t`` markets whose
``resolved_at`` is before t and which are not in the prior's fit; ``w0``/``n0`` are the prior
(``blend_prior.json`` of ``experiments/studies/polymarket_eval``, package data: fitted on a named
dataset by the command it records) once t is past the prior's cut, else ``w0 = 0`` (the market
alone). Markets without a known ``resolved_at`` never inform the blend (when they resolved is
unknown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_utc
from levercast.models.probability import clip_prob, expit, logit

__all__ = [
    "PRIOR_PACKAGE",
    "W_GRID",
    "BlendPrior",
    "blend_weight",
    "load_prior",
    "online_blend",
    "pool",
]

PRIOR_PACKAGE: Final = "levercast.experiments.studies.polymarket_eval"
PRIOR_FILE: Final = "blend_prior.json"
W_GRID: Final = np.round(np.linspace(0.0, 1.0, 21), 2)
_EPS: Final = 1e-4  # quotes of 0.1 % and 99.9 % exist


def pool(p_market: np.ndarray, p_model: np.ndarray, w: np.ndarray | float) -> np.ndarray:
    """Logarithmic pool of market and model with weight ``w`` on the model."""
    z = (1 - np.asarray(w)) * logit(p_market, eps=_EPS) + np.asarray(w) * logit(p_model, eps=_EPS)
    return expit(z)


@dataclass(frozen=True, slots=True)
class BlendPrior:
    """The blend's starting weight, fitted on a named dataset by a recorded command."""

    w_model: float
    strength_markets: float
    cut: str
    fitted_on: str
    markets: list[str]
    command: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.w_model <= 1.0:
            raise ConfigError(f"w_model must be within [0, 1]; found {self.w_model}")
        if not self.strength_markets >= 0:
            raise ConfigError(f"strength_markets must be >= 0; found {self.strength_markets}")
        parse_utc(self.cut, name="cut")


def load_prior(source: Traversable | None = None) -> BlendPrior | None:
    """The committed prior (``blend_prior.json``, package data of ``PRIOR_PACKAGE``), or the one
    at ``source``; None when absent."""
    path = source if source is not None else files(PRIOR_PACKAGE) / PRIOR_FILE
    if not path.is_file():
        return None
    return BlendPrior(**json.loads(path.read_text()))


def _market_loss_curves(obs: pd.DataFrame, p_model: np.ndarray) -> pd.DataFrame:
    """Mean log loss of each market's observations at each grid weight (markets x W_GRID)."""
    y = obs["outcome"].to_numpy(float)[:, None]
    p = pool(obs["prob_market"].to_numpy(float)[:, None], p_model[:, None], W_GRID[None, :])
    p = clip_prob(p, eps=_EPS)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    frame = pd.DataFrame(loss, columns=W_GRID)
    frame["market_id"] = obs["market_id"].to_numpy()
    return frame.groupby("market_id", sort=True).mean()


def blend_weight(obs: pd.DataFrame, p_model: np.ndarray) -> float:
    """The grid weight minimising the market-equal-weighted log loss of ``obs``."""
    curves = _market_loss_curves(obs, p_model)
    return float(W_GRID[int(np.argmin(curves.to_numpy().mean(axis=0)))])


def online_blend(
    obs: pd.DataFrame, p_model: np.ndarray, prior: BlendPrior | None
) -> tuple[np.ndarray, np.ndarray]:
    """(p_blend, w) per observation by the rule of the module docstring.

    ``obs`` needs ``market_id, t, prob_market, outcome, resolved_at``.
    """
    n = len(obs)
    if n == 0:
        return np.array([]), np.array([])
    excluded = set(prior.markets) if prior is not None else set()
    curves = _market_loss_curves(obs, p_model)
    resolved = obs.groupby("market_id", sort=True)["resolved_at"].first()
    usable = resolved.notna() & ~resolved.index.isin(list(excluded))
    order = resolved[usable].sort_values(kind="stable")
    cum = curves.loc[order.index].to_numpy().cumsum(axis=0)
    resolved_ns = order.to_numpy("datetime64[ns]").view("int64")
    t_ns = obs["t"].to_numpy("datetime64[ns]").view("int64")
    k = np.searchsorted(resolved_ns, t_ns, side="left")  # markets resolved strictly before t
    w_hat = np.zeros(n)
    has = k > 0
    w_hat[has] = W_GRID[np.argmin(cum[k[has] - 1], axis=1)]
    w0 = np.zeros(n)
    n0 = np.zeros(n)
    if prior is not None:
        live = obs["t"] >= pd.Timestamp(prior.cut)
        w0[live.to_numpy()] = prior.w_model
        n0[live.to_numpy()] = prior.strength_markets
    denom = n0 + k
    w = np.where(denom > 0, (n0 * w0 + k * w_hat) / np.maximum(denom, 1e-12), 0.0)
    return pool(obs["prob_market"].to_numpy(float), p_model, w), w
