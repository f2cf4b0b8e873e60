"""The `language` gate: programming language from path and content, natural language of text.

Decision per document (Linguist's order of strategies):
  1. binary content (NUL bytes, or mostly U+FFFD replacement characters) -> `binary`;
  2. exact file name (`Makefile`, `CMakeLists.txt`, ...) -> that language;
  3. shebang interpreter (`#!/usr/bin/env python3`) -> that language;
  4. extension -> that language; ambiguous extensions (`.h`, `.m`, `.pl`, `.ts`, `.v`, ...)
     are settled by content heuristics, then by the content model among the candidates;
  5. no usable path -> the content model (`lang_score` = its probability); an answer below
     the model's calibrated threshold for that language (chosen on dev so that answers above
     it are right >= 98% of the time) is "unknown": `lang` null, reason `low_confidence`.
An input language column (`input_lang`) can be trusted (it decides where set), checked
(disagreements go to `lang_input`) or ignored.
A sample of path-identified files also runs through the content model; a confident
disagreement is recorded in `lang_content` (the path's answer is kept).

Everything is looked up once per distinct file name / extension / interpreter and mapped
back with Arrow; the content model only sees the rows that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from codesieve.core import cputime
from codesieve.core.base import Gate, GateResult, Params, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.errors import ConfigError, InputError
from codesieve.core.registry import register_gate
from codesieve.filters.langid import comments, heuristics, natural, paths
from codesieve.filters.langid.binary import binary_mask
from codesieve.filters.langid.content import load_content_model
from codesieve.filters.langid.paths import SHEBANG_REGEX, guess_from_filename, lang_for_interpreter

REASONS = ["binary", "not_code", "extension_denied", "lang_not_allowed", "low_confidence"]
_KNUTH = np.uint64(2654435761)  # multiplicative hash constant (Knuth, TAOCP vol. 3 §6.4)


@dataclass
class LangDecision:
    """Per-document outcome of language identification (arrays of length n)."""

    lang: pa.Array  # Linguist-style name, null when unidentified or binary
    score: np.ndarray  # float32 confidence in [0, 1]
    source: np.ndarray  # object: filename|shebang|extension|heuristic|content|ambiguous|binary|''
    content_lang: pa.Array  # content model's confident disagreement with the path (else null)
    binary: np.ndarray  # bool
    unsure: np.ndarray  # bool: content answer below its calibrated threshold (lang is null)
    input_lang: pa.Array | None = None  # `check` mode: the input column where it disagrees


class InputLang(Params):
    """An upstream language column (e.g. a crawl's `language`) and how far to believe it."""

    column: str = Field("language", description="input column holding a language name per row")
    mode: Literal["trust", "check", "ignore"] = Field(
        "ignore",
        description="trust: the column decides where it names a language (identification runs on "
        "the other rows only); check: identify anyway and record disagreements in `lang_input`; "
        "ignore: do not read it",
    )
    unknown_values: list[str] = Field(
        default_factory=lambda: ["unknown", ""], description="values meaning 'no language' (as null)"
    )


def _map_unique(keys: pa.Array, fn) -> tuple[list, np.ndarray]:
    """fn(key) once per distinct key: (values per distinct key, index of each row's key)."""
    keys = pc.fill_null(keys, "")
    uniq = pc.unique(keys)
    return [fn(k) for k in uniq.to_pylist()], pc.index_in(keys, uniq).to_numpy(zero_copy_only=False)


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _np(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


@register_gate("language")
class LanguageGate(Gate):
    """Programming language (path + content model) and natural language; keep an allow-list."""

    class Params(Params):
        allow: list[str] | None = Field(None, description="programming languages to keep (None: any identified)")
        prose_langs: list[str] = Field(
            default_factory=lambda: ["Markdown", "Text", "reStructuredText", "AsciiDoc", "Org"],
            description="prose languages: natural language is detected on their whole text",
        )
        allow_prose: bool = Field(False, description="also keep `prose_langs` when `allow` is a list")
        deny_extensions: list[str] = Field(default_factory=list, description="extensions to reject")
        min_score: float = Field(
            0.0, ge=0, le=1, description="minimum content-model probability when the content decides"
        )
        calibrated: bool = Field(
            True,
            description="content answers below the model's per-language threshold (lang_content.json "
            "`calibration`, chosen on dev for >= 98% precision) are unknown (`low_confidence`)",
        )
        input_lang: InputLang = Field(default_factory=InputLang, description="upstream language column")
        content_model: bool = Field(True, description="use the content model for ambiguous/missing paths")
        content_model_path: str | None = Field(
            None, description="a content model .ftz other than the shipped one (its .json beside it)"
        )
        check_fraction: float = Field(
            0.0, ge=0, le=1, description="share of path-identified files also checked by the content model"
        )
        ambiguous_min_score: float = Field(
            0.8, ge=0, le=1,
            description="content probability (renormalised over the candidates) needed to pick a "
            "candidate other than the extension's most common one",
        )
        content_min_chars: int = Field(
            1, ge=1, description="shorter texts (code points) are never given to the content model"
        )
        mislabel_min_score: float = Field(
            0.9, ge=0, le=1, description="content probability needed to record a path/content disagreement"
        )
        head_chars: int = Field(
            8192, gt=0, description="prefix for shebang / heuristics (code points) and binary tests (bytes)"
        )
        binary_max_nul: int = Field(0, ge=0, description="NUL characters allowed in the prefix")
        binary_max_replacement_frac: float = Field(
            0.1, ge=0, le=1, description="max share of U+FFFD (undecodable bytes) in the prefix"
        )
        nl_detect: bool = Field(True, description="detect natural language (nl_lang, nl_score)")
        nl_languages: list[str] = Field(
            default_factory=lambda: ["en", "zh", "es", "de", "fr", "ru", "ja", "pt", "ko", "it"],
            description="ISO 639-1 codes the detector chooses among",
        )
        nl_max_chars: int = Field(500, gt=0, description="comment/prose text given to the detector (code points)")
        nl_min_letters: int = Field(50, ge=1, description="fewer letters than this: nl_lang is null")
        nl_low_accuracy: bool = Field(True, description="lingua's faster low-accuracy mode (trigrams only)")
        nl_parse_chars: int = Field(2048, gt=0, description="code prefix parsed for comments (code points)")

    def output_fields(self) -> list[pa.Field]:
        fields = [
            pa.field("lang", pa.string()),
            pa.field("lang_score", pa.float32()),
            pa.field("lang_content", pa.string()),
            pa.field("nl_lang", pa.string()),
            pa.field("nl_score", pa.float32()),
        ]
        if self.params.input_lang.mode == "check":
            fields.append(pa.field("lang_input", pa.string()))
        return fields

    def fingerprint(self) -> dict:
        return load_content_model(*self._model_path()).fingerprint() if self.params.content_model else {}

    def warm(self) -> None:
        p = self.params
        if p.content_model:
            load_content_model(*self._model_path())
        paths.warm()
        if p.nl_detect:
            natural.warm(tuple(p.nl_languages), p.nl_low_accuracy)

    def _model_path(self) -> tuple[str, ...]:
        path = self.params.content_model_path
        if path and not Path(path).is_file():
            raise ConfigError(f"language.content_model_path: {path}: no such file")
        return (path,) if path else ()

    # --- identification --------------------------------------------------------------

    def identify(self, batch: DocBatch) -> LangDecision:
        """Language per document; `input_lang` trusted or checked as configured."""
        mode = self.params.input_lang.mode
        given = self._input_lang(batch) if mode != "ignore" else None
        if mode == "trust" and given is not None and _notnull(given).any():
            return self._trust(batch, given)
        d = self._identify(batch)
        if mode == "check" and given is not None:
            found = np.array(d.lang.to_pylist(), dtype=object)
            differ = _notnull(given) & ~d.binary & (given != found)
            d.input_lang = pa.array(np.where(differ, given, None).tolist(), pa.string())
        return d

    def _input_lang(self, batch: DocBatch) -> np.ndarray:
        """The input language column as an object array (None for null / unknown values)."""
        cfg = self.params.input_lang
        col = batch.column(cfg.column)
        if col is None:
            raise InputError(
                f"language.input_lang.column: no input column {cfg.column!r} "
                f"(columns: {', '.join(batch.table.column_names)})"
            )
        col = pc.cast(col, pa.string())
        unknown = pc.fill_null(pc.is_in(col, pa.array(cfg.unknown_values, pa.string())), False)
        return np.array(pc.if_else(unknown, pa.scalar(None, pa.string()), col).to_pylist(), dtype=object)

    def _trust(self, batch: DocBatch, given: np.ndarray) -> LangDecision:
        """The input column decides where it names a language; the other rows are identified."""
        n = batch.num_rows
        trusted = _notnull(given)
        binary = self._binary(batch)
        lang, score = given.copy(), np.ones(n, dtype=np.float32)
        source = np.full(n, "input", dtype=object)
        content_lang = np.full(n, None, dtype=object)
        unsure = np.zeros(n, dtype=bool)
        rest = np.flatnonzero(~trusted)
        if len(rest):
            d = self._identify(batch.take(~trusted))
            lang[rest], score[rest], source[rest] = d.lang.to_pylist(), d.score, d.source
            content_lang[rest], unsure[rest] = d.content_lang.to_pylist(), d.unsure
        lang[binary], score[binary], source[binary] = None, 0.0, "binary"
        return LangDecision(
            pa.array(lang.tolist(), pa.string()), score, source,
            pa.array(content_lang.tolist(), pa.string()), binary, unsure & ~binary,
        )

    def _identify(self, batch: DocBatch) -> LangDecision:
        p = self.params
        n = batch.num_rows
        binary = self._binary(batch)

        uniq, idx = _map_unique(batch.filename, guess_from_filename)
        guesses = _objects(uniq)[idx]
        lang = _objects([g.lang for g in uniq])[idx]
        source = _objects([g.source for g in uniq])[idx]
        ambiguous = np.array([g.ambiguous for g in uniq], dtype=bool)[idx]
        score = np.where(_notnull(lang), 1.0, 0.0).astype(np.float32)

        interp = pc.struct_field(pc.extract_regex(batch.text, SHEBANG_REGEX), [0])
        bang_uniq, bang_idx = _map_unique(interp, lambda k: lang_for_interpreter(k) if k else None)
        by_bang = _objects(bang_uniq)[bang_idx]
        use_bang = _notnull(by_bang) & (source != "filename")
        lang[use_bang], source[use_bang], score[use_bang] = by_bang[use_bang], "shebang", 1.0
        ambiguous &= ~use_bang

        model = load_content_model(*self._model_path()) if p.content_model else None
        if ambiguous.any():
            rows = np.flatnonzero(ambiguous)
            self._settle_ambiguous(batch, rows, guesses, model, lang, score, source)

        content_lang = np.full(n, None, dtype=object)
        unsure = np.zeros(n, dtype=bool)
        if model is not None:
            unknown = np.flatnonzero(~_notnull(lang) & ~binary & (batch.char_len >= p.content_min_chars))
            if len(unknown):
                pred = model.predict(batch.text.take(pa.array(unknown)))
                found = np.array(pred.lang, dtype=object)
                if p.calibrated:
                    unsure[unknown] = ~model.confident(pred)
                lang[unknown] = np.where(unsure[unknown], None, found)
                score[unknown] = pred.score
                source[unknown] = "content"
            if p.check_fraction > 0:
                self._check_mislabels(batch, model, lang, source, content_lang)

        lang[binary], score[binary], source[binary] = None, 0.0, "binary"
        return LangDecision(
            pa.array(lang.tolist(), pa.string()), score, source,
            pa.array(content_lang.tolist(), pa.string()), binary, unsure & ~binary,
        )

    def _binary(self, batch: DocBatch) -> np.ndarray:
        """Git's test (a NUL in the first 8000 bytes) plus a share of undecodable bytes."""
        p = self.params
        return binary_mask(batch.text, p.head_chars, p.binary_max_nul, p.binary_max_replacement_frac)

    def _settle_ambiguous(self, batch, rows, guesses, model, lang, score, source) -> None:
        """Heuristics per extension, then the content model among the candidates.

        Without evidence the extension's most common candidate is kept, scored 1/candidates.
        """
        head = pc.utf8_slice_codeunits(batch.text.take(pa.array(rows)), 0, self.params.head_chars)
        ext = np.array([g.ext for g in guesses[rows]], dtype=object)
        undecided = []
        for e in np.unique(ext):
            sub = rows[ext == e]
            found = _objects(heuristics.disambiguate(head.filter(pa.array(ext == e)), e).to_pylist())
            hit = _notnull(found)
            lang[sub[hit]], score[sub[hit]], source[sub[hit]] = found[hit], 1.0, "heuristic"
            undecided.extend(sub[~hit].tolist())
        if not undecided:
            return
        undecided_arr = np.array(undecided, dtype=np.int64)
        source[undecided_arr] = "ambiguous"
        cands = [guesses[i].candidates for i in undecided]
        score[undecided_arr] = [1.0 / len(c) for c in cands]
        if model is None:
            return
        col = {lab: j for j, lab in enumerate(model.labels)}
        # the model can only choose between candidates it knows
        ask = [k for k, cs in enumerate(cands) if sum(c in col for c in cs) >= 2]
        if not ask:
            return
        _, probs = model.probabilities(batch.text.take(pa.array(undecided_arr[ask])))
        for row, k in enumerate(ask):
            i, cs = undecided[k], cands[k]
            known = [c for c in cs if c in col]
            pr = np.array([probs[row, col[c]] for c in known])
            if pr.sum() <= 0:
                continue
            pr = pr / pr.sum()
            best = int(pr.argmax())
            if known[best] != cs[0] and pr[best] < self.params.ambiguous_min_score and cs[0] in known:
                best = known.index(cs[0])
            lang[i], score[i] = known[best], pr[best]

    def _check_mislabels(self, batch, model, lang, source, content_lang) -> None:
        """Run the content model on a deterministic sample of path-identified files."""
        p = self.params
        blen = batch.byte_len.astype(np.uint64)
        h = (blen * _KNUTH + batch.char_len.astype(np.uint64)) % np.uint64(1 << 32)
        sample = (h.astype(np.float64) / float(1 << 32)) < p.check_fraction
        sample &= np.isin(source, ["extension", "filename", "shebang"])
        sample &= np.isin(lang, model.labels) & (batch.char_len >= p.content_min_chars)
        rows = np.flatnonzero(sample)
        if not len(rows):
            return
        pred = model.predict(batch.text.take(pa.array(rows)))
        guess = np.array(pred.lang, dtype=object)
        flag = (guess != lang[rows]) & (pred.score >= p.mislabel_min_score)
        content_lang[rows[flag]] = guess[flag]

    # --- the gate --------------------------------------------------------------------

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        p = self.params
        n = batch.num_rows
        d = self.identify(batch)
        unknown = ~d.binary & ~d.unsure & ~_np(pc.is_valid(d.lang))
        denied = np.zeros(n, dtype=bool)
        if p.deny_extensions:
            deny = pa.array([e.lower().lstrip(".") for e in p.deny_extensions], pa.string())
            denied = _np(pc.is_in(batch.extension, deny))
        not_allowed = np.zeros(n, dtype=bool)
        if p.allow is not None:
            allowed = list(p.allow) + (list(p.prose_langs) if p.allow_prose else [])
            not_allowed = ~d.binary & ~unknown & ~d.unsure & ~_np(pc.is_in(d.lang, pa.array(allowed, pa.string())))
        # path-derived answers are facts; only content-model answers can be unsure
        low = d.unsure | (~d.binary & ~unknown & np.isin(d.source, ["content"]) & (d.score < p.min_score))
        fails = np.stack([d.binary, unknown, denied, not_allowed, low], axis=1)
        cols = {
            "lang": d.lang,
            "lang_score": pa.array(d.score, pa.float32()),
            "lang_content": d.content_lang,
        }
        if p.input_lang.mode == "check":
            cols["lang_input"] = d.input_lang if d.input_lang is not None else pa.nulls(n, pa.string())
        return GateResult(cols, fails, list(REASONS))

    # --- natural language: late columns (no gate decides on them) ----------------------

    def late_fields(self) -> list[str]:
        return ["nl_lang", "nl_score"] if self.params.nl_detect else []

    def late_columns(self, batch: DocBatch, ctx: UnitContext) -> dict[str, pa.Array]:
        """nl_lang / nl_score of rows that passed this gate (`lang` set): prose files
        whole, code files by their comments (`comments.comment_text`, a lexer)."""
        p = self.params
        if not batch.num_rows:
            return {"nl_lang": pa.nulls(0, pa.string()), "nl_score": pa.nulls(0, pa.float32())}
        with cputime.timed("language.nl"):
            texts, langs = batch.text, batch.lang
            prose = _np(pc.is_in(langs, pa.array(p.prose_langs, pa.string())))
            sources = comments.comment_text(texts, langs, p.nl_parse_chars, p.nl_max_chars)
            whole = pc.utf8_slice_codeunits(texts, 0, p.nl_max_chars).to_pylist()
            sources = [w if is_prose else c for w, c, is_prose in zip(whole, sources, prose)]
            codes, scores = natural.detect(
                sources, tuple(p.nl_languages), p.nl_max_chars, p.nl_min_letters, p.nl_low_accuracy
            )
        scores = np.asarray(scores, dtype=np.float32)
        return {"nl_lang": codes.cast(pa.string()), "nl_score": pa.array(scores, pa.float32(), mask=np.isnan(scores))}


def _notnull(values: np.ndarray) -> np.ndarray:
    """Bool mask of non-None entries in an object array."""
    return np.asarray(values != None, dtype=bool)  # noqa: E711 (elementwise on an object array)
