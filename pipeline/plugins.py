"""Loading the gates, rules and scorers that register themselves in `codesieve.core.registry`.

The built-in ones live in `codesieve.filters` and `codesieve.scorers`; third-party packages
The built-in readers are in `codesieve.pipeline.readers`. Third-party packages
add theirs through the `codesieve.plugins` entry-point group (each entry names a module
that registers on import).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

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
