"""Content-only evidence that settles what the content model's bag of n-grams confuses.

The fastText model reads a bag of tokens and n-grams; a few languages are told apart by one
unmistakable construct that a bag of words dilutes (a diff's hunk header, C++'s `std::`,
CommonJS' `module.exports`, TypeScript's `declare`, Perl's `my $x`). `refine_prediction`
runs after the model on the same text prefix, content only (it never looks at a path):

  1. `magic_lang`: a shebang line, a zsh completion tag (`#compdef`), an Emacs/Vim modeline,
     or a marker no other language writes (Tcl's `do_test`/`finish_test`) names the language
     outright (score 1.0);
  2. `CONTENT_RULES`, in order: each moves an answer from the languages the model is known
     to confuse with the rule's language, when its pattern matches and its veto does not
     (score `RULE_SCORE`).

Every pattern is one RE2 regex run by Arrow over the rows concerned (no per-row Python).
Rules were chosen on the dev split of the registry corpus (`filters.langid.train`), never on
its test split; `benchmarks/langid_accuracy.py` shows what they change.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from codesieve.filters.langid.paths import SHEBANG_REGEX, lang_for_interpreter

_PY_CODE = r"^(import [\w.]+|from [\w.]+ import |def \w+\(|class \w+[(:]|if __name__ == )"
_CPP = (
    r"(?m)(^\s*(template\s*<|namespace\s+\w+\s*\{|using\s+namespace\s|#\s*include\s*<(iostream|string|vector|memory|"
    r"map|algorithm|cstdint|cstdio|cstdlib|cstring|cmath|type_traits|utility|functional|array|tuple|mutex|thread|"
    r"sstream|fstream|set|unordered_map|unordered_set|limits|iomanip|stdexcept)>|#\s*include\s*[<\"][^>\"\n]+\.(hpp|hh|hxx)[>\"])|"
    # `a::b(` on a code line (a `::` in a comment or string is Tcl / Perl / Ruby talk in C sources),
    # `nullptr` outside a `#define` (bison's C parsers define YY_NULLPTR as nullptr for C++):
    # train + dev C files matched 174 -> 89 (most of the rest are C++ headers labelled C), C++ 4614 -> 4559
    r"\bstd::\w|^[^\"\n/*#]*\b\w+::~?\w+\s*[(<;]|^[ \t]*[^#\s][^\n]*\bnullptr\b)"
)
_PROSE_FROM = ("Text", "Shell", "Haskell", "Python", "Go", "reStructuredText")

_PERL = (
    r"(?m)^\s*use\s+(strict|warnings|v?5[\d.]*|lib|vars|constant|utf8|[A-Z]\w*(::\w+)+)\b|^\s*(my|our)\s+[$@%]\w+|"
    r"^\s*sub\s+\w+\s*\{|^\s*package\s+\w+(::\w+)*\s*;|^=(head[1-4]|pod|over|cut)\b|^__(END|DATA)__\s*$|"
    r"\$\w+\s*=~\s*[ms]?/|\$\w+->\{"
)
_SHELL = r"(?m)^\s*(fi|esac|done|then)\s*(;.*)?$|^\s*(if|elif|while)\s+\[\[?\s|^\s*case\s+\S+\s+in\s*$"
_TS = (
    r"(?m)^\s*(export\s+)?(default\s+)?(declare\s+(module|namespace|global|class|function|const|let|var|type|"
    r"interface|enum|abstract)\b|interface\s+[\w$]+\s*(<[^>\n]*>)?\s*(extends\s[^{\n]*)?\{|type\s+[\w$]+\s*(<[^>\n]*>)?\s*=|"
    r"(const\s+)?enum\s+\w+\s*\{|abstract\s+class\s)|^\s*(import|export)\s+type\s|"
    r"^\s*(public|private|protected|readonly)\s+(readonly\s+)?[\w$]+\s*[?!]?\s*:|"
    # the two annotations below on a code line: JSDoc (` * @param {(a: number) => void}`) and `//`
    # comments write them in JavaScript too (train + dev: JavaScript files matched 36 -> 4, TypeScript 1684 -> 1679)
    r"^[ \t]*[^*/\s][^\n]*\)[ \t]*:[ \t]*((string|number|boolean|void|any|unknown|never)(\[\])?\s*(\{|;|=>|,|\)|\||$)|Promise<)|"
    r"^[ \t]*[^*/\s][^\n]*\b[\w$]+\??[ \t]*:[ \t]*(string|number|boolean|any|unknown)(\[\])?\s*[;,)=]|"
    # `export { X, type Y }`: type-only names in an import / export list
    r"^\s*(import|export)\s*\{[^}]*\btype\s+[\w$]+\s*[,}]|"
    # a declaration file's own source map comment
    r"^//# sourceMappingURL=\S*\.d\.[cm]?ts\.map\s*$"
)
#: TypeScript-only syntax beyond `_TS` (JavaScript has none of it): typed parameters and
#: variables, return types, generics on declarations, `as T` casts, `implements`, `x!.y`,
#: parameter properties, `import x = require(...)`; a typed parameter only on a code line, not in
#: JSDoc (train + dev: JavaScript files matched 37 -> 21, TypeScript 1715 -> 1713)
_TS_ANY = (
    _TS + r"|^[ \t]*[^*/\s][^\n]*\([ \t]*[\w$]+\??[ \t]*:[ \t]*(string|number|boolean|any|unknown|[A-Z][a-z][\w$.]*(<|\[\]|\s*[,)=|]))|"
    r"\b(let|const|var)\s+[\w$]+\s*:\s*(string|number|boolean|any|unknown|[A-Z][a-z][\w$.]*)\b|"
    r"\)\s*:\s*[A-Z][a-z][\w$.]*(<[^>\n]*>)?(\[\])?\s*(\{|=>)|\b(function|class|interface)\s+[\w$]+\s*<[\w$]|"
    r"[\w$\])]\s+as\s+((const|any|unknown|string|number|boolean)\b|[A-Z][a-z][\w$.]*\s*[<\[);,])|"
    r"\bimplements\s+[A-Z][a-z]|[\w$)\]]!\.[\w$]|constructor\s*\(\s*(private|public|protected|readonly)\s|"
    r"^\s*import\s+[\w$]+\s*=\s*require\("
)
_SCSS_LINES = (
    r"(?m)^\s*(@include\s+[\w-]+|@mixin\s+[\w-]+|@function\s+[\w-]+\s*\(|@return\s|@if\s|@each\s|"
    r"\$[\w-]+\s*:\s*[^;\n]+;)"
)
_SASS_ANY = (
    r"(?m)\$[\w-]+\s*:|@(mixin|include|extend|if|else|each|for|while|function|return|use|forward|debug|warn|error)\b|"
    r"#\{|^\s*&|^\s*//|^\s*%[\w-]+\s*\{"
)
_C_ONLY = (
    r"(?m)^\s*#\s*include\s*<(stdio|stdlib|string|unistd|stdint|stddef|errno|assert|fcntl|signal|ctype|"
    r"sys/\w+)\.h>|\bmalloc\s*\(|\btypedef\s+struct\b|^\s*struct\s+\w+\s*\*?\s*\w+\s*\("
)
_CPP_MORE = r"|^\s*class\s+\w+|\bvirtual\b|^\s*(public|private|protected)\s*:|\btemplate\b|\boperator\b|\bthis->|\bcout\b"
_MD_MARKUP = (
    r"(?m)^\s*```|\]\(|\]\[|^\[[^\]\n]+\]:\s|^#{1,6} \S|^(={3,}|-{3,})\s*$|^\s*[-*+] \S|^\s*\d+\. \S|"
    r"\*\*\S|`[^`\n]+`|^\|.*\|\s*$|^>\s|<(br|img|div|p|a|details)\b"
)
_JAVA_DECL = r"(?m)^\s*package\s+[a-z]\w*(\.[a-z]\w*)*\s*;|^\s*import\s+(static\s+)?[a-z]\w*(\.\w+)+(\.\*)?\s*;"
#: a text of only `import` / `export` lines (and `//` comments), with at least one `import`
_IMPORT_EXPORT_ONLY = (
    r"\A\x{FEFF}?(?:[ \t]*(?://[^\n]*|(?:import|export)\b[^\n]*)?\r?\n)*?[ \t]*import\b[^\n]*\n"
    r"(?:[ \t]*(?://[^\n]*|(?:import|export)\b[^\n]*)?\r?\n)*[ \t]*(?:(?:import|export)\b[^\n]*)?\z"
)
_MD_EXCLUDE = r"(?m)^#!|" + _PY_CODE + r"|^\.\. [\w|-]+::"
_GHERKIN = (
    r"(?m)\A\x{FEFF}?(?:[ \t]*(?:#[^\n]*|@[^\n]*)?\r?\n)*[ \t]*(?:Feature|Ability|Business Need):[^\n]*\n(?s:.*)"
    r"^[ \t]*(?:Background|Scenario|Scenario Outline|Scenario Template|Example|Rule|Given|When|Then)\b"
)
#: YAML front matter (`---` ... `---`) whose body opens like a document, not like another YAML
#: document: a heading, markup, a template tag, or a line without a `key:` colon
_FRONT_MATTER_DOC = (
    r"\A\x{FEFF}?---[ \t]*\r?\n(?:[^\n]*\n){0,60}?---[ \t]*\r?\n\s*"
    r"(?:#{1,6}[ \t]|<[A-Za-z!]|\{[%{]|!?\[|[*>|]|[^\s:#\-][^\n:]*(?:\n|\z))"
)
#: what may precede an XML root element: a declaration, comments, a DOCTYPE, processing instructions
_XML_PROLOG = (
    r"\A\x{FEFF}?\s*(?:<\?xml[^>]*>\s*)?(?:<!--(?s:.*?)-->\s*|<!DOCTYPE[^>\[]*(?:\[(?s:.*?)\])?\s*>\s*|"
    r"<\?[\w-]+[^>]*\?>\s*)*"
)
_HTML_ELEMENTS = (
    "html|head|body|div|span|p|a|table|tr|td|th|ul|ol|li|br|hr|script|style|h[1-6]|form|img|meta|link|section|nav|"
    "header|footer|main|article|template|button|input|label|svg|b|i|em|strong|code|pre|iframe|select|option|"
    "textarea|dl|dt|dd|blockquote|center|font|title|noscript|object|small|sup|sub|tt|u|canvas|video|audio|picture|"
    "details|summary|dialog|aside|figure|fieldset|legend|map|area|base|frameset|frame|caption|col|colgroup|thead|"
    "tbody|tfoot|abbr|address|cite|del|ins|kbd|mark|q|s|samp|var|wbr|slot|output|progress|meter|menu|ruby"
)
#: markup whose root element (after the prolog) is not an HTML element
_XML_ROOT_ELEMENT = _XML_PROLOG + r"<[A-Za-z_][\w:.-]*[\s>/]"
_HTML_ROOT = rf"(?i){_XML_PROLOG}<(?:{_HTML_ELEMENTS})[\s>/]|<!doctype\s+html|<html\b|<\?php"

class Rule(NamedTuple):
    """Moves an answer in `from_langs` (None: any) to `lang` when `pattern` matches and `veto` does not."""

    lang: str
    from_langs: tuple[str, ...] | None
    pattern: str
    veto: str | None = None
    #: match on the first `LONG_WINDOW` code points instead of the model's prefix (C vs C++:
    #: a header's first `class`/`namespace` often comes after a page of includes and macros)
    long: bool = False


#: code points the `long` rules read
LONG_WINDOW = 16384

_RULES: list[tuple] = [
    # a unified diff's hunk header
    ("Diff", None, r"(?m)^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", None),
    # a JSON document: an object whose first key is a string, or an array of JSON values
    # (`[[` only when a value follows: TOML's `[[bin]]` is not JSON)
    (
        "JSON",
        None,
        r"^\x{FEFF}?\s*(\{\s*(\"|\}\s*$)|\[\s*(\"|-?\d|\{|\]|true\b|false\b|null\b|\[\s*(\"|-?\d|\{|\[|\]|true\b|false\b|null\b)))",
        None,
    ),
    # C preprocessor lines at the start of a line: C-family, whatever else the tokens suggest
    # (a licence header of `**` lines reads as Markdown to the model)
    ("C", ("Rust", "Go", "JavaScript", "TypeScript", "Java", "Shell", "Text", "PHP", "Markdown", "INI", "TOML",
           "YAML", "Tcl", "Ruby", "Perl", "Python", "Makefile", "CMake"),
     r"(?m)^#(include\s*[<\"]|define\s+\w+|ifn?def\s+\w+|endif\b)",
     r"(?m)^\s*(import|from)\s+[\w.]+|<\?php|^\s*(```|~~~)"),
    ("C++", ("C",), _CPP, None, True),
    ("C++", ("Java",), r"(?m)^\s*#\s*include\b|\bstd::\w|using\s+namespace\s", None),
    # an XML declaration opens an XML document (SVG and XHTML keep their own class)
    ("XML", None, r"\A\x{FEFF}?\s*<\?xml\b", r"(?i)<svg\b|<!doctype\s+html|<html\b"),
    # markup that holds CDATA sections, or opens with a root element and names no HTML element, is XML
    ("XML", ("HTML", "Text", "Perl", "Markdown", "JavaScript", "TypeScript", "PHP", "Java"),
     r"\A\x{FEFF}?\s*<[A-Za-z_][\w:.-]*[\s>/](?s:.*)<!\[CDATA\[", r"(?i)<!doctype\s+html|<html\b|<\?php|<script\b"),
    # markup whose root element is no HTML element (after a declaration / comments / DOCTYPE) is XML
    ("XML", ("HTML", "Text", "Perl", "Markdown", "JavaScript", "TypeScript", "Java", "C++"), _XML_ROOT_ELEMENT, _HTML_ROOT),
    (
        "JavaScript",
        ("C", "Java", "Go", "C++", "PHP", "Text"),
        (
            r"(?m)\bmodule\.exports\b|\bexports\.\w+\s*=|^\s*['\"]use strict['\"]|Mode: js\b|"
            r"^\s*(const|let|var)\s+\w+\s*=\s*require\(['\"]|^\s*import\s.*\sfrom\s+['\"]|"
            r"\bdocument\.getElementById\b|^;?\(function\s*\("
        ),
        r"(?m)<\?php|^package\s+\w+\s*$|^\s*#\s*include\b",
    ),
    # data exported from a CommonJS / ES module (a JSON text cannot hold such a line)
    (
        "JavaScript",
        ("JSON",),
        r"(?m)^\s*(module\.exports\s*=|exports\.[\w$]+\s*=|export\s+(default|const)\s)",
        None,
    ),
    # a text that opens with an ES module import (`import { a } from './a'`) is a module, whatever prose or
    # indented template strings follow (train + dev: 1640 TypeScript, 725 JavaScript files open so, no
    # other language); the next rule tells TypeScript from JavaScript
    ("JavaScript", ("Markdown", "Text", "Python"), r"\A\x{FEFF}?\s*import\s[^\n]*\sfrom\s+['\"]", None),
    # TypeScript a JavaScript reader misses: `.d.ts` declarations, interfaces, `: type` annotations
    ("TypeScript", ("JavaScript", "Text", "Java"), _TS, r"(?m)@flow\b|" + _JAVA_DECL),
    # "TypeScript" without any type syntax is JavaScript (compiled output, plain modules)
    ("JavaScript", ("TypeScript",), r"\A", "(?m)" + _TS_ANY, True),
    # a module of nothing but `import` / `export` lines (a bundled `.d.ts` barrel) is TypeScript
    # (train + dev: 211 TypeScript, 18 JavaScript files)
    ("TypeScript", ("JavaScript",), _IMPORT_EXPORT_ONLY, None, True),
    # `var x = [...]` is JavaScript, not Perl (`my $x`) or Ruby
    ("JavaScript", ("Perl", "Ruby", "Shell", "Text"), r"(?m)^\s*(var|let|const)\s+[\w$]+\s*=", _PERL),
    # Sass syntax: variables, mixins, nesting, `//` comments (none of them valid CSS)
    ("SCSS", ("CSS",), r"(?m)^\s*\$[\w-]+\s*:|@mixin\s|@include\s|^\s*&|#\{\$|^\s*//", None),
    # Sass statements at the start of a line (`@include x`, `$gap: 1rem;`) no programming language writes
    ("SCSS", ("Tcl", "C++", "C", "JavaScript", "Java", "Rust", "Go", "Perl", "Text"), _SCSS_LINES,
     r"(?m)^\s*(var|let|const|function|import|#\s*include|package|use|my|sub|proc)\b|require\("),
    # "SCSS" without any Sass syntax is CSS (every CSS file is valid SCSS)
    ("CSS", ("SCSS",), r"\A", _SASS_ANY, True),
    # a Java package declaration or `import a.b.C;` (train + dev: 800 of 803 Java files; else Perl's `package x;`)
    ("Java", ("Text", "TypeScript", "JavaScript", "C++", "C"), _JAVA_DECL, _PERL),
    # Python whose strings hold HTML / XML (test suites of parsers)
    ("Python", ("HTML", "XML"), "(?m)" + _PY_CODE, r"(?i)\A(\x{FEFF}|\s)*<(!doctype|html|\?xml)"),
    # Perl read as Shell / Ruby / prose: `my $x`, `use strict`, `sub f {`, POD
    ("Perl", ("Shell", "Ruby", "Text", "Markdown", "Diff", "Rust", "Python", "Makefile", "PHP"), _PERL, None),
    # a shell script the model took for Perl: `fi`/`esac`/`done` lines and no Perl construct
    ("Shell", ("Perl",), _SHELL, _PERL),
    # C the model took for C++: C headers / malloc / typedef struct and no C++ construct
    ("C", ("C++",), _C_ONLY, _CPP + _CPP_MORE, True),
    # ... or C preprocessor lines and C's empty parameter list `f(void)` (train + dev: 588 C files, 7 C++)
    ("C", ("C++",), r"(?m)^\s*#\s*(include|define)\b(?s:.*)\b\w+\s*\(\s*void\s*\)", _CPP + _CPP_MORE, True),
    # Python code after a long licence header (the model then sees mostly prose)
    ("Python", ("Text", "Markdown", "reStructuredText"), "(?m)" + _PY_CODE, r"(?m)^\s*(>>>|\$ |```)"),
    (
        "reStructuredText",
        ("Text", "Python", "Markdown"),
        (
            r"(?m)^\.\. ([\w|-]+::|_[\w -]+:)|:(func|class|meth|mod|ref|doc|attr|data|exc|pep|rfc):`|"
            r"^(={3,}|-{4,}|\*{3,}|~{3,})[ \t]*\n[^\n]+\n(={3,}|-{4,}|\*{3,}|~{3,})[ \t]*$"
        ),
        # a Python module's docstring holds the same markup
        r"(?m)^\s*```|\]\((https?:|\.{0,2}/|#)|\"\"\"|\'\'\'|" + _PY_CODE,
    ),
    # Markdown: a fenced code block, or an inline link / badge
    ("Markdown", _PROSE_FROM, r"(?m)^\s*```", _MD_EXCLUDE),
    ("Markdown", _PROSE_FROM, r"(?m)\]\((https?:|\.{0,2}/|#)[^)\s]*\)|^\[!\[", _MD_EXCLUDE),
    # "Markdown" without any Markdown markup is plain text
    ("Text", ("Markdown",), r"\A", _MD_MARKUP),
    # YAML front matter followed by a document body is Markdown (Jekyll / MkDocs pages, issue templates)
    ("Markdown", ("YAML", "Text", "Shell", "Python", "Ruby", "Perl", "CMake", "TOML", "reStructuredText"),
     _FRONT_MATTER_DOC, None),
    # a YAML mapping from the first line on (comments allowed): `key: value` x 3
    (
        "YAML",
        ("Markdown", "Shell", "Python", "reStructuredText"),
        r"\A(?:[ \t]*(?:#[^\n]*)?\n)*(?:[ \t]*[\w.-]+:(?:[ \t]+[^\n]*)?\n(?:[ \t]*(?:#[^\n]*)?\n)*){3}",
        "(?m)" + _PY_CODE,
    ),
    # Markdown section headings (`## Title`), unless the text reads as a script or Python
    (
        "Markdown",
        ("Text", "Shell", "Python", "Haskell"),
        r"(?m)^#{2,6} \S",
        _MD_EXCLUDE + r"|^\s*(if|fi|then|for|do|done|echo|export)\b",
    ),
]
CONTENT_RULES: list[Rule] = [Rule(*r) for r in _RULES]
#: probability reported for a prediction a rule or a shebang line settled (below the gate's
#: `mislabel_min_score`, so a rule alone never flags a path as mislabelled)
RULE_SCORE = 0.85


def _matches(texts: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(texts, pattern), False).to_numpy(zero_copy_only=False)


#: markers no other language writes (checked after a shebang line, before modelines)
MARKERS: list[tuple[str, str]] = [
    # a PHP file opens with its tag (templates that start with HTML are left to the model)
    ("PHP", r"\A\x{FEFF}?\s*<\?php\b"),
    # zsh completion functions and autoloaded functions (`_git`, `_docker`: no extension)
    ("Shell", r"\A#(compdef|autoload)\b"),
    # an X PixMap image is a C array behind its `/* XPM */` tag (train + dev: 16 files, all labelled C)
    ("C", r"\A\x{FEFF}?\s*/\*\s*XPM\s*\*/"),
    # a Gherkin feature file: `Feature:` as the first line after comments / tags, then a
    # scenario, background or step line (Cucumber's syntax; YAML cannot hold a bare `Given x` line)
    ("Gherkin", _GHERKIN),
    # Tcl test scripts (sqlite's `*.test`, tcltest suites)
    (
        "Tcl",
        r"(?m)^\s*(do_test|do_execsql_test|do_catchsql_test|do_eqp_test|finish_test)\b|"
        r"^\s*source\s+\$testdir/tester\.tcl\b|^\s*package\s+require\s+(Tcl|Tk|tcltest)\b|"
        r"^\s*(::tcltest::)?cleanupTests\b",
    ),
]
#: Emacs `-*- mode: tcl -*-` (first two lines) and Vim `vim: set ft=perl:` modelines
EMACS_MODELINE = r"\A(?:[^\n]*\n)?[^\n]*?-\*-(?:[^\n]*?;)?[ \t]*(?:mode:[ \t]*)?(?P<mode>[\w+-]+)[ \t]*(?:;|-\*-)"
VIM_MODELINE = r"(?m)(?:^|\s)(?:vim?|ex):[ \t]*(?:set?[ \t]+)?(?:[^\n]*?[ :])?(?:ft|filetype|syntax)=(?P<mode>[\w+-]+)"
#: modeline mode / filetype -> language
MODES: dict[str, str] = {
    "python": "Python", "perl": "Perl", "cperl": "Perl", "sh": "Shell", "shell-script": "Shell",
    "bash": "Shell", "zsh": "Shell", "ksh": "Shell", "tcl": "Tcl", "ruby": "Ruby", "c": "C",
    "c++": "C++", "cpp": "C++", "makefile": "Makefile", "make": "Makefile", "js": "JavaScript",
    "js2": "JavaScript", "javascript": "JavaScript", "typescript": "TypeScript",
    "lisp": "Common Lisp", "emacs-lisp": "Emacs Lisp", "scheme": "Scheme", "awk": "Awk",
    "m4": "M4", "autoconf": "M4", "html": "HTML", "xml": "XML", "nxml": "XML", "yaml": "YAML",
    "json": "JSON", "lua": "Lua", "java": "Java", "go": "Go", "rust": "Rust", "haskell": "Haskell",
    "erlang": "Erlang", "vim": "Vim Script", "tex": "TeX", "latex": "TeX", "markdown": "Markdown",
    "rst": "reStructuredText", "org": "Org", "nroff": "Roff", "php": "PHP", "sql": "SQL",
    "cmake": "CMake", "dosini": "INI", "fortran": "Fortran", "pascal": "Pascal", "objc": "Objective-C",
}


def _notnull(values: np.ndarray) -> np.ndarray:
    return np.asarray(values != None, dtype=bool)  # noqa: E711 (elementwise on an object array)


def _lookup(texts: pa.Array, regex: str, table) -> np.ndarray:
    """Language named by the first group of `regex`, via `table(key)`, once per distinct key."""
    keys = pc.struct_field(pc.extract_regex(texts, regex), [0])
    uniq = pc.unique(pc.drop_null(keys))
    if not len(uniq):
        return np.full(len(texts), None, dtype=object)
    langs = pa.array([table(k) for k in uniq.to_pylist()], pa.string())
    return np.array(pc.take(langs, pc.index_in(keys, uniq)).to_pylist(), dtype=object)


def magic_lang(texts: pa.Array) -> np.ndarray:
    """Language a text names itself (object array, None where it does not).

    In order: the shebang line's interpreter, a `MARKERS` pattern, an Emacs or Vim modeline.
    """
    out = _lookup(texts, SHEBANG_REGEX, lang_for_interpreter)
    for lang, pattern in MARKERS:
        todo = ~_notnull(out)
        if todo.any():
            out[todo & _matches(texts, pattern)] = lang
    for regex in (EMACS_MODELINE, VIM_MODELINE):
        todo = np.flatnonzero(~_notnull(out))
        if len(todo):
            out[todo] = _lookup(texts.take(pa.array(todo)), regex, lambda k: MODES.get(k.lower()))
    return out



def refine_prediction(
    texts: pa.Array, langs: list[str], score: np.ndarray, labels: list[str], long_texts: pa.Array | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Correct the content model's top-1 answers with `magic_lang` and `CONTENT_RULES`.

    `texts` is the prefix the model saw; `labels` the model's languages (a content rule only
    names one of them; `magic_lang` may name any language). Returns new (langs, score, named):
    `named` marks the answers a text gave itself (`magic_lang`). `long_texts` (default `texts`):
    the same documents' first `LONG_WINDOW` code points, for the `long` rules. Deterministic,
    content only.
    """
    if len(texts) == 0:
        return langs, score, np.zeros(0, dtype=bool)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    long_texts = texts if long_texts is None else long_texts
    if isinstance(long_texts, pa.ChunkedArray):
        long_texts = long_texts.combine_chunks()
    out = np.array(langs, dtype=object)
    score = score.copy()
    known = set(labels)
    # 1. a shebang line, a marker or a modeline names the language outright
    magic = magic_lang(texts)
    decided = _notnull(magic)
    out[decided], score[decided] = magic[decided], 1.0
    # 2. content rules, in order, each on the rows whose current answer it may move
    for lang, from_langs, pattern, veto, long in CONTENT_RULES:
        if lang not in known:
            continue
        elig = ~decided & (out != lang)
        if from_langs is not None:
            elig &= np.isin(out, list(from_langs))
        if not elig.any():
            continue
        rows = np.flatnonzero(elig)
        sub = (long_texts if long else texts).take(pa.array(rows))
        m = _matches(sub, pattern)
        if veto and m.any():
            m &= ~_matches(sub, veto)
        if m.any():
            out[rows[m]] = lang
            score[rows[m]] = RULE_SCORE
    return out.tolist(), score, decided
