"""Calibrated thresholds for content answers, chosen so that they hold out of sample.

A threshold chosen on dev to make the answers above it right >= 98% of the time holds on
dev by construction, not on packages dev has never seen: a per-language threshold fitted
on a few dozen answers lands just below that language's last error. Here each language's
threshold is fitted at an in-sample target (`TARGETS`, strictest last) chosen by
cross-validation over dev *packages*: the smallest target whose out-of-fold answers of that
language (thresholds fitted on the other folds' packages, applied to the held-out fold's)
are right >= the wanted precision. A language that reaches it at no target is never
answered from content alone. Languages with fewer than `min_support` dev answers share one
pooled threshold chosen the same way. `nested_estimate` runs the whole procedure inside an
outer package split: its precision is what to expect on new packages.

All inputs are numpy arrays over dev answers: `correct` (bool), `score` (probability of
the answer, 0..1), `guess` (answered language), `package` (`source/name`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

NEVER = 1.0 + 1e-6  # a threshold no probability reaches: the language is not answered
TARGETS = (0.98, 0.985, 0.99, 0.995, 0.998, 0.999)


@dataclass(frozen=True)
class Answers:
    """Dev answers of the content model (one entry per file)."""

    correct: np.ndarray
    score: np.ndarray
    guess: np.ndarray
    package: np.ndarray

    def take(self, mask: np.ndarray) -> Answers:
        return Answers(self.correct[mask], self.score[mask], self.guess[mask], self.package[mask])


def threshold_for(correct: np.ndarray, score: np.ndarray, target: float) -> float:
    """Smallest score t such that answers with score >= t are right >= `target` of the time.

    `NEVER` (nothing kept) when no t reaches the target.
    """
    order = np.argsort(-score, kind="stable")
    s, c = score[order], correct[order].astype(np.float64)
    prec = np.cumsum(c) / np.arange(1, len(c) + 1)
    # a cut is only allowed between distinct scores (ties go together)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    ok = np.flatnonzero((prec >= target) & last_of_tie)
    return float(s[ok[-1]]) if len(ok) else NEVER


def package_folds(package: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold number 0..k-1 per entry, by a stable hash of its package (a package is in one fold)."""
    fold = {p: int.from_bytes(hashlib.sha256(f"{seed}\0{p}".encode()).digest()[:8], "big") % k
            for p in set(package.tolist())}
    return np.array([fold[p] for p in package.tolist()], dtype=np.int64)


def fit(a: Answers, targets: dict[str, float], default_target: float, min_support: int) -> tuple[float, dict]:
    """(pooled threshold, {language: threshold}) at the given in-sample targets."""
    own = {lang for lang in set(a.guess.tolist()) if (a.guess == lang).sum() >= min_support}
    pooled = ~np.isin(a.guess, list(own))
    default = threshold_for(a.correct[pooled], a.score[pooled], default_target) if pooled.any() else NEVER
    per_lang = {}
    for lang in sorted(own):
        mine = a.guess == lang
        t = targets.get(lang)
        per_lang[lang] = NEVER if t is None else threshold_for(a.correct[mine], a.score[mine], t)
    return default, per_lang


def kept(a: Answers, default: float, per_lang: dict[str, float]) -> np.ndarray:
    """Bool per answer: its score reaches its language's threshold (else the pooled one)."""
    thr = np.array([per_lang.get(g, default) for g in a.guess.tolist()], dtype=np.float64)
    return a.score >= thr


def _out_of_fold(a: Answers, folds: np.ndarray, k: int, target: float, min_support: int) -> np.ndarray:
    """Kept-mask of every answer when all languages use `target` and thresholds come from the other folds."""
    keep = np.zeros(len(a.correct), dtype=bool)
    for f in range(k):
        test = folds == f
        if not test.any():
            continue
        train = a.take(~test)
        langs = set(train.guess.tolist())
        default, per_lang = fit(train, dict.fromkeys(langs, target), target, min_support)
        keep[test] = kept(a.take(test), default, per_lang)
    return keep


def choose_targets(a: Answers, want: float, min_support: int, k: int = 5,
                   seed: int = 0) -> tuple[float | None, dict[str, float | None]]:
    """In-sample target per language (None: never answered) and for the pooled rest.

    For each target of `TARGETS`, out-of-fold kept answers are computed once for all
    languages; a language takes the first target at which its out-of-fold answers are right
    >= `want` (and at least one is kept).
    """
    folds = package_folds(a.package, k, seed)
    own = sorted(lang for lang in set(a.guess.tolist()) if (a.guess == lang).sum() >= min_support)
    pooled = ~np.isin(a.guess, own)
    chosen: dict[str, float | None] = dict.fromkeys(own)
    default: float | None = None
    done_default = not pooled.any()
    for t in TARGETS:
        keep = _out_of_fold(a, folds, k, t, min_support)
        for lang in own:
            mine = keep & (a.guess == lang)
            if chosen[lang] is None and mine.any() and a.correct[mine].mean() >= want:
                chosen[lang] = t
        rest = keep & pooled
        if not done_default and rest.any() and a.correct[rest].mean() >= want:
            default, done_default = t, True
    return default, chosen


def calibrate_answers(a: Answers, want: float, min_support: int, k: int = 5) -> tuple[float, dict, dict]:
    """(pooled threshold, per-language thresholds, chosen targets) fitted on all of `a`."""
    default_t, targets = choose_targets(a, want, min_support, k)
    default, per_lang = fit(a, {g: t for g, t in targets.items() if t is not None},
                            default_t if default_t is not None else 2.0, min_support)
    return default, per_lang, {"pooled": default_t, **targets}


def calibrate_fixed(a: Answers, want: float, min_support: int, k: int = 5) -> tuple[float, dict, dict]:
    """(pooled threshold, per-language thresholds, targets): every language fitted at `want` in-sample."""
    default, per_lang = fit(a, dict.fromkeys(set(a.guess.tolist()), want), want, min_support)
    return default, per_lang, {"pooled": want, **dict.fromkeys(per_lang, want)}


PROCEDURES = {"fixed": calibrate_fixed, "cv": calibrate_answers}


def nested_estimate(a: Answers, want: float, min_support: int, procedure: str = "fixed", k: int = 5,
                    seed: int = 1) -> dict:
    """Precision / share answered on held-out packages of a whole calibration procedure.

    Outer folds by package (`seed` differs from the inner folds'); in each, the procedure
    (`PROCEDURES`) runs on the other folds and its thresholds are applied to the held-out fold.
    """
    folds = package_folds(a.package, k, seed)
    keep = np.zeros(len(a.correct), dtype=bool)
    for f in range(k):
        test = folds == f
        default, per_lang, _ = PROCEDURES[procedure](a.take(~test), want, min_support, k)
        keep[test] = kept(a.take(test), default, per_lang)
    return {"procedure": procedure, "folds": k, "answered": float(keep.mean()),
            "precision": float(a.correct[keep].mean()) if keep.any() else None}  # None: nothing answered
