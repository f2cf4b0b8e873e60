"""Late columns (`Gate.late_fields`): computed where `plan.late_points` says, on real files."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.base import Gate, GateResult, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.filters.language import LanguageGate
from codesieve.filters.rules.gate import RulesGate
from codesieve.pipeline.gaterun import add_late_columns, run_gates
from codesieve.pipeline.plan import late_points
from codesieve.pipeline.tiers import UnitState

FIX = Path(__file__).parent / "fixtures" / "language"
CTX = UnitContext(unit=0, work_dir="")


class _NeedsEnglish(Gate):
    """A gate that decides on `nl_lang`: keeps only files with English comments."""

    name = "needs_english"
    reads: ClassVar[tuple[str, ...]] = ("nl_lang",)

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        english = pc.fill_null(pc.equal(batch.column("nl_lang"), "en"), False).to_numpy(zero_copy_only=False)
        return GateResult({}, ~english[:, None], ["not_english"])


def _gates(*extra: Gate) -> list[Gate]:
    return [LanguageGate(LanguageGate.Params()), RulesGate.build({"rules": [{"rule": "num_lines", "min": 5}]}, "rules"),
            *extra]


def test_late_points_end_or_before_the_first_reader() -> None:
    lang, rules, reader = _gates(_NeedsEnglish(Gate.Params()))
    assert late_points([lang, rules]) == {2: [lang]}  # nobody reads nl_*: after the last gate
    assert late_points([lang, rules, reader]) == {2: [lang]}  # right before the reader
    assert late_points([lang, rules, reader], active=["language", "rules"]) == {3: [lang]}  # reader off
    assert late_points([lang, rules], active=["rules"]) == {}  # the language gate off: no late columns
    assert late_points([LanguageGate(LanguageGate.Params(nl_detect=False)), rules]) == {}


def _batch() -> DocBatch:
    files = ["comments_german.py", "comments_chinese.go", "comments_russian.js", "notes_french.md",
             "user_guide.rst", "changelog_notes.md"]
    texts = [(FIX / f).read_text(encoding="utf-8") for f in files] + ["x = 1\n"]
    paths = [f"src/{f}" for f in files] + ["src/short.py"]
    return DocBatch(pa.table({"id": [f"d{i}" for i in range(len(texts))], "content": texts, "path": paths}))


def _run(gates: list[Gate]) -> UnitState:
    batch = _batch()
    state = UnitState(batch.num_rows)
    fields = {f.name: f.type for g in gates for f in g.output_fields()}
    late = late_points(gates)
    run_gates(list(enumerate(gates)), batch.table, state, CTX, {}, fields, late=late)
    add_late_columns(late.get(len(gates), []), batch.table, state, CTX, fields)
    return state


def test_reader_gets_late_columns_on_its_input_rows_and_survivors_only_otherwise() -> None:
    state = _run(_gates())
    nl = state.columns["nl_lang"].to_pylist()
    assert state.tier[-1] == 1  # the one-line file fails `rules`: no NL detection for it
    assert nl[:4] == ["de", "zh", "ru", "fr"] and nl[-1] is None
    state = _run(_gates(_NeedsEnglish(Gate.Params())))
    # the reader saw every row it judged with its NL value: non-English ones fail at it
    assert state.tier[:4].tolist() == [2, 2, 2, 2] and state.columns["nl_lang"].to_pylist()[:4] == nl[:4]
    english = np.flatnonzero(state.alive)
    assert len(english) and all(state.columns["nl_lang"].to_pylist()[i] == "en" for i in english)
