"""In-repository dependencies between files, and a dependencies-first file order.

Imports are found with regular expressions (one set per language: Python, JavaScript /
TypeScript, C / C++, Java, Go, Rust) and resolved against the repository's own paths;
imports of anything outside the repository are ignored. The order is DeepSeek-Coder's
(§2.2, "repository level data"): a topological sort that, instead of requiring a node with
no unplaced dependencies, takes the node with the fewest, so cycles are broken; ties go to
the smallest path, which makes the order deterministic.
"""

from __future__ import annotations

import heapq
import posixpath
import re
from collections import defaultdict

PY = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+([\w., \t*()]+)|import[ \t]+([\w., \t]+))", re.M)
JS = re.compile(r"""(?:\bfrom|\bimport|\brequire[ \t]*\(|\bimport[ \t]*\()[ \t]*['"](\.{1,2}/[^'"]*)['"]""")
C_INC = re.compile(r'^[ \t]*#[ \t]*(?:include|import)[ \t]*[<"]([^>"]+)[>"]', re.M)
JAVA = re.compile(r"^[ \t]*import[ \t]+(?:static[ \t]+)?([\w.]+(?:\.\*)?)[ \t]*;", re.M)
GO_BLOCK = re.compile(r"^import[ \t]*\(([^)]*)\)", re.M)
GO_ONE = re.compile(r'^import[ \t]+(?:[\w.]+[ \t]+)?"([^"]+)"', re.M)
GO_PATH = re.compile(r'"([^"]+)"')
RUST_MOD = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?mod[ \t]+(\w+)[ \t]*;", re.M)
RUST_USE = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?use[ \t]+(crate|super|self)((?:::\w+)+)", re.M)

EXT_LANG = {".py": "py", ".pyi": "py", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "js", ".ts": "js",
            ".tsx": "js", ".mts": "js", ".cts": "js", ".vue": "js", ".svelte": "js",
            ".c": "c", ".h": "c", ".cc": "c", ".cpp": "c", ".cxx": "c", ".hpp": "c", ".hh": "c", ".hxx": "c",
            ".m": "c", ".mm": "c", ".cu": "c", ".java": "java", ".go": "go", ".rs": "rust"}
JS_EXTS = ("", ".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".json", ".vue", ".svelte",
           "/index.js", "/index.ts", "/index.tsx", "/index.jsx", "/index.mjs")


class RepoIndex:
    """Lookups over one repository's paths: exact, by path suffix, by directory."""

    def __init__(self, paths: list[str]):
        self.paths = set(paths)
        self.by_suffix: dict[str, list[str]] = defaultdict(list)
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        for p in sorted(paths):
            parts = p.split("/")
            for i in range(len(parts)):
                self.by_suffix["/".join(parts[i:])].append(p)
            self.by_dir[posixpath.dirname(p)].append(p)
        self.go_modules: list[tuple[str, str]] = []  # (folder of go.mod, module path)
        self.dir_suffix: dict[str, list[str]] = defaultdict(list)
        for d in sorted(self.by_dir):
            parts = d.split("/") if d else []
            for i in range(len(parts)):
                self.dir_suffix["/".join(parts[i:])].append(d)

    def suffix(self, rel: str) -> list[str]:
        """Paths ending with `rel` (whole components); the shortest paths first."""
        return sorted(self.by_suffix.get(rel, []), key=lambda p: (p.count("/"), p))[:1]

    def near(self, base: str, rel: str) -> list[str]:
        """`rel` relative to the folder `base`, else anywhere by suffix."""
        p = posixpath.normpath(posixpath.join(base, rel))
        return [p] if p in self.paths else self.suffix(rel)


def _py_module(base: str | None, dotted: str, idx: RepoIndex) -> str | None:
    """A module path (`a/b`) as a file: relative to `base` when given, else by suffix."""
    if not dotted:
        return None
    for rel in (dotted + ".py", dotted + "/__init__.py"):
        if base is not None:
            p = posixpath.normpath(posixpath.join(base, rel))
            if p in idx.paths:
                return p
        else:  # absolute: the match must sit at a source root (a folder that is not a package)
            for hit in sorted(idx.by_suffix.get(rel, []), key=lambda p: (p.count("/"), p)):
                root = hit[: len(hit) - len(rel)].rstrip("/")
                if posixpath.join(root, "__init__.py") not in idx.paths:
                    return hit
    return None


def _python(path: str, text: str, idx: RepoIndex) -> list[str]:
    """`import a.b`, `from a.b import c` (c a submodule or a name in a.b), relative imports."""
    out: list[str] = []
    for frm, names, plain in PY.findall(text):
        if plain:
            out += [m for m in (_py_module(None, n.strip().split(" ")[0].replace(".", "/"), idx)
                                for n in plain.split(",")) if m]
            continue
        dots = len(frm) - len(frm.lstrip("."))
        base = posixpath.dirname(path) if dots else None
        for _ in range(max(dots - 1, 0)):
            base = posixpath.dirname(base)
        body = frm.lstrip(".").replace(".", "/")
        for name in names.strip("() \t").split(","):
            name = name.strip().split(" ")[0]
            sub = _py_module(base, posixpath.join(body, name), idx) if name and name != "*" else None
            mod = sub or _py_module(base, body, idx)
            if mod is None and base is not None and not body:  # `from . import name`: the package
                init = posixpath.join(base, "__init__.py")
                mod = init if init in idx.paths else None
            if mod:
                out.append(mod)
    return out


def _js(path: str, text: str, idx: RepoIndex) -> list[str]:
    here = posixpath.dirname(path)
    out = []
    for spec in JS.findall(text):
        base = posixpath.normpath(posixpath.join(here, spec.split("?")[0]))
        for ext in JS_EXTS:
            if base + ext in idx.paths:
                out.append(base + ext)
                break
    return out


def _c(path: str, text: str, idx: RepoIndex) -> list[str]:
    return [h for inc in C_INC.findall(text) for h in idx.near(posixpath.dirname(path), inc)[:1]]


def _java(path: str, text: str, idx: RepoIndex) -> list[str]:
    out = []
    for imp in JAVA.findall(text):
        if imp.endswith(".*"):
            for d in idx.dir_suffix.get(imp[:-2].replace(".", "/"), [])[:1]:
                out += [p for p in idx.by_dir[d] if p.endswith(".java")]
            continue
        parts = imp.split(".")
        for k in range(len(parts), 0, -1):  # a.b.C.Inner -> a/b/C.java
            hit = idx.suffix("/".join(parts[:k]) + ".java")
            if hit:
                out += hit
                break
    return out


GO_MODULE = re.compile(r"^module[ \t]+(\S+)", re.M)


def _go_dir(spec: str, idx: RepoIndex) -> str | None:
    """The folder of an imported Go package of this repository's module (from go.mod, or
    inferred by `_infer_go_module`); None for the standard library and other modules."""
    for mod_dir, module in idx.go_modules:
        if spec == module or spec.startswith(module + "/"):
            d = posixpath.normpath(posixpath.join(mod_dir, spec[len(module):].lstrip("/")))
            return d if d in idx.by_dir else None
    return None  # the standard library or another module


def _go_specs(text: str) -> list[str]:
    return GO_ONE.findall(text) + [p for block in GO_BLOCK.findall(text) for p in GO_PATH.findall(block)]


def _infer_go_module(files: dict[str, str], idx: RepoIndex) -> list[tuple[str, str]]:
    """Without a go.mod: the module path is the import prefix most often left over when the
    rest of an import matches a folder of the repository (`github.com/cli/cli/v2` + `api`)."""
    votes: dict[tuple[str, str], int] = defaultdict(int)
    for path, text in files.items():
        if not path.endswith(".go"):
            continue
        for spec in set(_go_specs(text)):
            parts = spec.split("/")
            if "." not in parts[0]:
                continue
            for k in range(1, len(parts)):  # the longest suffix that is a folder here
                rest = "/".join(parts[k:])
                dirs = idx.dir_suffix.get(rest, [])
                for d in dirs:
                    votes[(d[: len(d) - len(rest)].rstrip("/"), "/".join(parts[:k]))] += 1
                if dirs:
                    break
    if not votes:
        return []
    best = max(votes.items(), key=lambda kv: (kv[1], len(kv[0][1]), kv[0]))
    return [best[0]]


def _go(path: str, text: str, idx: RepoIndex) -> list[str]:
    specs = _go_specs(text)
    out = []
    for spec in specs:
        d = _go_dir(spec, idx)
        if d is not None:
            out += [p for p in idx.by_dir[d] if p.endswith(".go") and not p.endswith("_test.go")]
    return out


def _rust(path: str, text: str, idx: RepoIndex) -> list[str]:
    here = posixpath.dirname(path)
    stem = posixpath.splitext(posixpath.basename(path))[0]
    mod_dir = here if stem in ("lib", "main", "mod") else posixpath.join(here, stem)
    out = []
    for name in RUST_MOD.findall(text):
        for rel in (f"{name}.rs", f"{name}/mod.rs"):
            p = posixpath.normpath(posixpath.join(mod_dir, rel))
            if p in idx.paths:
                out.append(p)
                break
    for root, rest in RUST_USE.findall(text):
        segs = rest.strip(":").split("::")
        base = {"crate": _crate_root(path), "self": mod_dir, "super": posixpath.dirname(mod_dir)}[root]
        for k in range(len(segs), 0, -1):
            rel = "/".join(segs[:k])
            hit = [p for p in (posixpath.join(base, rel + ".rs"), posixpath.join(base, rel, "mod.rs")) if p in idx.paths]
            if hit:
                out.append(hit[0])
                break
    return out


def _crate_root(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[: parts.index("src") + 1]) if "src" in parts else posixpath.dirname(path)


PARSERS = {"py": _python, "js": _js, "c": _c, "java": _java, "go": _go, "rust": _rust}


def dependencies(files: dict[str, str]) -> dict[str, list[str]]:
    """path -> sorted in-repository paths it imports (self-imports dropped)."""
    idx = RepoIndex(list(files))
    idx.go_modules = sorted(((posixpath.dirname(p), m.group(1)) for p, t in files.items()
                             if posixpath.basename(p) == "go.mod" for m in [GO_MODULE.search(t)] if m),
                            key=lambda dm: -len(dm[1]))
    if not idx.go_modules and any(p.endswith(".go") for p in files):
        idx.go_modules = _infer_go_module(files, idx)
    deps = {}
    for path, text in files.items():
        kind = EXT_LANG.get(posixpath.splitext(path)[1].lower())
        found = PARSERS[kind](path, text, idx) if kind else []
        deps[path] = sorted(set(found) - {path})
    return deps


def dependency_order(deps: dict[str, list[str]]) -> tuple[list[str], int]:
    """(paths dependencies-first, number of cycle-breaking picks).

    Repeatedly place the unplaced file with the fewest unplaced dependencies (ties: the
    smallest path). A pick with more than zero is where a cycle was broken.
    """
    users: dict[str, list[str]] = defaultdict(list)
    pending = {p: len(set(ds)) for p, ds in deps.items()}
    for p, ds in deps.items():
        for d in set(ds):
            users[d].append(p)
    heap = [(n, p) for p, n in pending.items()]
    heapq.heapify(heap)
    order, broken, placed = [], 0, set()
    while heap:
        n, p = heapq.heappop(heap)
        if p in placed or n != pending[p]:
            continue  # stale entry
        placed.add(p)
        order.append(p)
        broken += n > 0
        for u in users[p]:
            if u not in placed:
                pending[u] -= 1
                heapq.heappush(heap, (pending[u], u))
    return order, broken
