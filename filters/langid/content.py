"""The content model: a quantized fastText classifier over a code-aware token stream.

Text is cut to a prefix, punctuation is split into tokens and newlines become a `␤` token,
all with Arrow compute (no per-row Python); fastText's C++ `predict` then runs over the list.
The same `prepare` is used for training (`filters.langid.train`) and inference.
`predict` then corrects the top-1 answer from the same prefix, content only: a shebang line
names its interpreter, and `evidence.CONTENT_RULES` settle the pairs the bag of n-grams
confuses (C/C++, JSON/JavaScript, Text/Markdown/reStructuredText, diffs...).
`model_only` gives the fastText answer alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.core.batch import utf8_prefix
from codesieve.filters import license_kernel

MODEL_PATH = Path(__file__).with_name("lang_content.ftz")
META_PATH = Path(__file__).with_name("lang_content.json")
#: fastText labels cannot hold spaces; "Unix Assembly" is stored as "Unix_Assembly"
LABEL_PREFIX = "__label__"
NEWLINE_TOKEN = " \u2424 "


def label_of(lang: str) -> str:
    return LABEL_PREFIX + lang.replace(" ", "_")


def lang_of(label: str) -> str:
    return label[len(LABEL_PREFIX) :].replace("_", " ")


#: a first line that stays before a header: shebang, `<?php`, `<?xml ...?>`, a BOM
_HEAD_KEEP = r"(?P<keep>\x{FEFF}?(?:#![^\n]*\n|<\?php[^\n]*\n|<\?xml[^\n]*\n)?\s*)"
#: a leading comment block: `/* ... */` or `<!-- ... -->` comments in a row, or a run of line comments
#: (`#` only when a space, `#`, `*`, `-` or `=` follows: `#include` is code)
_LINE_COMMENT = r"(?:#[ \t#*=-]|//|--|;|%|dnl\b)"
_HEAD_BLOCK = (
    r"(?P<first>/\*|<!--)(?s:.*?)(?P<end>\*/|-->)(?:\s*(?:/\*(?s:.*?)\*/|<!--(?s:.*?)-->))*"
    rf"|(?P<line>{_LINE_COMMENT}[^\n]{{0,60}})[^\n]*\n(?:[ \t]*(?:{_LINE_COMMENT}[^\n]*|#)?\n)*"
)
_LICENSE_WORDS = r"(?i)copyright|licen[cs]e|spdx|all rights reserved|\(c\) \d{4}|permission is hereby granted"
_OPENS_WITH_COMMENT = r"\A\x{FEFF}?\s*(/\*|<!--|#|//|--|;|%|dnl|<\?)"
#: code points of the text a header is looked for in (a longer header stays as it is)
HEADER_WINDOW = 8192


def collapse_license_header(texts: pa.Array | pa.ChunkedArray, max_chars: int) -> pa.Array:
    """The first `max_chars` code points, a leading licence comment cut to its first line.

    Licence headers fill the model's prefix with prose (C++ headers read as C or Markdown,
    XML as Text); the comment's opening line stays, so its comment syntax still counts.
    Only texts that open with a comment are searched, only licence headers rewritten.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    s = utf8_prefix(texts, HEADER_WINDOW)
    if license_kernel.available():  # the header's groups from the compiled kernel, else RE2
        return license_kernel.collapse_window(s, max_chars, _OPENS_WITH_COMMENT, _LICENSE_WORDS)
    return _collapse_re2(s, max_chars)


def collapse_license_header_reference(texts: pa.Array | pa.ChunkedArray, max_chars: int) -> pa.Array:
    """`collapse_license_header` with RE2 alone (the kernel path's reference)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return _collapse_re2(pc.utf8_slice_codeunits(texts, 0, HEADER_WINDOW), max_chars)


def _collapse_re2(s: pa.Array, max_chars: int) -> pa.Array:
    opens = pc.match_substring_regex(pc.utf8_slice_codeunits(s, 0, 80), _OPENS_WITH_COMMENT)
    rows = np.flatnonzero(pc.fill_null(opens, False).to_numpy(zero_copy_only=False))
    if len(rows):
        sub = s.take(pa.array(rows))
        head = pc.struct_field(pc.extract_regex(sub, rf"\A(?P<h>{_HEAD_KEEP}(?:{_HEAD_BLOCK}))"), [0])
        is_license = pc.fill_null(pc.match_substring_regex(head, _LICENSE_WORDS), False).to_numpy(zero_copy_only=False)
        if is_license.any():
            cut = pc.replace_substring_regex(sub.filter(pa.array(is_license)), rf"\A{_HEAD_KEEP}(?:{_HEAD_BLOCK})",
                                             r"\1\2\4 \3" + "\n", max_replacements=1)
            mask = np.zeros(len(s), dtype=bool)
            mask[rows[is_license]] = True
            s = pc.replace_with_mask(s, pa.array(mask), cut)
    return utf8_prefix(s, max_chars)


def prepare(texts: pa.Array | pa.ChunkedArray, max_chars: int) -> list[str]:
    """Token stream per document: the first `max_chars` code points after a licence header
    is cut to its first line (`collapse_license_header`), punctuation split off."""
    s = collapse_license_header(texts, max_chars)
    s = pc.replace_substring_regex(s, r"([^\p{L}\p{N}_\s])", r" \1 ")
    s = pc.replace_substring_regex(s, r"\r?\n", NEWLINE_TOKEN)
    return pc.fill_null(s, "").to_pylist()


@dataclass
class Prediction:
    """Top-1 content prediction per document (label strings, probabilities in [0, 1])."""

    lang: list[str]
    score: np.ndarray
    #: answers the text named itself (shebang, `#compdef`, modeline...): confident whatever the score
    named: np.ndarray | None = None


class ContentModel:
    """Loads the shipped `.ftz` lazily; predicts Linguist-style language names."""

    def __init__(self, path: str | os.PathLike = MODEL_PATH, rules: bool = True):
        self.path = Path(path)
        #: correct the model's answer with the shebang line and `evidence.CONTENT_RULES`
        self.rules = rules
        if not self.path.exists():
            raise FileNotFoundError(
                f"content model {self.path} is missing; rebuild it with `python -m filters.langid.train`"
            )
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time warning
        self.model = fasttext.load_model(str(self.path))
        self.labels = [lang_of(x) for x in self.model.get_labels()]
        meta_path = self.path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.max_chars: int = int(meta.get("max_chars", 4096))
        cal = meta.get("calibration", {})
        #: content-only answers below these probabilities are unknown (chosen on dev, see train)
        self.thresholds: dict[str, float] = cal.get("per_language", {})
        self.default_threshold: float = float(cal.get("default", 0.0))

    def predict(self, texts: pa.Array) -> Prediction:
        """Top-1 language and probability per document: the model, then content rules."""
        if len(texts) == 0:
            return Prediction([], np.zeros(0, np.float32))
        pred = self.model_only(texts)
        if not self.rules:
            return pred
        from codesieve.filters.langid.evidence import LONG_WINDOW, refine_prediction

        prefix = utf8_prefix(texts, self.max_chars)
        long = utf8_prefix(texts, LONG_WINDOW)
        langs, score, named = refine_prediction(prefix, pred.lang, pred.score, self.labels, long)
        return Prediction(langs, score, named)

    def confident(self, pred: Prediction) -> np.ndarray:
        """Bool per answer: its probability reaches the calibrated threshold of its language."""
        langs = np.array(pred.lang, dtype=object)
        thr = np.full(len(langs), self.default_threshold, dtype=np.float32)
        for lang, t in self.thresholds.items():
            thr[langs == lang] = t
        sure = pred.score >= thr
        return sure | pred.named if pred.named is not None else sure

    def model_only(self, texts: pa.Array) -> Prediction:
        """Top-1 of the fastText model alone (no shebang / content rules)."""
        if len(texts) == 0:
            return Prediction([], np.zeros(0, np.float32))
        labels, probs = self.model.predict(prepare(texts, self.max_chars), k=1)
        langs = [lang_of(x[0]) if x else "" for x in labels]
        score = np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float32)
        return Prediction(langs, np.clip(score, 0.0, 1.0))

    def probabilities(self, texts: pa.Array) -> tuple[list[str], np.ndarray]:
        """Full distribution: (label order, matrix n x labels) — for ambiguous rows only."""
        n = len(texts)
        out = np.zeros((n, len(self.labels)), dtype=np.float32)
        if n == 0:
            return self.labels, out
        index = {lab: j for j, lab in enumerate(self.labels)}
        labels, probs = self.model.predict(prepare(texts, self.max_chars), k=-1)
        for i, (labs, ps) in enumerate(zip(labels, probs)):
            for lab, p in zip(labs, ps):
                out[i, index[lang_of(lab)]] = p
        return self.labels, out

    def fingerprint(self) -> dict[str, str]:
        import hashlib

        return {"lang_content_sha256": hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]}


@lru_cache(maxsize=4)
def load_content_model(path: str = str(MODEL_PATH)) -> ContentModel:
    """One model per process (Ray workers each load it once)."""
    return ContentModel(path)
