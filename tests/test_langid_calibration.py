"""Calibration of content answers (`filters/langid/calibration.py`): thresholds by language,
package folds, and the nested package-fold estimate that shows whether a threshold holds on
packages it was not fitted on."""

from __future__ import annotations

import json

import numpy as np

from codesieve.filters.langid import calibration as cal
from codesieve.filters.langid.content import MODEL_PATH


def _answers(seed: int = 0, bad_package_errors: int = 0) -> cal.Answers:
    """Two languages over 40 packages; right more often when surer. Optionally one package
    whose answers are all confidently wrong (the dev failure mode: a package of mislabelled files)."""
    rng = np.random.default_rng(seed)
    n = 4000
    score = rng.random(n)
    correct = rng.random(n) < 0.6 + 0.4 * score
    guess = np.where(rng.random(n) < 0.5, "C", "Python").astype(object)
    package = np.array([f"pypi/p{i}" for i in rng.integers(0, 40, n)], dtype=object)
    if bad_package_errors:
        score = np.r_[score, 0.97 + 0.03 * rng.random(bad_package_errors)]
        correct = np.r_[correct, np.zeros(bad_package_errors, bool)]
        guess = np.r_[guess, np.array(["C"] * bad_package_errors, dtype=object)]
        package = np.r_[package, np.array(["pypi/mislabelled"] * bad_package_errors, dtype=object)]
    return cal.Answers(correct, score, guess, package)


def test_package_folds_keep_a_package_in_one_fold():
    a = _answers()
    folds = cal.package_folds(a.package, 5)
    assert np.array_equal(folds, cal.package_folds(a.package, 5))  # stable
    for p in set(a.package.tolist()):
        assert len(set(folds[a.package == p].tolist())) == 1
    assert len(set(folds.tolist())) == 5
    assert not np.array_equal(folds, cal.package_folds(a.package, 5, seed=1))


def test_fixed_thresholds_reach_the_target_in_sample():
    a = _answers()
    default, per_lang, targets = cal.calibrate_fixed(a, 0.98, 30)
    assert set(per_lang) == {"C", "Python"} and targets["C"] == 0.98
    kept = cal.kept(a, default, per_lang)
    for lang in per_lang:
        mine = kept & (a.guess == lang)
        assert mine.any() and a.correct[mine].mean() >= 0.98
    # a language with too few answers for its own threshold falls back to the pooled one
    _, per_lang, _ = cal.calibrate_fixed(a, 0.98, 10_000)
    assert per_lang == {}


def test_nested_estimate_sees_what_in_sample_precision_hides():
    clean = _answers()
    res = cal.nested_estimate(clean, 0.98, 30)
    assert res["precision"] > 0.96 and 0 < res["answered"] < 1
    noisy = _answers(bad_package_errors=40)
    default, per_lang, _ = cal.calibrate_fixed(noisy, 0.98, 30)
    kept = cal.kept(noisy, default, per_lang)
    assert noisy.correct[kept].mean() >= 0.98  # in sample: the threshold climbs above the bad package
    out = cal.nested_estimate(noisy, 0.98, 30)
    assert out["precision"] < 0.98  # out of sample: the fold holding it has no such threshold


def test_cv_targets_are_at_least_the_wanted_precision():
    a = _answers()
    default_t, targets = cal.choose_targets(a, 0.98, 30)
    assert all(t is None or t >= 0.98 for t in targets.values())
    default, per_lang, chosen = cal.calibrate_answers(a, 0.98, 30)
    assert chosen["C"] == targets["C"] and chosen["pooled"] == default_t


def test_shipped_model_records_its_out_of_sample_estimate():
    meta = json.loads(MODEL_PATH.with_suffix(".json").read_text())["calibration"]
    nested = meta["dev_nested"]
    assert set(nested) == set(cal.PROCEDURES)
    for est in nested.values():
        assert 0 < est["answered"] <= 1 and 0.9 < est["precision"] <= 1
    assert meta["dev_precision_kept"] >= meta["target_precision"]  # in sample, by construction
