"""OpenCoder's language-specific signals for C, C++, C#, Go, Java, JavaScript and HTML
(`qsc_codec_*`, `qsc_codecpp_*`, ...), ported faithfully (`oc_<lang>_*` rules).

Reference: OpenCoder-llm/opc_data_filtering @ 44b857e837a56d859906c83d0ec91b4d5ef5bcc9,
`quality_signals/code_specific/{c,c_plus,c_sharp,go,java,javascript,html}.py` and
`utils/code/{c,csharp,go,java,js,html}_utils.py`. The reference's regexes (module `regex`),
esprima for JavaScript and BeautifulSoup's html.parser for HTML are used as it uses them.
Ported as is, quirks included: the Go and C# "no variables" signals compare a list with
0 and so are always 0.0; the C preprocessor share counts `struct`/`using` lines too and is
None for headers. Regex searches the reference bounds with its 10 s per-signal timeout
give nan on timeout here as well.
"""

from __future__ import annotations

import regex

from codesieve.filters.rules.oc_doc import OCDoc
from codesieve.filters.rules.opencoder import Signal, _r

_TIMEOUT = 10  # seconds: the reference's per-signal timeout


def _findall(pattern: regex.Pattern, text: str) -> list:
    return pattern.findall(text, timeout=_TIMEOUT)


def _share(needles: tuple[str, ...]) -> Signal:
    """Share of code lines containing any of `needles` (case-sensitive); None for no lines."""

    def signal(d: OCDoc) -> float | None:
        if not d.code_lines:
            return None
        return _r(sum(1 for ln in d.code_lines if any(n in ln for n in needles)) / len(d.code_lines))

    return signal


def _per_line(counter) -> Signal:
    """count(d) / code lines, None for no code lines."""

    def signal(d: OCDoc) -> float | None:
        if not d.code_lines:
            return None
        return _r(counter(d) / len(d.code_lines))

    return signal


# --- C / C++ (utils/code/c_utils.py) ----------------------------------------------------
_C_FUNC = regex.compile(r"\b((?:[a-zA-Z_]\w*\s*(?:\*+)?\s+)+(?:\*?\s*[a-zA-Z_]\w*)\((?:[^)]*)\)\s*)")
_C_INCLUDE = regex.compile(r'^\s*#\s*include\s+["<][^">]+[">]', regex.MULTILINE)
_C_CLASS = regex.compile(r"^\s*class\s+\w+\s*(:[^{]*)?\{", regex.MULTILINE)
_C_SIMPLE_VAR = regex.compile(
    r"^\s*(?:unsigned\s+)?(?:int|float|double|char|bool|std::string|auto)\s+\w+\s*;", regex.MULTILINE
)
_C_SIMPLE_RET = regex.compile(
    r"^\s*return\s*(?:(\w+|\d+|\"(?:[^\"\\]|\\.)*\"|\'(?:[^\'\\]|\\.)*\'|true|false|nullptr)\s*)?;\s*$",
    regex.MULTILINE,
)
_C_MAIN = regex.compile(r"\bmain\s*\([^)]*\)\s*\{")
_C_DIRECTIVES = [regex.compile(p) for p in (
    r"#\s*include", r"#\s*define", r"#\s*if", r"#\s*ifdef", r"#\s*ifndef", r"#\s*else", r"#\s*elif",
    r"#\s*endif", r"#\s*error", r"#\s*pragma", r"#\s*warning", r"#\s*undef", r"#\s*line", r"struct", r"using",
)]
_HEADER_EXTS = ("h", "hpp", "hxx", "hh", "h++")


def c_func_ratio(d: OCDoc) -> float | None:
    if not d.code_lines:
        return None
    return _r(len(_findall(_C_FUNC, d.code)) / len(d.code_lines))


def c_main(d: OCDoc) -> float | None:
    return float(len(_findall(_C_MAIN, d.code)))


def c_no_logic(d: OCDoc) -> float | None:
    if not d.code_lines:
        return None
    n = sum(len(_findall(p, d.code)) for p in (_C_FUNC, _C_INCLUDE, _C_SIMPLE_VAR, _C_SIMPLE_RET, _C_CLASS))
    return _r(n / len(d.code_lines))


def c_preprocessor(d: OCDoc) -> float | None:
    if d.extension in _HEADER_EXTS or not d.code_lines:
        return None
    hits = sum(1 for ln in d.code_lines if any(p.search(ln) for p in _C_DIRECTIVES))
    return _r(hits / len(d.code_lines))


# --- C# (utils/code/csharp_utils.py) ----------------------------------------------------
_CS_FUNC = regex.compile(
    r"^\s*((?:(?:public|protected|private|internal)\s+)?(?:(?:static|virtual|override|abstract|async)\s+)?"
    r"(?:(?!\s*(?:public|private|protected|if|else)\s*)(?:<\w+>)?\s*\w+\s+)(?:\w+\s*)(?:\((?:[^\)]*)\)))",
    regex.MULTILINE,
)
_CS_USING = regex.compile(r"^\s*using\s+[a-zA-Z0-9_.]+\s*;", regex.MULTILINE)
_CS_CLASS = regex.compile(r"\b(?:public|private|protected|internal|static|abstract|sealed)?\s*class\s+\w+", regex.MULTILINE)
_CS_RET = regex.compile(r"^\s*return\b(?:\s+[^;\n]+)?\s*;", regex.MULTILINE)
_CS_SIMPLE_VAR = regex.compile(
    r"\b(?:int|float|double|char|string|bool|byte|sbyte|short|ushort|uint|long|ulong|decimal)\s+\w+\s*;",
    regex.MULTILINE,
)

# --- Go (utils/code/go_utils.py) --------------------------------------------------------
_GO_FUNC = regex.compile(
    r"(^func\s+(?:\(\s*\w+\s+\*?\w+\s*\))?\s*(?:\w+)\s*\((?:[^)]*)\)\s*(?:\([^)]+\)|[\w\[\]]+)?\s*)",
    regex.MULTILINE,
)
_GO_CLASS = regex.compile(r"^\s*type\s+\w+\s+(struct|interface)\s*\{[^}]*\}", regex.MULTILINE | regex.DOTALL)
_GO_RET = regex.compile(r"^\s*return(?:\s+[^;\n]+)?\s*;?\s*$", regex.MULTILINE)
_GO_SIMPLE_VAR = regex.compile(r"^\s*var\s+(\w+)\s+(\w+)\s*;?\s*$", regex.MULTILINE)
_GO_IMPORT = regex.compile(r'^import\s+"[^"]+"$')


def _go_imports(code: str) -> int:
    """go_utils.find_imports: its multi-line flag is reset on every line, so only
    single-line imports and `import (` lines count."""
    return sum(1 for ln in code.split("\n") if _GO_IMPORT.match(ln.strip()) or ln.strip() == "import (")


# --- Java (utils/code/java_utils.py) ----------------------------------------------------
_JAVA_FUNC = regex.compile(
    r"^\s*((?:(?:public|protected|private|static)\s+)*(?:(?!\s*(?:public|private|protected|else|if)\s*)"
    r"(?:<\w+>)?\s*\w+\s+)(?:\w+\s*)(?:\((?:[^\)]*)\))(?:\s*throws\s+[\w\, ]+)?)",
    regex.MULTILINE,
)
_JAVA_IMPORT = regex.compile(r"^\s*import\s+([\w\.\*]+)\s*;\s*$", regex.MULTILINE)
_JAVA_SIMPLE_VAR = regex.compile(
    r"^\s*((?:(?:public|protected|private|final|static)\s+)*(?:int|float|boolean|char|double|String|"
    r"(?:[A-Z][\w<>]*))\s+(\w+)\s*;)",
    regex.MULTILINE,
)
_JAVA_VAR = regex.compile(
    r"^\s*((?:(?:public|protected|private|final|static)\s+)*(?:int|float|boolean|char|double|String|"
    r"(?:[A-Z][\w<>]*))\s+(?:\w+)\s*(?:\s*=\s*[^;]+)?;)",
    regex.MULTILINE,
)
_JAVA_RET = regex.compile(
    r"^\s*(return(?:;|\s+(?:\w*|\"(?:[^\"\\]*(?:\\.[^\"\\]*)*)\")\s*;\s*))$", regex.MULTILINE
)
_JAVA_CLASS = regex.compile(
    r"^\s*((?:public\s+|protected\s+|private\s+)?(?:final\s+|abstract\s+)?class\s+([\w<>]+))", regex.MULTILINE
)


def _count(*patterns: regex.Pattern) -> Signal:
    return _per_line(lambda d: sum(len(_findall(p, d.code)) for p in patterns))


def _go_no_logic(d: OCDoc) -> float:
    return sum(len(_findall(p, d.code)) for p in (_GO_FUNC, _GO_SIMPLE_VAR, _GO_RET, _GO_CLASS)) + _go_imports(
        d.code
    )


def _always_zero(d: OCDoc) -> float | None:
    """The reference's `float(find_variables(...) == 0)`: a list never equals 0."""
    return 0.0


def java_var_zero(d: OCDoc) -> float | None:
    return float(len(_findall(_JAVA_VAR, d.code)) == 0)


def go_testfile(d: OCDoc) -> float | None:
    return _r(float(d.filename.lower().endswith("_test.go")))


#: rule name -> (signal, reference name, native languages)
LANG_SIGNALS: dict[str, tuple[Signal, str, tuple[str, ...]]] = {
    "oc_c_func_ratio": (c_func_ratio, "qsc_codec_frac_lines_func_ratio", ("C",)),
    "oc_c_main_count": (c_main, "qsc_codec_nums_lines_main", ("C",)),
    "oc_c_no_logic": (c_no_logic, "qsc_codec_score_lines_no_logic", ("C",)),
    "oc_c_preprocessor_fraction": (c_preprocessor, "qsc_codec_frac_lines_preprocessor_directives", ("C",)),
    "oc_c_print_fraction": (_share(("printf",)), "qsc_codec_frac_lines_print", ("C",)),
    "oc_cpp_func_ratio": (c_func_ratio, "qsc_codecpp_frac_lines_func_ratio", ("C++",)),
    "oc_cpp_main_count": (c_main, "qsc_codecpp_nums_lines_main", ("C++",)),
    "oc_cpp_no_logic": (c_no_logic, "qsc_codecpp_score_lines_no_logic", ("C++",)),
    "oc_cpp_preprocessor_fraction": (c_preprocessor, "qsc_codecpp_frac_lines_preprocessor_directives", ("C++",)),
    "oc_cpp_print_fraction": (_share(("cout", "printf")), "qsc_codecpp_frac_lines_print", ("C++",)),
    "oc_csharp_func_ratio": (_count(_CS_FUNC), "qsc_codecsharp_frac_lines_func_ratio", ("C#",)),
    "oc_csharp_var_zero": (_always_zero, "qsc_codecsharp_cate_var_zero", ("C#",)),
    "oc_csharp_no_logic": (
        _count(_CS_FUNC, _CS_USING, _CS_SIMPLE_VAR, _CS_RET, _CS_CLASS), "qsc_codecsharp_score_lines_no_logic", ("C#",)
    ),
    "oc_csharp_print_fraction": (_share(("Console.WriteLine",)), "qsc_codecsharp_frac_lines_print", ("C#",)),
    "oc_go_test_file": (go_testfile, "qsc_codego_cate_testfile", ("Go",)),
    "oc_go_func_ratio": (_count(_GO_FUNC), "qsc_codego_frac_lines_func_ratio", ("Go",)),
    "oc_go_var_zero": (_always_zero, "qsc_codego_cate_var_zero", ("Go",)),
    "oc_go_no_logic": (_per_line(_go_no_logic), "qsc_codego_score_lines_no_logic", ("Go",)),
    "oc_go_print_fraction": (_share(("fmt.Print",)), "qsc_codego_frac_lines_print", ("Go",)),
    "oc_java_var_zero": (java_var_zero, "qsc_codejava_cate_var_zero", ("Java",)),
    "oc_java_func_ratio": (_count(_JAVA_FUNC), "qsc_codejava_frac_lines_func_ratio", ("Java",)),
    "oc_java_no_logic": (
        _count(_JAVA_FUNC, _JAVA_IMPORT, _JAVA_SIMPLE_VAR, _JAVA_RET, _JAVA_CLASS),
        "qsc_codejava_score_lines_no_logic",
        ("Java",),
    ),
    "oc_java_print_fraction": (_share(("System.out.print",)), "qsc_codejava_frac_lines_print", ("Java",)),
}


# --- JavaScript (utils/code/js_utils.py: esprima) ---------------------------------------


class _ParseCrash(Exception):
    """esprima raised something other than esprima.Error: every JS signal is None."""


def js_ast(d: OCDoc):
    """parse_js: module mode when the text mentions import/export (script mode if that
    fails), else script mode; None when esprima rejects the text."""
    if "js_ast" not in d.cache:
        import esprima

        try:
            try:
                if "import" in d.text or "export" in d.text:
                    try:
                        tree = esprima.parseModule(d.text)
                    except esprima.Error:
                        tree = esprima.parseScript(d.text)
                else:
                    tree = esprima.parseScript(d.text)
            except esprima.Error:
                tree = None
        except Exception:  # noqa: BLE001  (the reference's signal fails: None)
            tree = _ParseCrash
        d.cache["js_ast"] = tree
    if d.cache["js_ast"] is _ParseCrash:
        raise _ParseCrash
    return d.cache["js_ast"]


_SIMPLE_TYPES = ("Literal", "Identifier", "UnaryExpression")


def _is_exports(node) -> bool:
    left = node.left
    return (
        left.type == "MemberExpression"
        and left.object.type == "MemberExpression"
        and left.object.object.name == "module"
        and left.object.property.name == "exports"
    )


def js_counts(d: OCDoc) -> dict[str, int]:
    """One walk of the esprima tree counting what js_utils' find_* functions collect."""
    if "js_counts" in d.cache:
        return d.cache["js_counts"]
    import esprima

    fn_expr, node_cls = esprima.nodes.FunctionExpression, esprima.nodes.Node
    c = dict.fromkeys(("variables", "simple_variables", "functions", "classes", "returns", "imports"), 0)
    stack = [js_ast(d)]
    while stack:
        node = stack.pop()
        t = node.type
        if t == "VariableDeclaration":
            for dec in node.declarations:
                if not dec:
                    continue
                is_fn = isinstance(dec.init, fn_expr)
                c["variables"] += bool(dec.id.name and not is_fn)
                c["simple_variables"] += not is_fn and (dec.init is None or dec.init.type in _SIMPLE_TYPES)
                c["functions"] += bool(is_fn and dec.id and dec.id.name)
        elif t == "FunctionDeclaration":
            c["functions"] += bool(node.id and node.id.name)
        elif t == "AssignmentExpression" and _is_exports(node):
            name, rt = node.left.property.name, node.right.type
            is_fn = rt in ("FunctionExpression", "ArrowFunctionExpression")
            c["variables"] += bool(name and not is_fn)
            c["simple_variables"] += bool(name and not is_fn and rt in _SIMPLE_TYPES)
            c["functions"] += bool(name and is_fn)
        elif t == "ReturnStatement":
            c["returns"] += node.argument is None or node.argument.type in _SIMPLE_TYPES
        elif t == "ImportDeclaration":
            c["imports"] += 1
        if isinstance(node, esprima.nodes.ClassDeclaration) and node.id and node.id.name:
            c["classes"] += 1
        for value in vars(node).values():
            if isinstance(value, node_cls):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, node_cls))
    d.cache["js_counts"] = c
    return c


def js_parses(d: OCDoc) -> float | None:
    return float(bool(js_ast(d)))


def js_var_zero(d: OCDoc) -> float | None:
    return None if js_ast(d) is None else float(js_counts(d)["variables"] == 0)


def js_func_ratio(d: OCDoc) -> float | None:
    if not d.code_lines or js_ast(d) is None:
        return None
    return _r(js_counts(d)["functions"] / len(d.code_lines))


def js_no_logic(d: OCDoc) -> float | None:
    if not d.code_lines or js_ast(d) is None:
        return None
    c = js_counts(d)
    n = c["functions"] + c["imports"] + c["simple_variables"] + c["returns"] + c["classes"]
    return _r(n / len(d.code_lines))


# --- HTML (utils/code/html_utils.py: BeautifulSoup, html.parser) ------------------------


def html_text(d: OCDoc) -> str | None:
    if "html_text" not in d.cache:
        from bs4 import BeautifulSoup

        try:
            d.cache["html_text"] = BeautifulSoup(d.text, features="html.parser").get_text()
        except Exception:  # noqa: BLE001  (parse_html: None)
            d.cache["html_text"] = None
    return d.cache["html_text"]


def html_parses(d: OCDoc) -> float | None:
    return float(html_text(d) is not None)


def html_text_fraction(d: OCDoc) -> float | None:
    text = html_text(d)
    return None if not d.text or text is None else _r(len(text) / len(d.text))


def html_text_chars(d: OCDoc) -> float | None:
    text = html_text(d)
    return None if text is None else float(len(text))


LANG_SIGNALS.update({
    "oc_js_parses": (js_parses, "qsc_codejavascript_cate_ast", ("JavaScript",)),
    "oc_js_var_zero": (js_var_zero, "qsc_codejavascript_cate_var_zero", ("JavaScript",)),
    "oc_js_func_ratio": (js_func_ratio, "qsc_codejavascript_frac_lines_func_ratio", ("JavaScript",)),
    "oc_js_no_logic": (js_no_logic, "qsc_codejavascript_score_lines_no_logic", ("JavaScript",)),
    "oc_js_print_fraction": (_share(("console.log",)), "qsc_codejavascript_frac_lines_print", ("JavaScript",)),
    "oc_html_parses": (html_parses, "qsc_codehtml_cate_ast", ("HTML",)),
    "oc_html_text_fraction": (html_text_fraction, "qsc_codehtml_frac_words_text", ("HTML",)),
    "oc_html_text_chars": (html_text_chars, "qsc_codehtml_num_chars_text", ("HTML",)),
})
