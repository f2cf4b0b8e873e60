"""End-to-end `codesieve run` on the real sample shards: conservation, determinism across
executors and worker counts, crash recovery (SIGKILL), input formats, carried columns."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import CONFIGS, tier_files

from codesieve.pipeline.config import build_config, load_config
from codesieve.pipeline.executors import LocalExecutor, RayExecutor
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.runner import RunSpec, run, warm_task

CLI = [sys.executable, "-m", "codesieve"]


def small_units_config(tmp_path: Path, unit_rows: int = 100) -> Path:
    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    raw["input"]["unit_rows"] = unit_rows
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def read_all(out: Path) -> pa.Table:
    return output_dataset(str(out)).to_table()


def input_rows(folder: Path) -> int:
    n = sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))
    import zstandard

    for p in folder.glob("*.jsonl.zst"):
        data = zstandard.ZstdDecompressor().stream_reader(p.open("rb")).read()
        n += sum(1 for line in data.splitlines() if line.strip())
    return n


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import SAMPLES

    tmp = tmp_path_factory.mktemp("local")
    out = tmp / "out"
    cfg = load_config(small_units_config(tmp, unit_rows=200))  # several units: parallel runs really interleave
    run(cfg, str(SAMPLES), str(out), LocalExecutor(), quiet=True)
    return out


def test_conservation_and_unique_ids(local_run: Path) -> None:
    from conftest import SAMPLES

    table = read_all(local_run)
    manifest = json.loads((local_run / ".codesieve" / "manifest.json").read_text())
    assert table.num_rows == input_rows(SAMPLES) == manifest["rows_in"] == manifest["rows_out"]
    assert pc.count_distinct(table.column("id")).as_py() == table.num_rows
    # every row sits in the folder of its own tier, with reasons iff it failed a gate
    for path in (local_run).glob("tier=*/part-*.parquet"):
        k = int(path.parent.name[5:])
        t = pq.read_table(path)
        assert set(t.column("tier").to_pylist()) == {k}
        n_gates = len(manifest["config"]["gates"])
        if k < n_gates:
            assert all(len(r) > 0 for r in t.column("reasons").to_pylist())
            assert t.column("stage_failed").null_count == 0
        else:
            assert t.column("stage_failed").null_count == t.num_rows
    assert sum(t["rows"] for t in manifest["tiers"].values()) == manifest["rows_in"]


def test_messy_rows_are_quarantined_not_lost(local_run: Path) -> None:
    table = read_all(local_run)
    nul = table.filter(pc.match_substring(table.column("content"), "\x00"))
    assert nul.num_rows >= 1  # data_samples carries real files with NUL bytes
    assert set(nul.column("tier").to_pylist()) == {0}
    assert all(r == ["nul_byte"] for r in nul.column("reasons").to_pylist())
    assert set(nul.column("stage_failed").to_pylist()) == {"input"}


def test_jsonl_zst_and_parquet_inputs_and_extra_columns(local_run: Path) -> None:
    from conftest import SAMPLES

    table = read_all(local_run)
    src = pq.read_table(sorted(SAMPLES.glob("*.parquet")))
    # extra input columns survive untouched (Parquet rows keep their ids)
    joined = src.select(["id", "repo_name", "size", "source"]).join(
        table.select(["id", "repo_name", "size", "source"]), "id", right_suffix="_out"
    )
    assert joined.num_rows == src.num_rows
    for col in ("repo_name", "size", "source"):
        assert joined.column(col).equals(joined.column(f"{col}_out"))
    # JSONL.zst rows (no id column there) got stable generated 32-hex ids
    markdown2 = table.filter(pc.equal(table.column("repo_name"), "pypi/markdown2@2.4.13"))
    assert markdown2.num_rows > 100
    assert all(len(i) == 32 for i in markdown2.column("id").to_pylist())
    assert set(table.column_names) >= {"tier", "stage_failed", "reasons", "lang", "dup_cluster"}


def test_natural_language_only_for_rows_that_pass_every_gate(local_run: Path) -> None:
    """`nl_lang`/`nl_score` are late columns: null on every rejected row (no gate decides on
    them), and on the rows that pass every gate exactly what the language gate measures."""
    from codesieve.core.base import UnitContext
    from codesieve.core.batch import DocBatch
    from codesieve.filters.language import LanguageGate

    table = read_all(local_run)
    passed = pc.starts_with(table.column("tier_name"), "passed")
    rejected = table.filter(pc.invert(passed))
    assert rejected.filter(pc.is_valid(rejected.column("lang"))).num_rows > 100  # they passed the language gate
    assert rejected.column("nl_lang").null_count == rejected.column("nl_score").null_count == rejected.num_rows
    top = table.filter(passed)
    assert top.num_rows - top.column("nl_lang").null_count > 100  # most files with enough comment text
    assert pc.is_valid(top.column("nl_lang")).equals(pc.is_valid(top.column("nl_score")))
    gate = next(g for g in load_config(small_units_config(local_run.parent)).gates if isinstance(g, LanguageGate))
    again = gate.late_columns(DocBatch(top.combine_chunks()), UnitContext(0, ""))
    assert again["nl_lang"].equals(top.column("nl_lang").combine_chunks())
    assert again["nl_score"].equals(top.column("nl_score").combine_chunks())


def test_identical_output_local_ray1_ray2(tmp_path: Path, local_run: Path) -> None:
    from conftest import SAMPLES

    expected = tier_files(local_run)
    assert expected
    cfg = load_config(small_units_config(tmp_path, unit_rows=200))  # as local_run
    driver_threads = os.getenv("RAYON_NUM_THREADS")
    for workers in (1, 2):
        out = tmp_path / f"ray{workers}"
        warm = functools.partial(warm_task, cfg.resolved(), cfg.gate_names()) if workers == 2 else None
        ex = RayExecutor(workers=workers, preload=("codesieve.pipeline.runner",) if workers == 2 else (), warm=warm)
        try:
            manifest = run(cfg, str(SAMPLES), str(out), ex, quiet=True)
            assert manifest["timings"]["workers_start"] > 0  # reported apart from `total`
            # lingua's thread pool is pinned in the workers (through the raylet's environment)
            threads = ex.map(os.getenv, [("RAYON_NUM_THREADS",)] * workers)
        finally:
            ex.close()
        assert tier_files(out) == expected, f"Ray with {workers} worker(s) differs from local"
        assert threads == ["1"] * workers and os.getenv("RAYON_NUM_THREADS") == driver_threads


def test_warm_task_loads_the_active_gates_models() -> None:
    """A worker's start-up loads what the active gates' first unit would: the quality
    models, the content model, the NL detector, the benchmark n-gram table; a gate left out
    of the run loads nothing."""
    from codesieve.filters import decontam
    from codesieve.filters.langid import content, natural
    from codesieve.pipeline import runner

    cfg = load_config(CONFIGS / "default.yaml")
    names = cfg.gate_names()
    runner._CONFIG_CACHE.clear()
    warm_task(cfg.resolved(), ["rules"])
    gates = {g.name: g for g in RunSpec(cfg.resolved(), names, "", "").pipeline().gates}
    assert not gates["quality"]._loaded
    warm_task(cfg.resolved(), names)
    assert gates["quality"]._loaded  # the same gate objects the tasks get
    fasttext = next(s for s, _ in gates["quality"].scorers if s.name == "fasttext")
    assert "fallback" in fasttext.models
    assert content.load_content_model.cache_info().currsize >= 1
    assert natural._detector.cache_info().currsize >= 1
    assert decontam._low_bit_table.cache_info().currsize >= 1
    runner._CONFIG_CACHE.clear()


def test_ray_with_many_small_units_matches_local(tmp_path: Path, samples: Path) -> None:
    """Unit count changes ids nowhere and tiers nowhere: only file boundaries move."""
    cfg_path = small_units_config(tmp_path, unit_rows=200)
    out_small, out_big = tmp_path / "small", tmp_path / "big"
    run(load_config(cfg_path), str(samples), str(out_small), LocalExecutor(), quiet=True)
    run(load_config(CONFIGS / "default.yaml"), str(samples), str(out_big), LocalExecutor(), quiet=True)
    a = read_all(out_small).sort_by("id")
    b = read_all(out_big).sort_by("id")
    assert a.column("id").equals(b.column("id"))
    assert a.column("tier").equals(b.column("tier"))
    assert len(list(out_small.glob("tier=*/part-*.parquet"))) > len(list(out_big.glob("tier=*/part-*.parquet")))


def _count(folder: Path) -> int:
    """Finished units (a done record being written is a `.tmp-*` file, which `*` matches)."""
    return len(list(folder.glob("unit-*.json"))) if folder.exists() else 0


def test_sigkill_then_rerun_gives_identical_output(tmp_path: Path, local_run: Path) -> None:
    from conftest import SAMPLES

    ref = local_run  # an uninterrupted run of the same config and input
    cfg = small_units_config(tmp_path, unit_rows=200)  # as local_run
    out = tmp_path / "out"
    args = CLI + ["run", "--config", str(cfg), "--input", str(SAMPLES), "--output", str(out),
                  "--workers", "2", "--quiet"]
    proc = subprocess.Popen(args, start_new_session=False)
    done = out / ".codesieve" / "work" / "done" / "pass0"
    deadline = time.time() + 120
    while _count(done) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed; make units smaller"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / ".codesieve" / "manifest.json").exists()
    units = json.loads((ref / ".codesieve" / "manifest.json").read_text())["input"]["units"]
    assert units >= 8
    assert 4 <= _count(done) < units  # part-way: some units done, not all
    res = subprocess.run(args[:-1], capture_output=True, text=True)  # without --quiet: says it resumes
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    assert tier_files(out) == tier_files(ref)
    kept = json.loads((out / ".codesieve" / "manifest.json").read_text())["reused"]["pass0"]
    assert 4 <= kept < units
    # its time covers only what it redid: the summary says so instead of a throughput
    assert f"resumed: kept {kept} of {units} units of pass 0" in res.stdout and "MB/s" not in res.stdout
    from codesieve.pipeline.report import build, render_html

    rep, figs = build(str(out))  # the report says so too
    assert rep["reused"]["pass0"] == kept and "A resumed run" in render_html(rep, figs)
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to do" in (again.stderr + again.stdout)


def test_kill_during_pass2_then_rerun(tmp_path: Path, samples: Path) -> None:
    """A crash after some tier files of a unit were written must not leave stale rows."""
    cfg = load_config(small_units_config(tmp_path, unit_rows=300))
    ref, out = tmp_path / "ref", tmp_path / "out"
    run(cfg, str(samples), str(ref), LocalExecutor(), quiet=True)
    run(cfg, str(samples), str(out), LocalExecutor(), quiet=True)
    # simulate a crash in pass 2: unit 1's completion record and manifest gone, one tier file half-done
    (out / ".codesieve" / "manifest.json").unlink()
    (out / ".codesieve" / "work" / "done" / "pass1" / "unit-00001.json").unlink()
    victim = next(out.glob("tier=*/part-00001.parquet"))
    victim.write_bytes(b"PAR1 truncated")
    run(cfg, str(samples), str(out), LocalExecutor(), quiet=True)
    assert tier_files(out) == tier_files(ref)


def test_changed_pass2_setting_keeps_pass1(tmp_path: Path, samples: Path) -> None:
    raw = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    out = tmp_path / "out"
    run(build_config(raw), str(samples), str(out), LocalExecutor(), quiet=True)
    done1 = {p: p.stat().st_mtime_ns for p in (out / ".codesieve" / "work" / "done" / "pass0").glob("*.json")}
    raw["output"]["keep_text_from_tier"] = 2  # only pass 2 depends on it
    said: list[str] = []
    manifest = run(build_config(raw), str(samples), str(out), LocalExecutor(), quiet=True, overwrite=True,
                   log=said.append)
    assert {p: p.stat().st_mtime_ns for p in done1} == done1
    n = len(done1)
    # the rerun says what it reuses and why it redoes the rest
    assert said == [f"resuming: pass 0 has {n} of {n} units done", "resuming: dedup's global step is done",
                    f"pass 1: redoing {n} earlier result{'s' * (n > 1)} made with other settings or input"]
    assert manifest["reused"] == {"pass0": n, "global:dedup": 1, "pass1": 0}
    low = output_dataset(str(out), tiers=[0, 1]).to_table()
    high = output_dataset(str(out), tiers=[2, 3, 4, 5]).to_table()
    assert low.column("content").null_count == low.num_rows
    assert high.column("content").null_count == 0
    assert manifest["rows_out"] == manifest["rows_in"]


def test_completion_records_say_why_they_are_not_reused(tmp_path: Path) -> None:
    from codesieve.core.atomic import write_json_atomic
    from codesieve.pipeline.manifest import read_record

    path = str(tmp_path / "unit-00000.json")
    assert read_record(path, "k", "v1") == (None, "missing")
    (tmp_path / "unit-00000.json").write_text('{"key": "k", "co')  # torn
    assert read_record(path, "k", "v1") == (None, "missing")
    write_json_atomic({"key": "k", "code": "v1", "stats": {"rows": 3}}, path)
    assert read_record(path, "k", "v1") == ({"rows": 3}, "")
    assert read_record(path, "k2", "v1") == (None, "settings")
    assert read_record(path, "k2", "v2") == (None, "code")


def test_gates_subset_runs_dedup_only(tmp_path: Path, samples: Path) -> None:
    cfg = load_config(CONFIGS / "default.yaml")
    out = tmp_path / "out"
    m = run(cfg, str(samples), str(out), LocalExecutor(), gates=["dedup"], quiet=True)
    table = read_all(out)
    stages = set(table.column("stage_failed").drop_null().to_pylist())
    assert stages <= {"dedup", "input"} and "dedup" in stages
    assert table.column("lang").null_count == table.num_rows  # language gate did not run
    assert m["gates_active"] == ["dedup"]
    dup = table.filter(pc.equal(table.column("stage_failed"), "dedup"))
    assert dup.num_rows > 0 and pc.min(dup.column("dup_cluster_size")).as_py() >= 2


def test_limit_rows(tmp_path: Path, samples: Path) -> None:
    cfg = load_config(CONFIGS / "default.yaml")
    m = run(cfg, str(samples), str(tmp_path / "o"), LocalExecutor(), limit_rows=250, quiet=True)
    assert m["rows_in"] == m["rows_out"] == 250


def test_dedup_index_flag_dedups_against_an_earlier_run(tmp_path: Path, samples: Path) -> None:
    index = tmp_path / "index"
    first = samples / "code-00000.parquet"
    base = CLI + ["run", "--config", str(CONFIGS / "default.yaml"), "--executor", "local", "--quiet",
                  "--dedup-index", str(index)]
    subprocess.run(base + ["--input", str(first), "--output", str(tmp_path / "crawl1")], check=True)
    kept = set(output_dataset(str(tmp_path / "crawl1"), tiers=[3, 4, 5]).to_table().column("id").to_pylist())
    assert kept
    subprocess.run(base + ["--input", str(samples), "--output", str(tmp_path / "crawl2")], check=True)
    second = read_all(tmp_path / "crawl2")
    again = second.filter(pc.is_in(second.column("id"), pa.array(sorted(kept))))
    # every file kept by the first crawl is now a duplicate of the index's copy
    assert again.num_rows == len(kept)
    assert set(again.column("stage_failed").to_pylist()) == {"dedup"}
    # without the index, the same second run keeps them
    subprocess.run(CLI + ["run", "--config", str(CONFIGS / "default.yaml"), "--executor", "local", "--quiet",
                          "--input", str(samples), "--output", str(tmp_path / "noindex")], check=True)
    alone = read_all(tmp_path / "noindex")
    alone = alone.filter(pc.is_in(alone.column("id"), pa.array(sorted(kept))))
    dup_alone = pc.sum(pc.equal(alone.column("stage_failed"), "dedup")).as_py() or 0
    assert dup_alone < len(kept) // 2


def test_changed_code_is_not_nothing_to_do(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: the resume key carries codesieve.code_fingerprint() (a hash of every source
    and model file), so a rerun after a code change redoes the work."""
    import codesieve.pipeline.keys as keys

    cfg = load_config(CONFIGS / "default.yaml")
    out = tmp_path / "out"
    first = run(cfg, str(samples), str(out), LocalExecutor(), gates=["rules"], quiet=True)
    capsys.readouterr()
    again = run(cfg, str(samples), str(out), LocalExecutor(), gates=["rules"], quiet=True)
    assert "nothing to do" in capsys.readouterr().err and again["run_key"] == first["run_key"]
    monkeypatch.setattr(keys, "code_fingerprint", lambda: "a-changed-rule-file")
    changed = run(cfg, str(samples), str(out), LocalExecutor(), gates=["rules"], quiet=False)
    err = capsys.readouterr().err
    assert "nothing to do" not in err and "resuming" not in err
    assert "pass 0: redoing 1 earlier result made with another codesieve version or model files" in err
    assert changed["run_key"] != first["run_key"]
