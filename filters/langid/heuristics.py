"""Content rules that settle ambiguous extensions, after GitHub Linguist's heuristics.yml.

For an extension with several candidate languages (`paths.AMBIGUOUS`), the rules are tried
in order on a prefix of the text; the first that matches names the language. Each rule
is one RE2 regex run by Arrow over the rows with that extension (no per-row Python).
A rule with an empty pattern always matches (the extension's rules are conclusive).
When no rule matches, the gate falls back to the content model restricted to the
candidates, and then to the first (most common) candidate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_RST_TITLE = r"^[^\s][^\n]*\n(?:={3,}|-{3,}|~{3,}|\^{3,}|\*{3,}|\+{3,}|#{3,})[ \t]*$"
_RST_INLINE = r"(?:``[^`\n]+``|^\.\. [\w|-]+::|:(?:func|class|meth|mod|ref|doc|attr|data|exc|pep|rfc):`|`[^`\n]+`_)"
#: two underlined section titles and rST inline markup (a directive, ``literal``, a role, `link`_), any order
RST_DOCUMENT = "(?m)(?:" + "|".join(
    "(?s:.*)".join(order) for order in (
        (_RST_INLINE, _RST_TITLE, _RST_TITLE), (_RST_TITLE, _RST_INLINE, _RST_TITLE), (_RST_TITLE, _RST_TITLE, _RST_INLINE)
    )
) + ")"

#: extension -> ordered (language, RE2 pattern); patterns are multi-line ((?m) where needed)
RULES: dict[str, list[tuple[str, str]]] = {
    "h": [
        ("Objective-C", r"(?m)^\s*(@interface|@implementation|@protocol|@end\b|@property\b|#import\s)"),
        # C++ that a C header does not hold even in its `#ifdef __cplusplus` parts (those have
        # `extern "C"`, C++ spellings of C headers, a template or two): a namespace or class
        # body, access specifiers, `using namespace`, the C++ library's own headers (train + dev:
        # 28 of 64 guarded `.h` files with C++ syntax, from absl, assimp, geos, poco, taglib, tbb...)
        (
            "C++",
            (
                r"(?m)^\s*(namespace\s+\w+\s*\{|class\s+\w+\s*(final\s*)?[:{]|(public|private|protected)\s*:\s*$|"
                r"using\s+namespace\s|#\s*include\s*<(iostream|string|vector|memory|map|algorithm|type_traits|"
                r"utility|functional|array|tuple|mutex|thread|sstream|unordered_map|set)>)"
            ),
        ),
        # a header that guards its C++ parts (`#ifdef __cplusplus`) is a C header usable from C++
        ("C", r"(?m)^\s*#\s*(ifdef|ifndef|if|elif)\s*!?\s*(defined\s*\(?\s*)?__cplusplus"),
        (
            "C++",
            (
                r"(?m)^\s*(template\s*<|namespace\s+\w*\s*\{|class\s+\w+\s*(final\s*)?[:{]|"
                r"using\s+namespace\s|#include\s*<(iostream|string|vector|memory|map|algorithm|cstdint|"
                r"cstdio|cstdlib|cstring|type_traits|utility|functional|array|tuple|mutex|thread)>|"
                r"(public|private|protected):)|\bstd::\w|\bconstexpr\b|\bnullptr\b"
            ),
        ),
    ],
    "m": [
        ("Objective-C", r"(?m)^\s*(@interface|@implementation|@protocol|@end\b|#import\s|#include\s)"),
        ("MATLAB", r"(?m)^\s*(function\b|%|end\s*$|classdef\b|disp\s*\(|fprintf\s*\()"),
    ],
    "pl": [
        ("Perl", r"(?m)^\s*(use\s+(strict|warnings|v?5)\b|my\s+[$@%]|sub\s+\w+\s*\{|package\s+[\w:]+;)"),
        ("Prolog", r"(?m)(^[^#%\n]*:-|^\w+\([^)]*\)\s*\.\s*$)"),
    ],
    "ts": [
        ("XML", r"^(\x{FEFF}|\s)*(<\?xml|<!DOCTYPE\s+TS|<TS\b)"),
        ("TypeScript", ""),  # conclusive: anything else is TypeScript
    ],
    "v": [
        (
            "Coq",
            (
                r"(?m)^\s*(Require\s+(Import|Export)|From\s+\S+\s+Require|Theorem\s|Lemma\s|Proof\.|Qed\.|"
                r"Inductive\s|Fixpoint\s|Definition\s|Module\s+\w+\.|Section\s)"
            ),
        ),
        ("Verilog", r"(?m)^\s*(module\s+\w+|endmodule\b|always\s*@|assign\s|input\s|output\s|`timescale)"),
    ],
    # Raku only with its markers; everything else is Perl (conclusive: Perl's `.t`/`.pm` dwarf Raku's)
    "t": [("Raku", r"(?m)^\s*(use\s+v6|unit\s+(module|class))"), ("Perl", "")],
    "pm": [
        ("Raku", r"(?m)^\s*(use\s+v6|unit\s+(module|class|role)|(my\s+)?class\s+[\w:]+\s+(is|does)\s)"),
        ("Perl", ""),
    ],
    "inc": [("PHP", r"<\?php"), ("C", r"(?m)^\s*#\s*(include|define|if|ifdef|ifndef)\b")],
    # `.txt`: an XML declaration first is an XML document (test outputs, fixtures); Sphinx sources and
    # CHANGES.txt are reStructuredText: two underlined titles plus markup, or an rST directive line
    # (`.. automodule::`; train + dev .txt files with one: 19 rST by the document rule, 5 more, all Sphinx)
    "txt": [("XML", r"\A\x{FEFF}?\s*<\?xml\s"), ("reStructuredText", RST_DOCUMENT),
            ("reStructuredText", r"(?m)^\.\. [a-z][\w-]*(:[\w-]+)?::(\s|$)"), ("Text", "")],
}


def disambiguate(texts: pa.Array, ext: str) -> pa.Array:
    """Language per text by the first matching rule for `ext` (null where none matches)."""
    rules = RULES.get(ext, [])
    out = pa.nulls(len(texts), pa.string())
    decided = np.zeros(len(texts), dtype=bool)
    for lang, pattern in rules:
        hit = pc.fill_null(pc.match_substring_regex(texts, pattern), False).to_numpy(zero_copy_only=False)
        new = hit & ~decided
        if new.any():
            out = pc.if_else(pa.array(new), pa.scalar(lang, pa.string()), out)
            decided |= new
    return out
