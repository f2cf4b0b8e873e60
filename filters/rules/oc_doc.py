"""OpenCoder's code-document model, ported (own code) from the reference implementation.

Reference: OpenCoder-llm/opc_data_filtering @ 44b857e837a56d859906c83d0ec91b4d5ef5bcc9
(`document.py` QSCodeDocument, `utils/text_utils.py` normalize_text, `utils/constants.py`
control/full-width tables, `redpajama/core/document.py` split_paragraphs,
`utils/code/code_utils.py` get_text_python). Faithful to that code, not to the paper:

* lines: `[^\\n]*\\n|[^\\n]+$` matches, each line *with* its newline;
* words: every line normalized (control chars dropped, full-width punctuation to
  half-width, ASCII punctuation replaced by a space, lower-cased, whitespace collapsed,
  NFKC) then split by nltk's `wordpunct_tokenize` pattern `\\w+|[^\\w\\s]+`;
* code / comment split: the pygments lexer named by the program language, a token is a
  comment only if its type is *exactly* Comment.Multiline / Comment.Single /
  String.Doc / Comment.Hashbang / Comment.Special; languages pygments does not know use
  OpenCoder's line-based fallback (`#`, `//`, `--`, `/*`, `\"\"\"`), Perl its POD fallback.

The model is per document (pygments and CPython's parser have no batched API); the rules
in `opencoder.py` build it once per document per batch and read every signal from it.
"""

from __future__ import annotations

import ast
import io
import re
import string
import tokenize
import unicodedata
import warnings
from functools import cached_property

import pygments
import pygments.lexers
import pygments.token
import pygments.util
import regex

#: OpenCoder program names are Linguist names lower-cased, except these
_PROGRAM_OF = {"C++": "cpp", "C#": "csharp"}

_LINE = re.compile(r"([^\n]*\n|[^\n]+$)")
_WORD = regex.compile(r"\w+|[^\w\s]+")  # nltk WordPunctTokenizer (nltk compiles with `regex`)
_WS = re.compile(r"\s+")

#: control characters dropped (or spaced) by normalize_text(remove_control=True)
_CONTROL = {chr(c): "" for c in [*range(0x00, 0x08), *range(0x0E, 0x1B), *range(0x1C, 0x20)]}
_CONTROL.update({"\u2009": " ", "\u200b": " ", "\u202c": ""})
_HALF = string.punctuation
_FULL_TO_HALF = {
    "。": ".", "、": ",", "=": "=", "《": '"', "》": '"', "【": "[", "】": "]",
    "「": "'", "」": "'", "“": '"', "”": '"', "￥": "¥", "‘": "'", "’": "'",
}
_FULL_TO_HALF.update({chr(ord(c) + 0xFEE0): c for c in _HALF})
_NORM_TABLE = str.maketrans({**{c: " " for c in _HALF}})

_COMMENT_TYPES = (
    pygments.token.Comment.Multiline,
    pygments.token.Comment.Single,
    pygments.token.Literal.String.Doc,
    pygments.token.Comment.Hashbang,
    pygments.token.Comment.Special,
)


def program_of(lang: str | None) -> str | None:
    """OpenCoder's program-language name for a Linguist language name."""
    if lang is None:
        return None
    return _PROGRAM_OF.get(lang, lang.lower())


def split_lines(text: str, keep_empty: bool = True) -> list[str]:
    """redpajama/dolma split_paragraphs: lines with their newline; blank ones dropped on request."""
    lines = [m.group(0) for m in _LINE.finditer(text)]
    return lines if keep_empty else [ln for ln in lines if ln.strip()]


def normalize(text: str) -> str:
    """OpenCoder's normalize_text(remove_control, halfpunct, punct='replace', lowercase,
    white_space, unicode='NFKC', remove_digits=False, remove_zh_whitespace=False)."""
    text = "".join(_CONTROL.get(c, c) for c in text)
    text = "".join(_FULL_TO_HALF.get(c, c) for c in text)
    text = text.translate(_NORM_TABLE).lower()
    text = _WS.sub(" ", text.strip())
    return unicodedata.normalize("NFKC", text)


def wordpunct(text: str) -> list[str]:
    """nltk.wordpunct_tokenize."""
    return _WORD.findall(text)


class OCDoc:
    """One document as OpenCoder's QSCodeDocument sees it (lazy, cached attributes)."""

    def __init__(self, text: str, lang: str | None, path: str | None = None):
        self.text = text
        self.program = program_of(lang)
        self.filename = (path or "").rsplit("/", 1)[-1]
        #: OpenCoder's extension: after the last '.', no dot ('' when none)
        self.extension = self.filename.rsplit(".", 1)[-1] if "." in self.filename else ""
        #: per-document parse results of the language-specific signals
        self.cache: dict[str, object] = {}

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Normalized words (per normalized line, wordpunct-tokenized)."""
        out: list[str] = []
        for line in self.lines:
            out.extend(wordpunct(normalize(line)))
        return out

    @cached_property
    def visible(self) -> str:
        return _WS.sub("", self.text)

    @cached_property
    def _split(self) -> tuple[str, str]:
        if self.program is None:
            return self.text, self.text
        if self.program == "perl":
            return self._by_hand_perl()
        try:
            lexer = pygments.lexers.get_lexer_by_name(self.program)
        except pygments.util.ClassNotFound:
            return self._by_hand()
        code, comment = [], []
        for ttype, tok in pygments.lex(self.text, lexer):
            (comment if ttype in _COMMENT_TYPES else code).append(tok)  # `==`: subtypes are code
        return "".join(code), "".join(comment)

    @property
    def code(self) -> str:
        return self._split[0]

    @property
    def comment(self) -> str:
        return self._split[1]

    @cached_property
    def code_lines(self) -> list[str]:
        return split_lines(self.code, keep_empty=False)

    @cached_property
    def comment_lines(self) -> list[str]:
        return split_lines(self.comment, keep_empty=False)

    @cached_property
    def python_ast(self) -> ast.AST | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return ast.parse(self.text)
            except Exception:  # noqa: BLE001  (OpenCoder's parse_py: any failure -> None)
                return None

    def _by_hand(self) -> tuple[str, str]:
        """OpenCoder's get_comment_by_hand (languages pygments does not name)."""
        code, comment = [], []
        inside = False
        for line in self.lines:
            s = line.strip()
            if s.startswith(('"""', "/*")) or s.endswith(('"""', "*/")):
                inside = not inside
                comment.append(line)
            elif s.startswith(("#", "//", "--")) or inside:
                inside = True
                comment.append(line)
            else:
                code.append(line)
        return "".join(code), "".join(comment)

    def _by_hand_perl(self) -> tuple[str, str]:
        """OpenCoder's get_perl_comment (POD blocks and `#` lines)."""
        code, comment = [], []
        inside = False
        for line in self.lines:
            s = line.strip()
            if s.startswith("=cut"):
                inside = False
                comment.append(line)
            elif s.startswith("="):
                inside = True
                comment.append(line)
            elif s.startswith("#") or inside:
                comment.append(line)
            else:
                code.append(line)
        return "".join(code), "".join(comment)


def python_text(source: str) -> str:
    """bigcode's get_text_python as OpenCoder calls it: docstrings (ast) + comments
    (tokenize, `#` removed), joined and stripped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            docs = "\n".join(_docstrings(source))
        except Exception:  # noqa: BLE001
            docs = ""
        try:
            toks = tokenize.generate_tokens(io.StringIO(source).readline)
            comments = [(t.type, t.string) for t in toks if t.type == tokenize.COMMENT]
            com = tokenize.untokenize(comments).replace("#", "")
        except Exception:  # noqa: BLE001
            com = ""
    return (docs + "\n" + com).strip()


_DOC_NODES = {ast.ClassDef: "Class", ast.FunctionDef: "Function/Method", ast.Module: "Module"}


def _docstrings(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, tuple(_DOC_NODES)):
            found.append((_DOC_NODES[type(node)], getattr(node, "name", None) or "", ast.get_docstring(node)))
    found.sort(key=lambda x: (x[0], x[1]))
    return [d for _, _, d in found if d]
