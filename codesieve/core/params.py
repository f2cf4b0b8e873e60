"""Parameter models and their validation: one-line errors that name the key at fault."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from codesieve.core.errors import ConfigError


class Params(BaseModel):
    """Base for every gate/rule/scorer parameter model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _fmt_loc(where: str, loc: tuple[Any, ...]) -> str:
    parts = [where] if where else []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    return ".".join(parts).replace(".[", "[")


def validate_params(model: type[Params], raw: Any, where: str) -> Params:
    """Validate `raw` against `model`; raise a one-line ConfigError naming the key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _fmt_loc(where, tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model.model_fields))
            msg = f"unknown key (allowed: {allowed})"
        elif "input" in err and err["type"] != "missing":
            msg = f"{msg} (got {err['input']!r})"
        raise ConfigError(f"{key}: {msg}") from None


def lookup(table: dict[str, type], kind: str, name: Any, where: str) -> type:
    if not isinstance(name, str) or name not in table:
        allowed = ", ".join(sorted(table))
        raise ConfigError(f"{where}: unknown {kind} {name!r} (allowed: {allowed})")
    return table[name]


def stable_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
