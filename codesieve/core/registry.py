"""Name -> class registries for gates, rules and scorers.

A rule, scorer or gate is registered under a snake_case name with a decorator; configs
refer to it by that name. `codesieve gates`, dry-run and report discover them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

GATES: dict[str, type] = {}
RULES: dict[str, type] = {}
SCORERS: dict[str, type] = {}
READERS: dict[str, type] = {}


def _register(table: dict[str, type], kind: str, name: str) -> Callable[[type[T]], type[T]]:
    def deco(cls: type[T]) -> type[T]:
        if name in table and table[name] is not cls:
            raise RuntimeError(f"{kind} {name!r} registered twice ({table[name]} and {cls})")
        table[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def register_gate(name: str) -> Callable[[type[T]], type[T]]:
    return _register(GATES, "gate", name)


def register_rule(name: str) -> Callable[[type[T]], type[T]]:
    return _register(RULES, "rule", name)


def register_scorer(name: str) -> Callable[[type[T]], type[T]]:
    return _register(SCORERS, "scorer", name)


def register_reader(name: str) -> Callable[[type[T]], type[T]]:
    """An input format: a class with `suffixes`, `plan` and `read` (see pipeline/readers)."""
    return _register(READERS, "reader", name)


def _params_schema(cls: type) -> dict[str, Any]:
    params = getattr(cls, "Params", None)
    if params is None:
        return {}
    out: dict[str, Any] = {}
    for fname, field in params.model_fields.items():
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if hasattr(default, "model_dump"):
            default = default.model_dump(mode="json")
        out[fname] = {
            "type": getattr(field.annotation, "__name__", str(field.annotation)),
            "default": default,
            "doc": field.description or "",
        }
    return out


def describe() -> dict[str, list[dict[str, Any]]]:
    """The registry as `{"gates": [...], "rules": [...], "scorers": [...]}`."""
    def rows(table: dict[str, type]) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "params": _params_schema(cls),
                "doc": (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            }
            for name, cls in sorted(table.items())
        ]

    return {"gates": rows(GATES), "rules": rows(RULES), "scorers": rows(SCORERS)}
