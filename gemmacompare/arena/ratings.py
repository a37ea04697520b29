"""Ratings from pairwise votes: Bradley–Terry with bootstrap intervals, and online Elo.

Bradley–Terry is fitted with numpy alone (Newton's method on the penalised
log-likelihood). It is a K-parameter concave problem with K the number of
models (a handful): scipy would add tens of megabytes to the one-folder bundle for an
optimiser we can write in thirty lines, and Newton converges in a few steps.
The bootstrap fits all its samples at once as one batched Newton solve
(1000 samples in ~0.3 s on the shared 2-core machine, vs ~5 s one by one).

Regularisation: every model is given `prior_games` virtual games against a
fixed reference player of rating 1000, split half a win each way. A model
that won every real vote then has a large but finite rating (the virtual
draws pull it back), the problem is strictly concave, and the fit is unique
even when the models do not form one connected comparison graph. With one
virtual game per model, real votes outweigh it after a few dozen battles.

Ratings are on the Elo scale (base 10, scale 400) and centred so that the
models' mean is 1000. Ties and "both bad" count as half a win each way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0
ELO_K = 4.0
DEFAULT_PRIOR_GAMES = 1.0
DEFAULT_BOOTSTRAP = 1000


@dataclass(frozen=True)
class Comparison:
    """Model a against model b: a's score (1 win, 0.5 tie, 0 loss), counted `weight` times."""

    a: str
    b: str
    score: float
    weight: float = 1.0


@dataclass(frozen=True)
class Fit:
    keys: tuple[str, ...]
    ratings: np.ndarray  # Elo scale, mean 1000
    wins: np.ndarray  # wins[i, j]: i's weighted wins over j (ties half)
    games: np.ndarray  # games[i, j]: weighted votes between i and j

    def rating(self, key: str) -> float:
        return float(self.ratings[self.keys.index(key)])

    def win_rate_matrix(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.games > 0, self.wins / np.where(self.games > 0, self.games, 1), np.nan)


def _tally(comparisons: list[Comparison], keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per comparison row: the flat (i, j) and (j, i) cells it adds to, and its scores."""
    index = {k: n for n, k in enumerate(keys)}
    k = len(keys)
    ia = np.array([index[c.a] for c in comparisons], dtype=int)
    ib = np.array([index[c.b] for c in comparisons], dtype=int)
    score = np.array([c.score for c in comparisons], dtype=float)
    return ia * k + ib, ib * k + ia, score


def _matrices(weights: np.ndarray, cell_ab: np.ndarray, cell_ba: np.ndarray, score: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """wins[i, j] and games[i, j] for one weighting of the comparison rows."""
    wins = np.bincount(cell_ab, weights * score, minlength=k * k) + np.bincount(cell_ba, weights * (1 - score),
                                                                                  minlength=k * k)
    games = np.bincount(cell_ab, weights, minlength=k * k) + np.bincount(cell_ba, weights, minlength=k * k)
    return wins.reshape(k, k), games.reshape(k, k)


def fit_strengths(wins: np.ndarray, games: np.ndarray, prior_games: float = DEFAULT_PRIOR_GAMES,
                  tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Natural-log strengths theta maximising the penalised Bradley–Terry likelihood.

    P(i beats j) = 1 / (1 + exp(theta_j - theta_i)); each model also drew
    `prior_games` virtual games against a reference with theta = 0.
    wins and games are (K, K), or (B, K, K) to fit B bootstrap samples at once.
    """
    if prior_games <= 0:
        raise ValueError("prior_games must be above 0, or a model with only wins has no finite rating")
    single = wins.ndim == 2
    if single:
        wins, games = wins[None], games[None]
    n, k = wins.shape[:2]
    total_wins = wins.sum(axis=2)
    eye = np.eye(k, dtype=bool)

    def objective(theta: np.ndarray) -> np.ndarray:
        diff = theta[:, :, None] - theta[:, None, :]
        ll = np.sum(wins * -np.logaddexp(0.0, -diff), axis=(1, 2))
        out: np.ndarray = ll + np.sum(prior_games * (0.5 * theta - np.logaddexp(0.0, theta)), axis=1)
        return out

    theta = np.zeros((n, k))
    value = objective(theta)
    for _ in range(max_iter):
        diff = theta[:, :, None] - theta[:, None, :]
        p = 1.0 / (1.0 + np.exp(-diff))
        s = 1.0 / (1.0 + np.exp(-theta))
        grad = total_wins - np.sum(games * p, axis=2) + prior_games * (0.5 - s)
        curv = np.where(eye, 0.0, games * p * (1 - p))
        hess = curv - np.einsum("bi,ij->bij", curv.sum(axis=2) + prior_games * s * (1 - s), np.eye(k))
        step = np.linalg.solve(hess, -grad[:, :, None])[:, :, 0]
        # Backtracking keeps every sample's step uphill; the objective is strictly concave.
        t = np.ones(n)
        candidate = theta + step
        new_value = objective(candidate)
        for _halve in range(30):
            worse = new_value < value - 1e-12
            if not worse.any():
                break
            t = np.where(worse, t * 0.5, t)
            candidate = theta + t[:, None] * step
            new_value = np.where(worse, objective(candidate), new_value)
        moved = np.max(np.abs(t[:, None] * step))
        theta, value = candidate, new_value
        if moved < tol:
            break
    return theta[0] if single else theta


def to_elo_scale(theta: np.ndarray) -> np.ndarray:
    r = theta * SCALE / math.log(BASE)
    return r - r.mean() + INIT_RATING if r.size else r


def bradley_terry(comparisons: list[Comparison], prior_games: float = DEFAULT_PRIOR_GAMES) -> Fit:
    keys = tuple(sorted({c.a for c in comparisons} | {c.b for c in comparisons}))
    if not keys:
        return Fit((), np.empty(0), np.empty((0, 0)), np.empty((0, 0)))
    cell_ab, cell_ba, score = _tally(comparisons, keys)
    weights = np.array([c.weight for c in comparisons], dtype=float)
    wins, games = _matrices(weights, cell_ab, cell_ba, score, len(keys))
    return Fit(keys, to_elo_scale(fit_strengths(wins, games, prior_games)), wins, games)


def bootstrap_intervals(comparisons: list[Comparison], rounds: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                        prior_games: float = DEFAULT_PRIOR_GAMES,
                        level: float = 0.95) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Percentile bootstrap over individual votes: keys, lower and upper bounds.

    A row with weight n (a show of hands) is n votes; each bootstrap sample
    draws as many votes as there are, with replacement, so a room's 23 hands
    vary exactly like 23 single votes would.
    """
    keys = tuple(sorted({c.a for c in comparisons} | {c.b for c in comparisons}))
    if not keys:
        return keys, np.empty(0), np.empty(0)
    # Votes with the same pair and score are interchangeable: draw per kind, not per row.
    comparisons = _grouped(comparisons)
    cell_ab, cell_ba, score = _tally(comparisons, keys)
    weights = np.array([c.weight for c in comparisons], dtype=float)
    n_votes = int(round(weights.sum()))
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_votes, weights / weights.sum(), size=rounds).astype(float)
    k = len(keys)
    wins = np.zeros((rounds, k * k))
    games = np.zeros((rounds, k * k))
    for r, (ab, ba, sc) in enumerate(zip(cell_ab, cell_ba, score)):
        wins[:, ab] += draws[:, r] * sc
        wins[:, ba] += draws[:, r] * (1 - sc)
        games[:, ab] += draws[:, r]
        games[:, ba] += draws[:, r]
    theta = fit_strengths(wins.reshape(rounds, k, k), games.reshape(rounds, k, k), prior_games)
    samples = np.apply_along_axis(to_elo_scale, 1, theta)
    tail = (1 - level) / 2 * 100
    return keys, np.percentile(samples, tail, axis=0), np.percentile(samples, 100 - tail, axis=0)


def _grouped(comparisons: list[Comparison]) -> list[Comparison]:
    totals: dict[tuple[str, str, float], float] = {}
    for c in comparisons:
        a, b, score = (c.a, c.b, c.score) if c.a <= c.b else (c.b, c.a, 1.0 - c.score)
        totals[(a, b, score)] = totals.get((a, b, score), 0.0) + c.weight
    return [Comparison(a, b, score, w) for (a, b, score), w in sorted(totals.items())]


def online_elo(comparisons: list[Comparison], k: float = ELO_K, init: float = INIT_RATING) -> dict[str, float]:
    """Elo updated vote by vote in the order given (as LMArena reports it, for familiarity).

    A row of weight n (a show of hands) moves the ratings as n simultaneous
    votes would: one update with k * n and the mean score.
    """
    ratings: dict[str, float] = {}
    for c in comparisons:
        ra, rb = ratings.setdefault(c.a, init), ratings.setdefault(c.b, init)
        expected = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        delta = k * c.weight * (c.score - expected)
        ratings[c.a], ratings[c.b] = ra + delta, rb - delta
    return ratings
