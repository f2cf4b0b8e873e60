"""The compiled `line_doc_sums` path of the quality scorer's shape / structure features
(`scorers.shape`) against the numpy reference (`features.shape_features_reference`), bit for
bit, on real documents: the shipped samples, every 10th row of the dev corpus when it is
present, and edge cases (Unicode whitespace edges, CRLF, unbalanced brackets, tabs)."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesieve.core.batch import DocBatch
from codesieve.scorers import features as QF
from codesieve.scorers import shape
from codesieve.scorers.base import model_path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "corpus" / "dev"

pytestmark = pytest.mark.skipif(not shape.available(), reason="compiled kernel not built (no C compiler)")

_EDGE = [
    "", "\n", "  \n\t\n", "def f():\n    return 1\n\n\n  x = (1,\n[2]\n", "}\n)\n]\n  {\n",
    "\u00a0\u00a0if x:\n\u3000y\n\t\tz = {\r\n\t}\r\n", "import os\nclass A:\n    pass\nimport sys  # late\n",
    "a // b\n  c # d // e\n/* x */\n# only\n" + "x" * 130 + "\n", "((((\n" * 3 + ")))\n", "\t  \tmixed\n  \tx:\n   odd\n",
    "#include <x.h>\nint main() {\n\treturn 0;\n}\n", "if y:\u00a0\n  z = [\u3000\nw\n\u2003)\n  \u00e9]\n", "é = {\n  'k': ')'\n}\r\n)(\n  pub fn main() {}\n",
]


def _batch(source: str) -> DocBatch:
    if source == "edge":
        return DocBatch(pa.table({"content": _EDGE, "lang": ["python"] * 6 + [None] * 7}), "content")
    if source == "samples":
        files = sorted(glob.glob(str(ROOT / "data_samples" / "*.parquet")))
        return DocBatch(pa.concat_tables([pq.read_table(f, columns=["content"]) for f in files]), "content")
    dev = sorted(glob.glob(str(DEV / "*.parquet")))
    if not dev:
        pytest.skip("dev corpus not present")
    t = pq.read_table(dev[0], columns=["content", "language"]).rename_columns(["content", "lang"])
    return DocBatch(t.take(pa.array(np.arange(0, t.num_rows, 10))), "content")


@pytest.mark.parametrize("source", ["samples", "dev", "edge"])
@pytest.mark.parametrize("with_norms", [True, False])
def test_shape_kernel_matches_reference(source: str, with_norms: bool) -> None:
    norms = json.loads(model_path("quality_features.json").read_text()).get("norms") if with_norms else None
    assert norms or not with_norms
    ref = QF.shape_features_reference(_batch(source), norms)
    got = QF.shape_features(_batch(source), norms)
    assert sorted(got) == sorted(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype and got[k].tobytes() == ref[k].tobytes(), k
    if source == "dev":  # the data exercises every feature
        assert all(np.count_nonzero(ref[k]) > 0 for k in ref), [k for k in ref if not np.count_nonzero(ref[k])]


def test_line_doc_sums_rejects_bad_offsets() -> None:
    k = shape._kernels
    data, line_bytes = b"ab\ncd", np.array([0, 2, 5], np.int64)
    fields, one, flags = np.zeros((2, 11), np.int32), np.zeros(2, np.int64), np.zeros(2, np.uint8)
    with pytest.raises(ValueError, match="line_doc_sums: line offsets out of range"):
        k.line_doc_sums(data, line_bytes, np.array([0, 3], np.int64), fields, one, one, flags, np.empty((1, 25), np.int64))
    with pytest.raises(ValueError, match="line_doc_sums: offsets out of range"):
        k.line_doc_sums(data, line_bytes, np.array([0, 2, 1, 2], np.int64), fields, one, one, flags, np.empty((3, 25), np.int64))
    with pytest.raises(ValueError, match="wrong size"):
        k.line_doc_sums(data, line_bytes, np.array([0, 2], np.int64), fields, one, one, flags, np.empty((1, 5), np.int64))
    with pytest.raises(ValueError, match="line_doc_sums: offsets out of range"):
        k.line_doc_sums(data, np.array([0, 2, 9], np.int64), np.array([0, 2], np.int64), fields, one, one, flags, np.empty((1, 25), np.int64))
