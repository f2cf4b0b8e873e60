"""Pipeline configs: YAML recipes validated on load.

A config is `input`, `output` and an ordered list of `gates`; each gate entry names a
registered gate (`gate: rules`) and carries that gate's parameters inline. Any unknown
key, gate, rule or scorer, or a bad value, is a one-line `ConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from codesieve.core.base import Gate
from codesieve.core.errors import ConfigError
from codesieve.core.params import Params, lookup, stable_hash, validate_params
from codesieve.core.registry import GATES
from codesieve.pipeline.plugins import load_plugin_entries, load_plugins


class InputConfig(Params):
    text_column: str = Field("content", description="column holding the document text")
    max_doc_bytes: int = Field(
        10_000_000, gt=0, strict=True, description="documents larger than this (UTF-8 bytes) go to tier 0"
    )
    unit_rows: int = Field(
        5000, gt=0, strict=True, description="target rows per work unit (Parquet row groups are merged or split)"
    )
    unit_bytes: int = Field(
        64 * 1024 * 1024, gt=0, strict=True, description="target bytes per work unit for uncompressed JSONL"
    )
    formats: dict[str, str] = Field(
        default_factory=dict, description="extra file suffix -> reader name (e.g. {'.json': 'jsonl'})"
    )
    parse_timeout_s: float = Field(
        600.0, gt=0, allow_inf_nan=False,
        description="a document whose tree-sitter parse runs longer than this (seconds) goes to tier 0 "
                    "(parse_timeout); its unit is rerun without it",
    )


class OutputConfig(Params):
    keep_text_from_tier: int = Field(
        0, ge=0, strict=True, description="drop the text of rows whose tier is below this (rows themselves stay)"
    )
    compression_level: int = Field(3, ge=1, le=22, strict=True, description="zstd level of output Parquet")
    row_group_rows: int = Field(10_000, gt=0, strict=True, description="rows per Parquet row group in outputs")


@dataclass
class PipelineConfig:
    """A validated config: input/output settings and the ordered, built gates."""

    input: InputConfig
    output: OutputConfig
    gates: list[Gate]
    source: str = "<memory>"
    plugins: list[str] = field(default_factory=list)

    def gate_names(self) -> list[str]:
        return [g.name for g in self.gates]

    def resolved(self) -> dict[str, Any]:
        """The full config with every default filled in (JSON-able)."""
        return {
            "input": self.input.model_dump(mode="json"),
            "output": self.output.model_dump(mode="json"),
            "gates": [{"gate": g.name, **g.params.model_dump(mode="json")} for g in self.gates],
            **({"plugins": list(self.plugins)} if self.plugins else {}),
        }

    def hash(self) -> str:
        return stable_hash(self.resolved())


TOP_KEYS = ("name", "description", "plugins", "input", "output", "gates")


def build_config(raw: Any, source: str = "<memory>") -> PipelineConfig:
    load_plugins()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config must be a mapping with keys {', '.join(TOP_KEYS)}")
    for key in raw:
        if key not in TOP_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r} (allowed: {', '.join(TOP_KEYS)})")
    base = Path(source).parent if source != "<memory>" else Path.cwd()
    plugins = load_plugin_entries(raw.get("plugins"), base)
    inp = validate_params(InputConfig, raw.get("input"), "input")
    out = validate_params(OutputConfig, raw.get("output"), "output")
    gates_raw = raw.get("gates")
    if not isinstance(gates_raw, list) or not gates_raw:
        raise ConfigError(f"{source}: 'gates' must be a non-empty list of {{gate: NAME, ...}}")
    gates: list[Gate] = []
    seen: set[str] = set()
    for i, entry in enumerate(gates_raw):
        where = f"gates[{i}]"
        if not isinstance(entry, dict) or "gate" not in entry:
            raise ConfigError(f"{where}: each gate needs a 'gate: NAME' key (allowed: {', '.join(sorted(GATES))})")
        body = dict(entry)
        name = body.pop("gate")
        cls = lookup(GATES, "gate", name, f"{where}.gate")
        if name in seen:
            raise ConfigError(f"{where}.gate: gate {name!r} listed twice")
        seen.add(name)
        gates.append(cls.build(body, where))
    _check_consistency(inp, out, gates)
    return PipelineConfig(inp, out, gates, source, plugins)


def _check_consistency(inp: InputConfig, out: OutputConfig, gates: list[Gate]) -> None:
    """Settings that are valid alone but not together."""
    from codesieve.core.registry import READERS
    from codesieve.pipeline.plan import tier_names
    from codesieve.pipeline.tiers import BAND_FIELD, STATE_FIELDS, TIER_NAME_FIELD

    reserved = {f.name for f in STATE_FIELDS} | {TIER_NAME_FIELD.name, BAND_FIELD.name, "id"}
    reserved |= {f.name for g in gates for f in g.output_fields()}
    if inp.text_column in reserved:
        raise ConfigError(f"input.text_column: {inp.text_column!r} is a column codesieve writes; "
                          "rename the input column or choose another")
    for suffix, reader in inp.formats.items():
        if reader not in READERS:
            raise ConfigError(f"input.formats[{suffix!r}]: unknown reader {reader!r} (allowed: {', '.join(sorted(READERS))})")
    top = max(tier_names(gates))
    if out.keep_text_from_tier > top:
        raise ConfigError(f"output.keep_text_from_tier: {out.keep_text_from_tier} is above the top tier ({top}) "
                          "and would drop every text")


def shipped_configs() -> dict[str, Path]:
    """The configs that ship with codesieve (`--config NAME`), by name."""
    folder = resources.files("codesieve.configs")
    return {
        entry.name[: -len(".yaml")]: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def resolve_config_path(name: str | Path) -> Path:
    """A config file path, or the shipped config called `name` (e.g. `default`)."""
    path = Path(name)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in str(name):
        return path
    shipped = shipped_configs()
    if str(name) in shipped:
        return shipped[str(name)]
    raise ConfigError(
        f"--config {name}: no such file and no shipped config of that name "
        f"(shipped: {', '.join(sorted(shipped))})"
    )


def load_config(path: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> PipelineConfig:
    """Load and validate a YAML config (a path or a shipped name); `overrides` maps a gate
    name to params to set on it."""
    path = resolve_config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    for gate_name, params in (overrides or {}).items():
        entries = raw.get("gates") if isinstance(raw, dict) else None
        hits = [g for g in entries or [] if isinstance(g, dict) and g.get("gate") == gate_name]
        if not hits:
            raise ConfigError(f"{path}: has no {gate_name!r} gate to apply {', '.join(params)} to")
        hits[0].update(params)
    try:
        return build_config(raw, str(path))
    except ConfigError as exc:
        msg = str(exc)
        if not msg.startswith(str(path)):
            msg = f"{path}: {msg}"
        raise ConfigError(msg) from None
