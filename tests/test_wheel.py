"""The wheel, installed outside the repository, runs a shipped config on a folder of shards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES


@pytest.mark.slow
def test_wheel_runs_shipped_config_outside_the_repo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                       capture_output=True, text=True)
    if r.returncode != 0 and "No matching distribution" in r.stderr:
        pytest.skip("building the wheel needs setuptools from the package index")
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(wheels.glob("codesieve-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    # name-version.dist-info: the wheel is tagged for this platform when the C kernel is built
    assert top == {"codesieve", "-".join(wheel.name.split("-")[:2]) + ".dist-info"}  # nothing generic at the top
    assert any(n.startswith("codesieve/core/_kernels") for n in names) or "py3-none" in wheel.name
    assert "codesieve/configs/default.yaml" in names and "codesieve/filters/langid/lang_content.ftz" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    shutil.copytree(SAMPLES, work / "shards", ignore=shutil.ignore_patterns("*.py", "*.md"))
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import codesieve; print(codesieve.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(target)), where  # the installed wheel, not the repository
    r = subprocess.run([sys.executable, "-m", "codesieve", "run", "--config", "default", "--input", "shards",
                        "--output", "out", "--executor", "local", "--quiet"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((work / "out" / ".codesieve" / "manifest.json").read_text())
    assert manifest["rows_out"] == manifest["rows_in"] > 1000
    assert manifest["config_source"].endswith("codesieve/configs/default.yaml")
    version = subprocess.run([sys.executable, "-m", "codesieve", "--version"], cwd=work, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("codesieve ") and "git" not in version  # no repository here
