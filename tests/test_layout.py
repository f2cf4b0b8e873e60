"""The package layout: one `codesieve` namespace, imports that point one way, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"codesieve.core": ROOT / "codesieve" / "core", "codesieve.recipes": ROOT / "codesieve" / "recipes",
           "codesieve.pipeline": ROOT / "pipeline",
           "codesieve.filters": ROOT / "filters", "codesieve.scorers": ROOT / "scorers"}
# what each layer may import from codesieve: core <- recipes <- filters <- scorers <- pipeline
# (scorers may compute rule features on demand, so they sit above filters; recipes build training
# corpora from core alone: their file labeller is passed in as `module:function`, never imported)
ALLOWED = {
    "codesieve.core": {"codesieve.core"},
    "codesieve.recipes": {"codesieve.core", "codesieve.recipes"},
    "codesieve.filters": {"codesieve.core", "codesieve.recipes", "codesieve.filters"},
    "codesieve.scorers": {"codesieve.core", "codesieve.recipes", "codesieve.filters", "codesieve.scorers"},
    "codesieve.pipeline": {"codesieve", "codesieve.core", "codesieve.recipes", "codesieve.pipeline",
                           "codesieve.filters", "codesieve.scorers", "codesieve.configs"},
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for pkg, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out.append((".".join([pkg, *parts]), path))
    return out


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
    return [n for n in names if n == "codesieve" or n.startswith("codesieve.")]


def _layer(module: str) -> str:
    return next(p for p in FOLDERS if module == p or module.startswith(p + "."))


@pytest.mark.parametrize("module,path", _modules(), ids=[m for m, _ in _modules()])
def test_imports_point_one_way(module: str, path: Path) -> None:
    allowed = ALLOWED[_layer(module)]
    bad = [n for n in _imports(path) if not any(n == a or n.startswith(a + ".") for a in allowed)
           and n not in allowed]
    assert not bad, f"{module} imports {bad}; allowed layers: {sorted(allowed)}"


#: a parent that has imported the third-party libraries (none of codesieve) forks one child
#: per module, which imports it first: cycles among codesieve's own modules show as in a new
#: interpreter, without paying ~0.4 CPU-s of numpy/pyarrow imports 114 times
_FORK_IMPORTS = """
import importlib, json, os, sys
for dep in ("numpy", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "pyarrow.fs", "pydantic", "yaml"):
    importlib.import_module(dep)
assert not [m for m in sys.modules if m == "codesieve" or m.startswith("codesieve.")]
bad = []
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            msg = ""
        except BaseException as exc:
            msg = f"{type(exc).__name__}: {exc}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        msg = fh.read().decode()
    status = os.waitpid(pid, 0)[1]
    if msg or status:
        bad.append(f"{name}: {msg or f'exit status {status}'}")
print(json.dumps(bad))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """Catches import cycles: each module imported first, in a process with no codesieve module."""
    import json
    import os

    names = [m for m, _ in _modules() if not m.endswith("__main__")]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # no BLAS threads in the forking parent
    procs = [subprocess.Popen([sys.executable, "-c", _FORK_IMPORTS, *names[i::2]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    bad = []
    for proc in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        bad += json.loads(out)
    assert not bad, "\n".join(bad)


def test_pyproject_lists_every_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {m for m, p in _modules() if p.name == "__init__.py"} | {"codesieve", "codesieve.configs"}
    found |= {"codesieve.configs." + ".".join(p.parent.relative_to(ROOT / "configs").parts)
              for p in (ROOT / "configs").rglob("__init__.py") if p.parent != ROOT / "configs"}
    assert listed == found


def test_python_dash_m_codesieve_and_version() -> None:
    r = subprocess.run([sys.executable, "-m", "codesieve", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("codesieve ")
