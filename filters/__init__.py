"""The gates of the hierarchy, in order: language, rules, dedup, decontam, quality."""

from filters import decontam, language, quality, rules  # noqa: F401
from filters.dedup import gate as _dedup_gate  # noqa: F401
