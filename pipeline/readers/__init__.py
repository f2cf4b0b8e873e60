"""Input formats: one reader class per format, registered by name (see `base.Reader`)."""

from codesieve.pipeline.readers import jsonl, parquet  # noqa: F401
from codesieve.pipeline.readers.base import Reader, SourceFile, Unit, filesystem, open_input  # noqa: F401
