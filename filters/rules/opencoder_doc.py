"""OpenCoder's prose signals (`qsc_doc_*`: files OpenCoder types as text, e.g. Markdown,
reStructuredText, TeX), ported faithfully (`oc_doc_*` rules).

Reference: OpenCoder-llm/opc_data_filtering @ 44b857e837a56d859906c83d0ec91b4d5ef5bcc9,
`quality_signals/doc.py`, `redpajama/core/quality_signals/natural_language.py`
(unigram entropy, all-caps words), `utils/constants.py` (BULLETS); thresholds from
`pipeline/code_filter_config.py` `text_filter_config['en']`. Prose shares the code rules'
definitions of word counts, word length, n-gram repetition and character classes (the
reference registers one class under both names); only the signals below are prose-only.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from codesieve.filters.rules.oc_doc import OCDoc, wordpunct
from codesieve.filters.rules.opencoder import Signal, _r

#: utils/constants.py BULLETS
BULLETS = tuple(chr(c) for c in (
    0x2022, 0x2023, 0x2043, 0x204C, 0x204D, 0x2219, 0x25A0, 0x25A1, 0x25A2, 0x25A3, 0x25A4, 0x25A5,
    0x25A6, 0x25A7, 0x25A8, 0x25A9, 0x25AA, 0x25AB, 0x25AC, 0x25AD, 0x25AE, 0x25AF, 0x25CB, 0x25CF,
    0x25E6, 0x25C6, 0x25C7, 0x25C8, 0x25C9, 0x25CA, 0x25CB, 0x25D0, 0x25D1, 0x25D2, 0x25D3, 0x25D4,
    0x25D5, 0x25D6, 0x25D8, 0x25D9, 0x25E2, 0x25E3, 0x25E4, 0x25E5, 0x25E6, 0x25EF, 0x2611, 0x2612,
    0x2B1B, 0x2B1C, 0x2B24, 0x2B1E, 0x2B1F, 0x29BE,
))
READMORE = ("...", "…", "全文", "详情", "详细", "更多", "المزيد", "تفاصيل", "اقرأ المزيد", "もっと", "詳細", "もっと読む")
_SENTENCE = re.compile(r"\b[^.!?。！？؟]+[.!?。！？؟]*", flags=re.UNICODE)
_LINK = re.compile(r"\(https?://\S+\)")
_TAG = re.compile(r"<.*?>")
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b")


def entropy(d: OCDoc) -> float | None:
    if not d.words:
        return None
    counts = Counter(d.words)
    total = sum(counts.values())
    return _r(sum(-x / total * math.log(x / total) for x in counts.values() if x > 0))


def dupe_lines(d: OCDoc) -> float | None:
    if not d.lines:
        return None
    counts = Counter(s for s in (ln.strip() for ln in d.lines) if s)
    total = sum(counts.values())
    return _r(sum(v for v in counts.values() if v != 1) / total) if total else None


def dupe_line_chars(d: OCDoc) -> float | None:
    if not d.lines:
        return None
    counts = Counter(ln.strip() for ln in d.lines)
    total = sum(len(k) * v for k, v in counts.items())
    return _r(sum(len(k) * v for k, v in counts.items() if v != 1) / total) if total else None


def _line_share(test) -> Signal:
    def signal(d: OCDoc) -> float | None:
        return _r(sum(1 for ln in d.lines if test(ln)) / len(d.lines)) if d.lines else None

    return signal


def all_caps(d: OCDoc) -> float | None:
    raw = [w for ln in d.lines for w in wordpunct(ln)]
    return _r(sum(map(str.isupper, raw)) / len(raw)) if raw else None


def single_sentence(d: OCDoc) -> float | None:
    """1.0 when the reference's num_sentences is exactly 1 (its filter: `x == 1`)."""
    return float(len(_SENTENCE.findall(d.text)) == 1)


def link_tags(d: OCDoc) -> float | None:
    if not d.text:
        return None
    n = sum(map(len, _LINK.findall(d.text))) + sum(map(len, _TAG.findall(d.text)))
    return _r(n / len(d.text))


def hex_words(d: OCDoc) -> float | None:
    return _r(sum(len(m) for m in _HEX.findall(d.text)) / len(d.text)) if d.text else None


#: rule name -> (signal, reference name, native languages)
DOC_SIGNALS: dict[str, tuple[Signal, str, tuple[str, ...] | None]] = {
    "oc_doc_entropy": (entropy, "qsc_doc_entropy_unigram", None),
    "oc_doc_dupe_line_fraction": (dupe_lines, "qsc_doc_frac_lines_dupe_lines", None),
    "oc_doc_dupe_line_char_fraction": (dupe_line_chars, "qsc_doc_frac_chars_dupe_lines", None),
    "oc_doc_readmore_fraction": (
        _line_share(lambda ln: ln.rstrip().rstrip("]】)>》").endswith(READMORE)),
        "qsc_doc_frac_lines_end_with_readmore", None,
    ),
    "oc_doc_bullet_fraction": (
        _line_share(lambda ln: ln.lstrip().startswith(BULLETS)), "qsc_doc_frac_lines_start_with_bullet", None
    ),
    "oc_doc_all_caps_fraction": (all_caps, "qsc_doc_frac_words_all_caps", None),
    "oc_doc_single_sentence": (single_sentence, "qsc_doc_num_sentences", None),
    "oc_doc_link_tag_fraction": (link_tags, "qsc_doc_frac_chars_hyperlink_html_tag", None),
    "oc_doc_hex_word_fraction": (hex_words, "qsc_doc_frac_chars_hex_words", None),
}
