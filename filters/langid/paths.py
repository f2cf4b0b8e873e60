"""Programming language from a file's name, extension and shebang line.

Facts come from two places: pygments' lexer filename patterns (every lexer it ships,
renamed to Linguist-style names), and the small tables below, written after GitHub
Linguist's `languages.yml` (filenames, extensions, interpreters) where pygments is wrong
for code crawls (`.t`/`.pm` are Perl, not TADS 3 / Promela; `.m4`, `.svg`, `.map`...).
Extensions that name several languages map to a candidate tuple that the content
heuristics and the content model settle (`filters.langid.heuristics`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache, lru_cache

#: extension -> candidates, most common first (Linguist's heuristics.yml has the same sets)
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "h": ("C", "C++", "Objective-C"),
    "m": ("Objective-C", "MATLAB"),
    "pl": ("Perl", "Prolog"),
    "ts": ("TypeScript", "XML"),  # Qt Linguist translations are XML
    "v": ("Verilog", "Coq"),
    "t": ("Perl", "Raku"),
    "pm": ("Perl", "Raku"),
    "inc": ("PHP", "C"),
    "txt": ("Text", "reStructuredText", "XML"),  # settled by `heuristics.RULES["txt"]` (conclusive)
}

#: exact file names (Linguist `filenames`)
FILENAMES: dict[str, str] = {
    "Makefile": "Makefile", "makefile": "Makefile", "GNUmakefile": "Makefile",
    "Makefile.am": "Makefile", "Makefile.in": "Makefile", "Kbuild": "Makefile",
    "CMakeLists.txt": "CMake",
    "Dockerfile": "Dockerfile", "Containerfile": "Dockerfile",
    "Rakefile": "Ruby", "Gemfile": "Ruby", "Guardfile": "Ruby", "Vagrantfile": "Ruby",
    "Podfile": "Ruby", "Capfile": "Ruby",
    "SConstruct": "Python", "SConscript": "Python", "wscript": "Python", "BUILD.bazel": "Starlark",
    "WORKSPACE": "Starlark", "Jenkinsfile": "Groovy",
    "configure.ac": "M4Sugar",
    "go.mod": "Go Module", "go.sum": "Go Checksums", "go.work": "Go Workspace",
    "Cargo.lock": "TOML", "Pipfile": "TOML", "Pipfile.lock": "JSON",
    "package-lock.json": "JSON", "composer.lock": "JSON",
    "pom.xml": "XML",  # Linguist's "Maven POM" is a file-name class; by content it is XML
    ".gitignore": "Ignore List", ".npmignore": "Ignore List", ".dockerignore": "Ignore List",
    ".eslintignore": "Ignore List", ".prettierignore": "Ignore List",
    ".gitattributes": "Git Attributes", ".gitmodules": "Git Config", ".gitconfig": "Git Config",
    ".editorconfig": "EditorConfig",
    ".bashrc": "Shell", ".bash_profile": "Shell", ".profile": "Shell", ".zshrc": "Shell",
    "PKGBUILD": "Shell", "APKBUILD": "Shell",
    "requirements.txt": "Pip Requirements",
    "cabal.project": "Cabal Config",
    "meson.build": "Meson", "meson_options.txt": "Meson",
    "LICENSE": "Text", "COPYING": "Text", "AUTHORS": "Text", "NEWS": "Text", "THANKS": "Text",
    "ChangeLog": "Text", "README": "Text", "INSTALL": "Text", "TODO": "Text", "CHANGES": "Text",
    "LICENCE": "Text", "NOTICE": "Text", "CONTRIBUTORS": "Text", "MAINTAINERS": "Text",
    "copyright": "Text", "changelog": "Text", "Changes": "Text", "LICENSE-MIT": "Text",
    "LICENSE-APACHE": "Text", "COPYRIGHT": "Text", "license": "Text",
    "cpanfile": "Perl", ".eslintrc": "JSON with Comments", ".babelrc": "JSON with Comments",
    "tsconfig.json": "JSON with Comments", ".jshintrc": "JSON with Comments",
}

#: extensions (lower case, without the dot) where we override or extend pygments
EXTENSIONS: dict[str, str] = {
    "js": "JavaScript", "mjs": "JavaScript", "cjs": "JavaScript", "jsx": "JavaScript",
    "mts": "TypeScript", "cts": "TypeScript", "tsx": "TSX",
    "py": "Python", "pyi": "Python", "pyw": "Python", "pyx": "Cython", "pxd": "Cython",
    "c": "C", "cc": "C++", "cpp": "C++", "cxx": "C++", "c++": "C++", "hpp": "C++", "hh": "C++",
    "hxx": "C++", "h++": "C++", "inl": "C++", "ipp": "C++", "tcc": "C++", "tpp": "C++",
    "cu": "Cuda", "cuh": "Cuda", "mm": "Objective-C++",
    "m4": "M4", "ac": "M4Sugar", "am": "Makefile", "mk": "Makefile", "mak": "Makefile",
    "s": "Unix Assembly", "asm": "Assembly", "nasm": "Assembly",
    "svg": "SVG", "map": "JSON", "json": "JSON", "jsonc": "JSON with Comments", "json5": "JSON5",
    "geojson": "JSON", "webmanifest": "JSON", "jsonl": "JSON",
    "txt": "Text", "text": "Text", "md": "Markdown", "markdown": "Markdown", "mdx": "MDX",
    "rst": "reStructuredText", "adoc": "AsciiDoc", "asciidoc": "AsciiDoc", "org": "Org",
    "tf": "HCL", "hcl": "HCL", "tfvars": "HCL",
    "yml": "YAML", "yaml": "YAML", "toml": "TOML", "ini": "INI", "cfg": "INI",
    "properties": "Java Properties", "po": "Gettext Catalog", "pot": "Gettext Catalog",
    "gradle": "Groovy", "groovy": "Groovy", "kt": "Kotlin", "kts": "Kotlin",
    "sh": "Shell", "bash": "Shell", "zsh": "Shell", "ksh": "Shell", "fish": "fish",
    "bats": "Shell", "command": "Shell",
    "r": "R", "rd": "Rd", "rmd": "RMarkdown", "jl": "Julia",
    "hs": "Haskell", "lhs": "Literate Haskell", "cabal": "Cabal Config",
    "rs": "Rust", "go": "Go", "java": "Java", "scala": "Scala", "sc": "Scala",
    "rb": "Ruby", "gemspec": "Ruby", "rake": "Ruby", "php": "PHP", "phpt": "PHP",
    "lua": "Lua", "swift": "Swift", "dart": "Dart", "cs": "C#", "fs": "F#", "fsx": "F#",
    "ex": "Elixir", "exs": "Elixir", "erl": "Erlang", "hrl": "Erlang",
    "clj": "Clojure", "cljs": "Clojure", "el": "Emacs Lisp", "lisp": "Common Lisp",
    "scm": "Scheme", "rkt": "Racket", "ml": "OCaml", "mli": "OCaml",
    "sql": "SQL", "vue": "Vue", "svelte": "Svelte", "html": "HTML", "htm": "HTML", "xhtml": "HTML",
    "css": "CSS", "scss": "SCSS", "sass": "Sass", "less": "Less", "styl": "Stylus",
    "xml": "XML", "xsd": "XML", "xsl": "XSLT", "xslt": "XSLT", "dtd": "DTD", "plist": "XML Property List",
    "tex": "TeX", "sty": "TeX", "cls": "TeX", "bib": "BibTeX", "texi": "Texinfo", "texinfo": "Texinfo",
    "diff": "Diff", "patch": "Diff", "proto": "Protocol Buffer", "graphql": "GraphQL", "gql": "GraphQL",
    "dot": "Graphviz (DOT)", "gv": "Graphviz (DOT)", "cmake": "CMake", "dockerfile": "Dockerfile",
    "bat": "Batchfile", "cmd": "Batchfile", "ps1": "PowerShell", "psm1": "PowerShell",
    "vim": "Vim Script", "awk": "Awk", "sed": "sed", "tcl": "Tcl", "y": "Yacc", "yy": "Yacc",
    "l": "Lex", "ll": "Lex", "xs": "XS", "spec": "RPM Spec", "nix": "Nix", "zig": "Zig", "nim": "Nim",
    "d": "D", "v": "Verilog", "sv": "SystemVerilog", "vhd": "VHDL", "vhdl": "VHDL",
    "f": "Fortran", "f90": "Fortran", "f95": "Fortran", "for": "Fortran",
    "pas": "Pascal", "pp": "Pascal", "ada": "Ada", "adb": "Ada", "ads": "Ada",
    "csv": "CSV", "tsv": "TSV", "j2": "Jinja", "jinja": "Jinja", "jinja2": "Jinja",
    "mustache": "Mustache", "hbs": "Handlebars", "handlebars": "Handlebars",
    "coffee": "CoffeeScript", "elm": "Elm", "purs": "PureScript", "sol": "Solidity",
    "jq": "jq", "zsh-theme": "Shell", "n": "Roff",  # `.n`: Tcl/Tk man pages (pygments: Nemerle)
    "pem": "Text", "asc": "Text", "vcxproj": "XML", "vcproj": "XML", "csproj": "XML", "flow": "JavaScript",
}

#: extensions that name test expectations, logs and generated data rather than a language:
#: decided by the name (their text may look like anything: gawk's `.ok` files, sqlite's
#: expected outputs, `debian/*.symbols` lists), never guessed from content
DATA_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys(
        ["ok", "out", "expected", "stdout", "stderr", "golden", "result", "err", "trs"],
        "Test Output",
    ),
    "log": "Log",
    "symbols": "Symbols List",
}
#: classes a file name gives but content cannot (never labels of the content model)
DATA_CLASSES: tuple[str, ...] = tuple(sorted(set(DATA_EXTENSIONS.values())))

#: pygments lexer name -> Linguist-style name, where they differ
PYGMENTS_RENAME: dict[str, str] = {
    "Bash": "Shell", "Sh": "Shell", "Tcsh": "Tcsh", "Bash Session": "ShellSession",
    "GAS": "Unix Assembly", "NASM": "Assembly", "TASM": "Assembly",
    "Text only": "Text", "Groff": "Roff", "Base Makefile": "Makefile", "Docker": "Dockerfile",
    "Perl6": "Raku", "Terraform": "HCL", "LessCss": "Less", "Properties": "Java Properties",
    "CUDA": "Cuda", "Graphviz": "Graphviz (DOT)", "RPMSpec": "RPM Spec", "Sed": "sed",
    "VimL": "Vim Script", "Org Mode": "Org", "EmacsLisp": "Emacs Lisp", "Fish": "fish",
    "Systemd": "INI", "Matlab": "MATLAB", "Octave": "MATLAB", "Rocq Prover": "Coq",
    "verilog": "Verilog", "systemverilog": "SystemVerilog", "vhdl": "VHDL",
    "S": "R", "Delphi": "Pascal", "FortranFixed": "Fortran", "Transact-SQL": "TSQL",
    "MySQL": "SQL", "PostgreSQL SQL dialect": "PLpgSQL", "VB.net": "Visual Basic .NET",
    "HTML+Django/Jinja": "Jinja", "Django/Jinja": "Jinja", "Hspec": "Haskell",
    "Python 2.x": "Python", "Python Traceback": "Python traceback", "JSONLD": "JSON-LD",
    "Debian Control file": "Debian Control", "Debian Sourcelist": "Debian Sources",
    "PkgConfig": "Pkg-config", "ApacheConf": "ApacheConf", "Nginx configuration file": "Nginx",
    "Gettext Catalog": "Gettext Catalog", "Coffeescript": "CoffeeScript", "ReasonML": "Reason",
}

#: interpreter in a shebang line -> language (Linguist `interpreters`)
INTERPRETERS: dict[str, str] = {
    "python": "Python", "pypy": "Python", "sh": "Shell", "bash": "Shell", "dash": "Shell",
    "zsh": "Shell", "ksh": "Shell", "mksh": "Shell", "ash": "Shell", "perl": "Perl", "raku": "Raku",
    "ruby": "Ruby", "node": "JavaScript", "nodejs": "JavaScript", "deno": "TypeScript",
    "ts-node": "TypeScript", "php": "PHP", "lua": "Lua", "luajit": "Lua", "tclsh": "Tcl",
    "wish": "Tcl", "awk": "Awk", "gawk": "Awk", "mawk": "Awk", "nawk": "Awk", "make": "Makefile",
    "sed": "sed", "Rscript": "R", "runhaskell": "Haskell", "runghc": "Haskell", "stack": "Haskell",
    "escript": "Erlang", "elixir": "Elixir", "fish": "fish", "tcsh": "Tcsh", "csh": "Tcsh",
    "pwsh": "PowerShell", "julia": "Julia", "groovy": "Groovy", "scala": "Scala",
    "swift": "Swift", "osascript": "AppleScript", "guile": "Scheme", "racket": "Racket",
    "sbcl": "Common Lisp", "ocaml": "OCaml", "kotlin": "Kotlin", "dart": "Dart",
}

#: a shebang's interpreter: `#!/usr/bin/env -S python3 -u` -> `python3`
SHEBANG_REGEX = r"^#![ \t]*(?:\S*/)?(?:env[ \t]+(?:-\S+[ \t]+)*)?(?P<interp>[A-Za-z][\w.+-]*)"
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


@dataclass(frozen=True)
class PathGuess:
    """What a file name says: one language, or several candidates, or nothing."""

    lang: str | None
    candidates: tuple[str, ...] = ()
    source: str = ""  # "filename" | "extension" | "pygments" | ""
    ext: str = ""  # the extension that named the candidates (`h` for `config.h.in`)

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


@cache
def _dotless_patterns() -> tuple[str, ...]:
    """Pygments filename patterns that can match a name without a dot (`Makefile`, `*akefile`)."""
    from pygments.lexers._mapping import LEXERS

    return tuple(sorted({pat for entry in LEXERS.values() for pat in entry[3] if "." not in pat}))


@cache
def _pygments_patterns() -> tuple[frozenset[str], re.Pattern | None] | None:
    """Pygments' filename patterns as (suffixes of the `*.ext` ones, one regex for the rest),
    or None when plugin lexers are installed (their patterns are not in the mapping)."""
    from pygments.lexers._mapping import LEXERS
    from pygments.plugin import find_plugin_lexers

    if next(iter(find_plugin_lexers()), None) is not None:
        return None
    pats = {pat for entry in LEXERS.values() for pat in entry[3]}
    glob = re.compile(r"[*?\[]")
    suffixes = frozenset(p[1:] for p in pats if p.startswith("*.") and not glob.search(p[1:]))
    rest = sorted(p for p in pats if not (p.startswith("*.") and not glob.search(p[1:])))
    # pygments matches re.compile(fnmatch.translate(pat)).match(name) per pattern (case-sensitive)
    return suffixes, re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in rest)) if rest else None


def _pygments_may_match(filename: str) -> bool:
    """False only when no pygments filename pattern matches `filename` (a bare name), so
    `find_lexer_class_for_filename` would return None; True when one may match."""
    pats = _pygments_patterns()
    if pats is None or "/" in filename or "\\" in filename:
        return True
    suffixes, rest = pats
    if any(filename[i:] in suffixes for i, c in enumerate(filename) if c == "."):
        return True
    return rest is not None and rest.match(filename) is not None


def warm() -> None:
    """Load pygments' lexer table and compile every lexer's filename patterns, which the
    first `find_lexer_class_for_filename` call does, and the prefilter's (~0.06 CPU-s)."""
    from pygments.lexers import find_lexer_class_for_filename

    _dotless_patterns()
    _pygments_patterns()
    find_lexer_class_for_filename("warm.py")


@cache
def _pygments_lang(filename: str) -> str | None:
    from pygments.lexers import find_lexer_class_for_filename
    from pygments.util import ClassNotFound

    if "." not in filename and not any(fnmatch.fnmatchcase(filename, p) for p in _dotless_patterns()):
        return None  # pygments would scan ~600 lexers to find nothing (~2 ms per distinct name)
    if not _pygments_may_match(filename):
        return None  # same answer without the scan: 817 of dev's 829 distinct names, 0.27 CPU-s

    try:
        cls = find_lexer_class_for_filename(filename)
    except ClassNotFound:
        return None
    if cls is None:
        return None
    return PYGMENTS_RENAME.get(cls.name, cls.name)


@lru_cache(maxsize=1 << 16)
def guess_from_filename(filename: str) -> PathGuess:
    """Language of a bare file name (no directories). Cached per distinct name."""
    if not filename:
        return PathGuess(None)
    if filename in FILENAMES:
        return PathGuess(FILENAMES[filename], (FILENAMES[filename],), "filename")
    if "." not in filename.lstrip("."):
        lang = _pygments_lang(filename)
        return PathGuess(lang, (lang,) if lang else (), "pygments" if lang else "")
    stem, ext = filename.rsplit(".", 1)
    ext = ext.lower()
    if ext == "in" and stem:  # autoconf/automake templates: config.h.in, foo.pc.in
        inner = guess_from_filename(stem)
        if inner.lang or inner.candidates:
            return inner
    if ext in DATA_EXTENSIONS:
        return PathGuess(DATA_EXTENSIONS[ext], (DATA_EXTENSIONS[ext],), "extension")
    if ext in AMBIGUOUS:
        cands = AMBIGUOUS[ext]
        return PathGuess(cands[0], cands, "extension", ext)
    if ext in EXTENSIONS:
        return PathGuess(EXTENSIONS[ext], (EXTENSIONS[ext],), "extension")
    if re.fullmatch(r"[1-9][a-z]?", ext):  # man pages: foo.1, foo.3ssl
        return PathGuess("Roff", ("Roff",), "extension")
    # by extension only: one pygments scan (~1 ms) per distinct extension, not per file name
    lang = _pygments_lang("x." + ext)
    return PathGuess(lang, (lang,) if lang else (), "pygments" if lang else "")


def lang_for_interpreter(interp: str) -> str | None:
    """`python3.11` -> Python, `bash` -> Shell; None when unknown."""
    if not interp:
        return None
    if interp in INTERPRETERS:
        return INTERPRETERS[interp]
    return INTERPRETERS.get(_VERSION_SUFFIX.sub("", interp))
