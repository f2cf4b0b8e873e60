"""The crawl label: what a raw crawl writes into `language` before any content model runs.

Linguist-style name from the exact file name, else the extension, else the shebang's
interpreter; `unknown` otherwise. An ambiguous extension (`.h`, `.pl`, `.ts`) takes its most
common candidate, as the dev corpus does (`shared/corpus/README.md`). Used by the registry
corpus recipe (`python -m codesieve.recipes.registry_corpus --labeller ...`).
"""

from __future__ import annotations

import posixpath
import re

from codesieve.filters.langid.paths import SHEBANG_REGEX, guess_from_filename, lang_for_interpreter

_SHEBANG = re.compile(SHEBANG_REGEX)


def crawl_language(path: str, head: str) -> str:
    """Label of one file: `path` inside its package, `head` its first characters (shebang line)."""
    guess = guess_from_filename(posixpath.basename(path))
    if guess.lang:
        return guess.lang
    if head.startswith("#!"):
        match = _SHEBANG.match(head)
        lang = lang_for_interpreter(match.group("interp")) if match else None
        if lang:
            return lang
    return "unknown"
