"""Loading the gates, rules and scorers that register themselves in `codesieve.core.registry`.

The built-in ones live in `codesieve.filters` and `codesieve.scorers`; third-party packages
The built-in readers are in `codesieve.pipeline.readers`. Third-party packages
add theirs through the `codesieve.plugins` entry-point group (each entry names a module
that registers on import).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from codesieve.core.errors import ConfigError

BUILTIN = ("codesieve.filters", "codesieve.scorers", "codesieve.pipeline.readers")
_loaded = False


def load_plugins() -> None:
    """Import every module that registers gates, rules or scorers (once per process)."""
    global _loaded
    if _loaded:
        return
    for module in BUILTIN:
        importlib.import_module(module)
    for ep in entry_points(group="codesieve.plugins"):
        importlib.import_module(ep.value.split(":")[0])
    _loaded = True


_files: dict[str, str] = {}  # absolute path -> module name, loaded once per process


def load_plugin_entries(entries: Any, base: Path) -> list[str]:
    """Load a config's `plugins`: module names, or `.py` files (relative to the config's
    folder). Returns them resolved (files as absolute paths) for the resolved config."""
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise ConfigError("plugins: expected a list of module names or .py file paths")
    out = []
    for entry in entries:
        if entry.endswith(".py"):
            path = str((base / entry).resolve())
            if not os.path.isfile(path):
                raise ConfigError(f"plugins: {entry}: no such file (looked in {base})")
            _load_file(path)
            out.append(path)
        else:
            try:
                importlib.import_module(entry)
            except ImportError as exc:
                raise ConfigError(f"plugins: {entry}: cannot import ({exc})") from None
            out.append(entry)
    return out


def _load_file(path: str) -> None:
    if path in _files:
        return
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]
    name = f"codesieve_plugin_{Path(path).stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"plugins: {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _files[path] = name


def plugin_fingerprint(plugins: list[str]) -> str:
    """A hash over the plugin files' bytes (enters the resume keys like the code's own)."""
    h = hashlib.sha256()
    for entry in plugins:
        h.update(entry.encode())
        if os.path.isfile(entry):
            with open(entry, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()[:16]
