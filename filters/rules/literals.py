"""Required literals of an RE2 pattern: a prefilter that spares the regex most lines.

`required_literals(pattern)` returns (literals, fold): every match of `pattern` contains at
least one of `literals` (ASCII case-insensitively when `fold`, i.e. the pattern starts with
`(?i)`; other leading flags `(?ms)` do not change literals), or None when the pattern is outside the subset this parser understands (then no
prefilter is used). E.g. `(?i)your code here|(?:#|//)[^\\n]*\\b(?:todo|fixme)\\b` gives
(["your code here", "todo", "fixme"], True); `^\\s*pass\\s*$` gives (["pass"], False).

Only what is certainly required is returned: quantified items (`?`, `*`, `{0,..}`) are
skipped, a sequence contributes its single most selective item (`_selectivity`), an
alternation the union of its branches (None if any branch has none). Escaped punctuation
(`\\(`) is a literal character; classes, `.`, anchors and other escapes break a literal run.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PLAIN = re.compile(r"[A-Za-z0-9 _#\"'<>!%&,:;=@`~/-]")


class _Unsupported(Exception):
    pass


@lru_cache(maxsize=256)
def required_literals(pattern: str) -> tuple[list[str], bool] | None:
    """(literals, fold) such that every match of `pattern` contains one of the literals, or None."""
    flags = re.match(r"\(\?([ims]+)\)", pattern)  # leading flags: only (?i) matters to literals
    fold = flags is not None and "i" in flags.group(1)
    body = pattern[flags.end() :] if flags else pattern
    try:
        lits, end = _alternation(body, 0)
        if end != len(body):
            return None
    except (_Unsupported, IndexError):
        return None
    if not lits:
        return None
    return sorted({s.lower() for s in lits} if fold else set(lits)), fold


def _alternation(p: str, i: int) -> tuple[set[str] | None, int]:
    """Parse branches from p[i] up to an unmatched ')' or the end: (union of their literals
    or None when one branch has none, index of the ')' / end)."""
    out: set[str] | None = set()
    while True:
        lits, i = _sequence(p, i)
        out = None if out is None or lits is None else out | lits
        if i < len(p) and p[i] == "|":
            i += 1
            continue
        return out, i


def _sequence(p: str, i: int) -> tuple[set[str] | None, int]:
    """One branch: the best required item set among its items."""
    options: list[set[str]] = []
    run = ""
    while i < len(p) and p[i] not in "|)":
        item, lit, i = _item(p, i)
        quant, i = _quantifier(p, i)
        if lit is not None and not quant:
            run += lit
            continue
        if lit is not None and quant == "+":  # c+ : c is required, but the run ends at it
            run += lit
        if run:
            options.append({run})
        run = ""
        if item is not None and quant in ("", "+"):
            options.append(item)
    if run:
        options.append({run})
    if not options:
        return None, i
    return max(options, key=_selectivity), i


def _selectivity(lits: set[str]) -> tuple[int, int]:
    """Higher = fewer lines pass the prefilter: long literals, few of them; punctuation (`#`)
    is rarer in code than letters and counts 3."""
    return min(sum(1 if c.isalnum() or c == " " else 3 for c in s) for s in lits), -len(lits)


def _item(p: str, i: int) -> tuple[set[str] | None, str | None, int]:
    """(a group's required literals, a literal character, next index) of the item at p[i]."""
    c = p[i]
    if c == "(":
        if p.startswith("(?:", i):
            lits, j = _alternation(p, i + 3)
        elif p.startswith("(?", i):
            raise _Unsupported(p[i : i + 4])  # flags or named groups mid-pattern
        else:
            lits, j = _alternation(p, i + 1)
        if j >= len(p) or p[j] != ")":
            raise _Unsupported("unbalanced")
        return lits, None, j + 1
    if c == "[":
        j = i + 1
        if j < len(p) and p[j] == "^":
            j += 1
        if j < len(p) and p[j] == "]":
            j += 1
        while p[j] != "]":
            j += 2 if p[j] == "\\" else 1
        return None, None, j + 1
    if c == "\\":
        e = p[i + 1]
        if e in "pP":  # \pL or \p{...}
            return None, None, (p.index("}", i) + 1) if p[i + 2] == "{" else i + 3
        if not e.isalnum():
            return None, e, i + 2
        if e not in "sSdDwWbBnrtfvAz":  # \x41, \Q...\E, \C: not parsed
            raise _Unsupported(e)
        return None, None, i + 2  # \s \d \w \b \n ...
    if c in ".^$":
        return None, None, i + 1
    if c in "*+?{":
        raise _Unsupported("dangling quantifier")
    if _PLAIN.fullmatch(c) is None:
        raise _Unsupported(c)
    return None, c, i + 1


def _quantifier(p: str, i: int) -> tuple[str, int]:
    """('' none, '+' at least one, 'opt' possibly zero) of the quantifier at p[i], next index."""
    if i >= len(p) or p[i] not in "*+?{":
        return "", i
    c = p[i]
    if c == "{":
        m = re.match(r"\{(\d+)(?:,(\d*))?\}", p[i:])
        if m is None:
            raise _Unsupported("brace")
        kind, i = ("+" if int(m.group(1)) >= 1 else "opt"), i + m.end()
    else:
        kind, i = ("+" if c == "+" else "opt"), i + 1
    if i < len(p) and p[i] == "?":  # lazy
        i += 1
    return kind, i
