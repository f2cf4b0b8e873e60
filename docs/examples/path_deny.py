"""Example: a shard-local gate in one file. Config: `plugins: [path_deny.py]`, then
`- gate: path_deny` with `patterns: ["*/node_modules/*"]` in `gates`."""

import fnmatch

import numpy as np
import pyarrow as pa
from pydantic import Field

from codesieve.core.base import Gate, GateResult, UnitContext
from codesieve.core.batch import DocBatch
from codesieve.core.params import Params
from codesieve.core.registry import register_gate


@register_gate("path_deny")
class PathDeny(Gate):
    """Fails documents whose path matches a glob (vendored folders, build output, ...)."""

    class Params(Params):
        patterns: list[str] = Field(default_factory=list, description="fnmatch globs over `path`")

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("path_denied_by", pa.string())]

    def apply(self, batch: DocBatch, ctx: UnitContext) -> GateResult:
        paths = batch.path.to_pylist()  # per-row Python: fine for an example, benchmark before shipping
        hit = [next((p for p in self.params.patterns if path and fnmatch.fnmatch(path, p)), None) for path in paths]
        fails = np.array([h is not None for h in hit], dtype=bool)[:, None]
        return GateResult({"path_denied_by": pa.array(hit, pa.string())}, fails, ["path_denied"])
