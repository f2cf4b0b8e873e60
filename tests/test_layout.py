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


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """Catches import cycles: each module imported first, in its own interpreter."""
    names = [m for m, _ in _modules() if not m.endswith("__main__")]
    from concurrent.futures import ThreadPoolExecutor

    def load(name: str) -> str | None:
        r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
        return f"{name}: {r.stderr.strip().splitlines()[-1]}" if r.returncode else None

    with ThreadPoolExecutor(4) as pool:
        bad = [b for b in pool.map(load, names) if b]
    assert not bad, "\n".join(bad)


def test_pyproject_lists_every_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {m for m, p in _modules() if p.name == "__init__.py"} | {"codesieve", "codesieve.configs"}
    assert listed == found


def test_python_dash_m_codesieve_and_version() -> None:
    r = subprocess.run([sys.executable, "-m", "codesieve", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("codesieve ")
