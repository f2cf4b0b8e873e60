"""The arithmetic of a training mixture: how many copies of each document to take.

Inputs are numpy arrays over the eligible documents: bytes `b`, tier weight `w`,
category and language codes. A category c gets T_c = share_c * T bytes. Inside it,
document d gets expected copies e_d = min(s_L * w_d, R) where R = `max_repeat` and s_L is
one scale per language: the category-wide scale s solving
    sum_L min(f_L(s), cap_L * T_c) = T_c,   f_L(s) = sum_{d in L} min(s * w_d, R) * b_d,
lowered for languages whose cap binds. If some category cannot reach its share even with
every document repeated R times, the total T is lowered (bisection) until all can, so the
proportions hold; the manifest says which category was short.

Expected copies become whole copies deterministically: floor(e_d) for every document,
then the remaining bytes of each (category, language) are filled with one more copy of
documents taken in a seeded weighted-random order (Efraimidis-Spirakis keys -ln(u)/frac):
the longest prefix that fits, then each next document that still fits, then the smallest
remaining one if that lands closer (so one large document cannot overshoot the target). Uncapped languages of a category are
filled together (one target), each capped language alone (its cap is its target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ITERATIONS = 64  # bisection steps (relative precision 2**-64 of the bracket)


@dataclass
class Group:
    """Documents of one language in one category."""

    idx: np.ndarray  # positions in the eligible arrays
    cap: float  # max share of the category's bytes (1.0: no cap)


def _f(s: float, w: np.ndarray, b: np.ndarray, repeat: float) -> float:
    return float(np.minimum(s * w, repeat) @ b)


def _solve(target: float, w: np.ndarray, b: np.ndarray, repeat: float) -> float:
    """Smallest s with f(s) >= target (f is non-decreasing, piecewise linear)."""
    lo, hi = 0.0, repeat / float(w.min())
    if _f(hi, w, b, repeat) <= target:
        return hi
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        if _f(mid, w, b, repeat) < target:
            lo = mid
        else:
            hi = mid
    return hi


def max_bytes(groups: list[Group], b: np.ndarray, repeat: float, target: float) -> float:
    """Most bytes a category can give towards `target` (every document repeated R times, caps)."""
    return sum(min(repeat * float(b[g.idx].sum()), g.cap * target) for g in groups)


def feasible_total(cats: dict[str, list[Group]], shares: dict[str, float], b: np.ndarray,
                   repeat: float, total: float) -> float:
    """Largest T' <= total at which every category reaches share * T'."""
    def ok(t: float) -> bool:
        return all(max_bytes(cats[c], b, repeat, shares[c] * t) >= shares[c] * t * (1 - 1e-12) for c in cats)

    if ok(total):
        return total
    lo, hi = 0.0, total
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def expected_copies(groups: list[Group], w: np.ndarray, b: np.ndarray, repeat: float,
                    target: float, e: np.ndarray) -> dict[int, float]:
    """Fill e[idx] for one category; returns the byte target of each group (by list index)."""
    allidx = np.concatenate([g.idx for g in groups])
    wmin = float(w[allidx].min())

    def total(s: float) -> float:
        return sum(min(_f(s, w[g.idx], b[g.idx], repeat), g.cap * target) for g in groups)

    lo, hi = 0.0, repeat / wmin
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
    goals = {}
    for k, g in enumerate(groups):
        gw, gb = w[g.idx], b[g.idx]
        goal = min(_f(hi, gw, gb, repeat), g.cap * target)
        s = hi if _f(hi, gw, gb, repeat) <= g.cap * target else _solve(goal, gw, gb, repeat)
        e[g.idx] = np.minimum(s * gw, repeat)
        goals[k] = goal
    return goals


def whole_copies(e: np.ndarray, b: np.ndarray, u: np.ndarray, idx: np.ndarray, goal: float) -> np.ndarray:
    """Integer copies for documents `idx` whose expected copies are e[idx], hitting `goal` bytes."""
    base = np.floor(e[idx] + 1e-9)
    frac = e[idx] - base
    left = goal - float(base @ b[idx])
    cand = np.flatnonzero(frac > 1e-9)
    copies = base.astype(np.int64)
    if left <= 0 or not len(cand):
        return copies
    keys = -np.log(np.maximum(u[idx][cand], 1e-300)) / frac[cand]
    order = cand[np.lexsort((idx[cand], keys))]
    size = b[idx][order]
    k = int(np.searchsorted(np.cumsum(size), left, side="right"))  # whole prefix that fits
    copies[order[:k]] += 1
    gap = left - float(size[:k].sum())
    over = -1
    for j in range(k, len(order)):  # then the next ones in the same order that still fit
        if size[j] <= gap:
            copies[order[j]] += 1
            gap -= float(size[j])
        elif over < 0 or size[j] < size[over]:
            over = j  # the smallest one that does not fit
    if over >= 0 and size[over] - gap < gap:  # one more lands closer to the goal
        copies[order[over]] += 1
    return copies
