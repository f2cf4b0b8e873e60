"""`codesieve train-scorer`: train quality scorers (fastText, features, their ensemble)
from a labels file or the weak-label recipe; see `codesieve.scorers.train`."""

from __future__ import annotations

import argparse
from typing import Any

HELP = """Train the quality scorers on Parquet shards (id, content, path, repo_name, language).

Labels come from --labels (JSONL/Parquet of `id` + `label` 0/1 or a graded `score`, e.g.
LLM annotations made elsewhere) joined on `id`, or, without it, from the shipped weak-label
recipe. Files are split by package (repo_name without version) into train/dev/test; prints
held-out AUC (and Spearman for graded labels) per language and writes the models and
MODEL_CARD.md to --out. Use them with `quality: {scorers: [{scorer: fasttext, model:
OUT/quality_ft.json}, ...], ensemble: OUT/quality_ensemble.json}`."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from codesieve.scorers.train import add_arguments

    p = sub.add_parser("train-scorer", help="train quality scorers from labels or the weak-label recipe",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=_main)
    return p


def _main(args: argparse.Namespace) -> int:
    from codesieve.scorers.train import main

    return main(args)
