"""The shard-local and global gates: language, rules, dedup, decontam (quality lives in scorers)."""

from codesieve.filters import decontam, language, rules  # noqa: F401
from codesieve.filters.dedup import gate as _dedup_gate  # noqa: F401
