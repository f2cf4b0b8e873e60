"""Base classes for gates and heuristic rules.

A *gate* is one stage of the coarse-to-fine hierarchy (`language`, `rules`, `dedup`,
`decontam`, `quality`). It sees only the survivors of the gates before it and returns
score columns plus, per document, which of its checks failed.

A *rule* is one measurement inside the `rules` gate: `measure()` computes a value per
document (the `h_<rule>` column); the config's `min`/`max` decide keep/drop. Measuring is
split from deciding so dry runs and new thresholds never need recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from codesieve.core.batch import DocBatch
from codesieve.core.params import Params, validate_params


@dataclass
class UnitContext:
    """Where a gate runs: the work unit's index, the run's work folder and, for a global
    gate, its own folder (`gate_dir`: where `resolve` wrote what `apply` reads)."""

    unit: int
    work_dir: str
    text_column: str = "content"
    extra: dict[str, Any] = field(default_factory=dict)
    gate_dir: str = ""


@dataclass
class GateResult:
    """What a gate says about a batch of n documents.

    columns: score columns (name -> length-n Arrow array), carried on every row.
    fails: bool matrix (n, k); fails[i, j] means check `reason_names[j]` failed for doc i.
    A document passes the gate when no entry of its row is true.
    """

    columns: dict[str, pa.Array]
    fails: np.ndarray
    reason_names: list[str]
    #: optional, per row: index into the gate's `band_names()` for rows that pass. Only
    #: the last gate's bands count: they split the documents that pass every gate into
    #: the top tiers (band 0 = lowest).
    band: np.ndarray | None = None

    @property
    def passed(self) -> np.ndarray:
        if self.fails.size == 0:
            return np.ones(self.fails.shape[0], dtype=bool)
        return ~self.fails.any(axis=1)


class Gate:
    """One stage of the hierarchy. Subclasses set `Params` and implement `apply`."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    #: global gates (dedup) add a pass-1 `prepare` and a between-pass `resolve` step
    is_global: ClassVar[bool] = False
    #: command-line shortcuts for params: {"--dedup-index": "index_dir"} adds that option
    #: to `codesieve run` (a path value is made absolute)
    cli_options: ClassVar[dict[str, str]] = {}
    #: True when `apply` is a per-row function (a row's result depends only on that row and
    #: the columns earlier gates gave it): the runner may then reuse stored results by id.
    per_row: ClassVar[bool] = True
    #: columns of earlier gates this gate decides on; a late column (`late_fields`) named
    #: here is computed right before this gate, on its input rows
    reads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Params):
        self.params = params

    @classmethod
    def build(cls, raw: dict[str, Any], where: str) -> Gate:
        """Validate this gate's config entry (without the `gate` key) and construct it."""
        return cls(validate_params(cls.Params, raw, where))

    def output_fields(self) -> list[pa.Field]:
        """The score columns this gate adds (nulls for rows that never reach it)."""
        return []

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        raise NotImplementedError

    def warm(self) -> None:
        """Load what `apply` and `late_columns` need whatever the rows (models, tables,
        compiled patterns), so that a worker's first unit does not pay for it. Ray workers
        call it once when the executor starts; elsewhere the first unit loads lazily."""

    def late_fields(self) -> list[str]:
        """Names of the `output_fields` that `apply` leaves out and `late_columns` gives:
        costly scores no gate decides on, computed only for the rows that pass every gate
        (or, when a later gate `reads` one, for that gate's input rows); null elsewhere."""
        return []

    def late_columns(self, batch: DocBatch, ctx: UnitContext) -> dict[str, pa.Array]:
        """The `late_fields` columns for `batch` (rows that passed this gate, with its columns)."""
        raise NotImplementedError

    def measure_key(self) -> Any:
        """What the gate's *measurements* depend on (default: all params). A gate that
        splits measuring from deciding (`measure` / `decide`) returns only the params that
        change measured values, so a threshold change re-decides from stored values."""
        return self.params.model_dump(mode="json")

    def band_names(self) -> list[str]:
        """Names of the bands (lowest first) this gate splits passing documents into.

        Empty: no bands. As the last gate, its bands become the top tiers.
        """
        return []

    def fingerprint(self) -> dict[str, Any]:
        """What, besides params, changes this gate's output (e.g. a model file's hash)."""
        return {}


class MeasuredGate(Gate):
    """A gate split into measuring (expensive, stored) and deciding (cheap, from columns).

    `measure` returns the score columns; `decide` turns them into a GateResult. The runner
    stores measured columns per unit under a key over `measure_key()`, so changing only a
    threshold reruns `decide` on stored values (nothing is re-measured), and dry runs can
    re-decide from an existing output's columns.
    """

    def measure(self, batch: DocBatch, ctx: UnitContext) -> dict[str, pa.Array]:
        raise NotImplementedError

    def decide(self, batch: DocBatch, measured: dict[str, pa.Array], ctx: UnitContext) -> GateResult:
        raise NotImplementedError

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        return self.decide(batch, self.measure(batch, ctx), ctx)


class GlobalGate(Gate):
    """A gate that needs all shards at once (dedup): prepare -> resolve -> apply."""

    is_global = True
    #: params that only the global step reads: changing them does not redo pass 1
    resolve_only: ClassVar[tuple[str, ...]] = ()

    def prepare(self, batch: DocBatch, ctx: UnitContext) -> pa.Table:
        """Pass 1: per-document keys (must include `id`) saved for the global step."""
        raise NotImplementedError

    def resolve(self, key_files: list[str], work_dir: str, executor: Any) -> dict[str, Any]:
        """Global step: read all key files, write per-unit verdicts under work_dir (the
        gate's own folder; `apply` finds it again as `ctx.gate_dir`).

        Returns summary statistics for the manifest. May fan out with `executor.map`.
        """
        raise NotImplementedError


# ------------------------------------------------------------------------------------
# heuristic rules


class Bound(Params):
    min: float | None = Field(None, allow_inf_nan=False, description="fail when the value is below this")
    max: float | None = Field(None, allow_inf_nan=False, description="fail when the value is above this")

    @model_validator(mode="after")
    def _ordered(self) -> Bound:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max}): nothing could pass")
        return self


class RuleParams(Bound):
    """Thresholds common to every rule; subclasses add measurement parameters."""

    langs: list[str] | None = Field(
        None, description="apply only to these languages (None: all languages)"
    )
    skip_langs: list[str] = Field(
        default_factory=list, description="never apply to these languages"
    )
    per_lang: dict[str, Bound] = Field(
        default_factory=dict, description="language -> min/max overriding the defaults"
    )


class Rule:
    """A heuristic measurement with a threshold. Subclasses implement `measure`.

    `measure` returns one float per document (np.nan where the rule does not apply,
    e.g. a Python-only rule on Go). Units belong in the docstring.
    """

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    #: languages the measurement is meaningful for (None = all); config `langs` narrows it
    native_langs: ClassVar[tuple[str, ...] | None] = None
    #: the values `measure` can give (None: unbounded); thresholds outside are config errors
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)

    def __init__(self, params: RuleParams):
        self.params = params

    @property
    def column(self) -> str:
        return f"h_{self.name}"

    def applies(self, batch: DocBatch) -> np.ndarray:
        """Bool mask of documents this rule applies to (by language)."""
        mask = np.ones(batch.num_rows, dtype=bool)
        langs = batch.lang
        allowed = self.params.langs if self.params.langs is not None else self.native_langs
        if allowed is not None:
            mask &= pc.fill_null(pc.is_in(langs, pa.array(list(allowed), pa.string())), False).to_numpy(
                zero_copy_only=False
            )
        if self.params.skip_langs:
            skip = pc.fill_null(
                pc.is_in(langs, pa.array(self.params.skip_langs, pa.string())), False
            ).to_numpy(zero_copy_only=False)
            mask &= ~skip
        return mask

    def measure(self, batch: DocBatch) -> np.ndarray:
        raise NotImplementedError

    def bounds(self, batch: DocBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per-document (lo, hi) thresholds after per-language overrides."""
        n = batch.num_rows
        p = self.params
        lo = np.full(n, -np.inf if p.min is None else p.min)
        hi = np.full(n, np.inf if p.max is None else p.max)
        if p.per_lang:
            langs = batch.lang
            for lang, b in p.per_lang.items():
                m = pc.fill_null(pc.equal(langs, lang), False).to_numpy(zero_copy_only=False)
                if b.min is not None:
                    lo[m] = b.min
                if b.max is not None:
                    hi[m] = b.max
        return lo, hi

    def decide(self, values: np.ndarray, batch: DocBatch) -> np.ndarray:
        """Bool mask of documents failing this rule (nan values never fail)."""
        lo, hi = self.bounds(batch)
        with np.errstate(invalid="ignore"):
            fail = (values < lo) | (values > hi)
        return fail & ~np.isnan(values) & self.applies(batch)
