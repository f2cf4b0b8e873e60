"""The pygments pre-filter of `filters.langid.paths` never hides a pygments match."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codesieve.filters.langid.paths import _pygments_lang, _pygments_may_match, _pygments_patterns

ROOT = Path(__file__).resolve().parent.parent


def _names() -> set[str]:
    """Real file names (data_samples) plus names built from every pygments pattern."""
    from pygments.lexers._mapping import LEXERS

    names = set()
    for f in sorted((ROOT / "data_samples").glob("*.parquet")):
        names.update(os.path.basename(p) for p in pq.read_table(f, columns=["path"]).column("path").to_pylist() if p)
    for entry in LEXERS.values():
        for pat in entry[3]:
            names.add(pat.replace("*", "x").replace("?", "y").replace("[", "").replace("]", ""))
            names.add("foo" + pat.replace("*", "").replace("?", "a"))
            names.add("x." + pat.rsplit(".", 1)[-1].upper())  # case matters to pygments
    return names


def test_prefilter_only_skips_names_pygments_does_not_match():
    from pygments.lexers import find_lexer_class_for_filename

    if _pygments_patterns() is None:
        pytest.skip("pygments plugin lexers installed: the pre-filter is off")
    names = _names()
    skipped = [n for n in names if not _pygments_may_match(n)]
    assert len(skipped) > 100  # it does skip real names
    assert [n for n in skipped if find_lexer_class_for_filename(n) is not None] == []
    assert _pygments_may_match("setup.py") and _pygments_lang("setup.py") == "Python"
    assert not _pygments_may_match("x.nosuchext") and _pygments_lang("x.nosuchext") is None
