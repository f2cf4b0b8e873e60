"""codesieve: coarse-to-fine curation of code pretraining data.

Import names: `codesieve.core` (types, params, registry, atomic writes), `codesieve.filters`
(the gates), `codesieve.scorers` (quality models), `codesieve.pipeline` (orchestration, CLI).
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache

__version__ = "0.2.0"


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The git commit of the source tree this package runs from, or None (e.g. a wheel)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(here, ".git")):
        return None
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash over every source and model file of the installed packages.

    It enters every resume key: change a rule's code or a model file and a rerun redoes
    the work instead of keeping results the old code made.
    """
    import hashlib
    import importlib

    digest = hashlib.sha256()
    for name in ("codesieve", "codesieve.pipeline", "codesieve.filters", "codesieve.scorers"):
        root = importlib.import_module(name).__path__[0]
        # a top-down walk (not a sorted copy of it), so that pruning `dirs` takes effect: the
        # `codesieve` root contributes its own files and `core` (in a wheel, pipeline/, filters/
        # and scorers/ live under it too, and are hashed once, under their own names)
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and (folder != root or name != "codesieve"
                                                                      or d == "core"))
            for fname in sorted(files):
                # ".c": the compiled kernels' source (core/_kernels.c decides values too)
                if fname.endswith((".py", ".c", ".ftz", ".bin", ".json", ".safetensors", ".skops", ".txt")):
                    path = os.path.join(folder, fname)
                    digest.update(f"{name}/{os.path.relpath(path, root)}".encode())
                    with open(path, "rb") as fh:
                        digest.update(hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()[:16]


def version_string() -> str:
    commit = git_commit()
    return f"codesieve {__version__}" + (f" (git {commit[:12]})" if commit else "")
