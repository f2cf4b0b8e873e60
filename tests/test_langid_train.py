"""The content model's training recipe on real files: labels, reserved packages, package
splits, de-duplication, and bit-for-bit reproducibility."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from codesieve.filters.langid import data
from codesieve.filters.langid.train import (
    FIT_ENV,
    TrainConfig,
    fit_command,
    load_labelled,
    train,
    training_rows,
    write_fasttext_file,
)

FIX = Path(__file__).parent / "fixtures" / "language"
SAMPLES = str(Path(__file__).parents[1] / "data_samples")


def _table(rows: list[tuple[str, str, str]]) -> pa.Table:
    """(path, language, fixture) rows in the corpus schema, one package."""
    return pa.table({
        "id": [f"id{i}" for i in range(len(rows))],
        "content": [(FIX / f).read_text(encoding="utf-8") for _, _, f in rows],
        "path": [p for p, _, _ in rows],
        "repo_name": ["debian/x@1"] * len(rows),
        "source": ["debian"] * len(rows),
        "language": [lang for _, lang, _ in rows],
        "package": ["debian/x"] * len(rows),
        "split": ["train"] * len(rows),
    })


def test_labels_are_what_content_can_tell():
    t = _table([
        ("reader/pom.xml", "Maven POM", "jline_reader_pom.xml"),  # file-name class -> XML
        ("src/queue.ts", "TypeScript", "service_typescript.ts"),  # ambiguous .ts -> heuristics
        ("translations/app_de.ts", "TypeScript", "translation_qt.ts"),  # ... which say XML here
        ("include/ringbuf.h", "C", "header_cpp.h"),  # .h labelled by its C++ evidence
        ("test/picture.ok", "Text", "flac_picture.ok"),  # test expectation: never a label
        (".gitignore", "Ignore List", "numbers.json"),  # file-name-only class: dropped
        ("bin/tool", "unknown", "manage_tool"),  # no label
        ("docs/CHANGES.txt", "Text", "user_guide.rst"),  # a reStructuredText document named .txt
        ("docs/notes.txt", "Text", "comments_german.py"),  # no rST markup: stays Text
        ("CMakeLists.txt", "CMake", "comments_german.py"),  # named by its file name, not its extension
    ])
    out = data.label_rows(t)
    assert dict(zip(out["path"].to_pylist(), out["label"].to_pylist())) == {
        "reader/pom.xml": "XML", "src/queue.ts": "TypeScript", "translations/app_de.ts": "XML",
        "include/ringbuf.h": "C++", "docs/CHANGES.txt": "reStructuredText", "docs/notes.txt": "Text",
        "CMakeLists.txt": "CMake",
    }


def test_a_map_file_is_json_only_when_it_holds_json():
    t = _table([("dist/a.js.map", "JSON", "numbers.json"), ("html/class_graph.map", "JSON", "jline_reader_pom.xml")])
    assert data.label_rows(t)["path"].to_pylist() == ["dist/a.js.map"]  # an image map is no JSON


def test_training_parameters_can_be_overridden():
    from codesieve.filters.langid.train import config_with

    cfg = config_with(["lr=0.2", "epoch=7"])
    assert (cfg.lr, cfg.epoch, cfg.dim) == (0.2, 7, TrainConfig().dim)
    with pytest.raises(SystemExit, match="--param 'speed=3'"):
        config_with(["speed=3"])


def test_reserved_packages_are_dropped(tmp_path):
    reserved = data.reserved_packages()
    if not reserved:
        pytest.skip("RESERVED.txt not found")
    assert {"debian/sqlite3", "npm/jquery"} <= reserved
    t = _table([("a.py", "Python", "comments_german.py"), ("b.go", "Go", "comments_chinese.go"),
                ("c.pm", "Perl", "uri_split.pm")])
    t = t.set_column(t.column_names.index("source"), "source", pa.array(["debian-bin", "npm", "npm"]))
    t = t.set_column(t.column_names.index("package"), "package", pa.array(["sqlite3", "jquery", "left-pad"]))
    pq.write_table(t, tmp_path / "part-0.parquet")
    out = data.read_corpus([str(tmp_path)])
    assert out["package"].to_pylist() == ["npm/left-pad"]


def test_inputs_without_a_split_are_split_by_package():
    table = data.read_corpus([SAMPLES], dev_share=0.3)
    assert not set(table["package"].to_pylist()) & data.reserved_packages()
    splits = defaultdict(set)
    for p, s in zip(table["package"].to_pylist(), table["split"].to_pylist()):
        splits[p].add(s)
    assert all(len(s) == 1 for s in splits.values())  # versions of a package never straddle
    assert {"train", "dev"} == set().union(*splits.values())


def test_duplicates_keep_the_train_copy():
    t = _table([("a.py", "Python", "comments_german.py"), ("b.py", "Python", "comments_german.py"),
                ("c.go", "Go", "comments_chinese.go")])
    t = t.set_column(t.column_names.index("split"), "split", pa.array(["test", "train", "dev"]))
    out = data.drop_duplicates(t)
    assert sorted(out["path"].to_pylist()) == ["b.py", "c.go"]


@pytest.mark.slow
def test_recipe_is_reproducible_bit_for_bit(tmp_path):
    # tiny data: a small lr (0.5 diverges here); a small bucket / cutoff (the next test fits
    # these bit for bit), as the recipe's fit is what it checks, not the shipped sizes
    cfg = replace(TrainConfig(), epoch=2, min_files=5, chunks=1, extra_dev_share=0.4,
                  min_calibration_support=5, lr=0.1, bucket=20_000, quantize_cutoff=5_000)
    a = train([SAMPLES], [], tmp_path / "a" / "m.ftz", cfg)
    b = train([SAMPLES], [], tmp_path / "b" / "m.ftz", cfg)
    assert a["model_sha256"] == b["model_sha256"]
    assert hashlib.sha256((tmp_path / "a" / "m.ftz").read_bytes()).hexdigest() == a["model_sha256"]
    assert a["calibration"] == b["calibration"] and a["calibration"]["dev_files"] > 0
    assert a["labels"] and pc.sum(pa.array(list(a["train_counts"].values()))).as_py() == a["train_files"]


#: run before fastText in the child: freed heap memory full of 0xA5 bytes (a 20 MB free first
#: raises glibc's dynamic mmap threshold, so later allocations reuse the heap), as in a process
#: that has done other work before training
_DIRTY_HEAP = "x = bytearray(20_000_000); del x\nys = [bytearray(bytes([0xA5]) * 1_000_000) for _ in range(12)]; del ys\n"


@pytest.mark.slow
def test_fasttext_fit_ignores_what_the_process_did_before(tmp_path):
    # fastText (one thread) never writes 9/10 of its input matrix; with a small bucket the
    # matrix comes from the heap. A dirty heap once gave a different model (or NaN) under load.
    cfg = replace(TrainConfig(), epoch=2, min_files=5, chunks=1, extra_dev_share=0.4, lr=0.1,
                  bucket=20_000, quantize_cutoff=5_000)
    path = str(tmp_path / "train.txt")
    write_fasttext_file(training_rows(load_labelled([SAMPLES], [], cfg, ("train",)), cfg), path, cfg)

    def fit(name: str, prelude: str, env: dict) -> str | None:
        out = tmp_path / f"{name}.ftz"
        cmd = fit_command(path, out, cfg)
        cmd[2] = prelude + cmd[2]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
        return hashlib.sha256(out.read_bytes()).hexdigest() if done.returncode == 0 else None

    clean = fit("clean", "", FIT_ENV)
    assert clean is not None
    assert fit("dirty", _DIRTY_HEAP, FIT_ENV) == clean
    assert fit("dirty_default_malloc", _DIRTY_HEAP, {}) != clean  # the hazard FIT_ENV removes
