"""One default-config run over data_samples/ plus hostile documents, shared by the tool tests.

The hostile rows are crawled-file look-alikes whose text and path try to break out of the
report's HTML; their ids sort first so the report shows them among its samples.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
PAYLOAD = (
    "# Notes\n\n</textarea></pre></details><script>document.title='PWNED';"
    "var d=document.createElement('div');d.id='pwned';document.body.appendChild(d);</script>\n"
    "<img src=x onerror=\"window.__pwned=true;document.title='PWNED'\">\n"
    "<svg onload=\"document.title='PWNED'\"></svg> plain words follow so the file looks like prose "
    "and passes the rules: this README explains how to install and use the library.\n"
)
HOSTILE = [
    {"id": "!hostile-1", "path": "README.md", "repo_name": "evil/pkg@1", "content": PAYLOAD},
    {"id": "!hostile-2", "path": "x</summary><script>document.title='PWNED'</script>.md",
     "repo_name": "evil/pkg@1", "content": PAYLOAD + "\n(second copy, different path)\n" * 3},
]
_CACHE: dict[str, Path] = {}


def default_run(base: Path) -> Path:
    """Output folder of `codesieve run --config default` over data_samples + HOSTILE (cached)."""
    if "out" in _CACHE:
        return _CACHE["out"]
    from codesieve.pipeline.config import load_config
    from codesieve.pipeline.executors import make_executor
    from codesieve.pipeline.runner import run

    inp = base / "input"
    inp.mkdir(parents=True)
    for f in SAMPLES.iterdir():
        if f.name.startswith("code-"):
            shutil.copy(f, inp / f.name)
    with open(inp / "hostile.jsonl", "w", encoding="utf-8") as fh:
        for row in HOSTILE:
            fh.write(json.dumps(row) + "\n")
    out = base / "out"
    executor = make_executor("local", None, None)
    try:
        run(load_config("default"), str(inp), str(out), executor, quiet=True)
    finally:
        executor.close()
    _CACHE["out"] = out
    return out


def chromium_or_skip():
    import pytest
    from chromium import find_chromium

    path = find_chromium()
    if path is None or os.environ.get("CODESIEVE_NO_BROWSER"):
        pytest.skip("chromium not installed (apt-get install chromium; `make test` tries): browser test skipped")
    return path
