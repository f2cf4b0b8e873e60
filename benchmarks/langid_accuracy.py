"""Accuracy of language identification on files held out from the content model's training.

    .venv/bin/python benchmarks/langid_accuracy.py [--input DIR ...] [--cap 200] [--json out.json]

Held out = the packages listed in `filters/langid/lang_content.json` (split by package, so
versions and near copies of one package never sit on both sides of the split). Truth is
the corpus' `language` label from the file name; files with ambiguous extensions are
left out of the truth (their label is a guess) and reported separately.

Tables (markdown on stdout):
  1. content model alone, paths hidden: per-language precision / recall / F1 for the 30
     most common held-out languages; accuracy overall and for files >= 200 bytes in the
     top 20 languages (the content model = fastText plus the content-only rules of
     `heuristics.CONTENT_RULES` and the shebang line; the fastText part alone is shown too);
  2. the full decision (`language` gate's identify: name, shebang, extension, heuristics,
     content model) with paths, and with paths hidden;
  3. what the gate decides for ambiguous extensions over the whole corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesieve.core.batch import DocBatch
from codesieve.filters.langid.content import META_PATH, load_content_model
from codesieve.filters.langid.paths import AMBIGUOUS
from codesieve.filters.langid.train import (
    DEFAULT_INPUTS,
    TrainConfig,
    cap_per_package,
    package_of,
    read_inputs,
    usable_rows,
)
from codesieve.filters.language import LanguageGate

PROSE = ["Text", "Markdown", "reStructuredText"]


def prf(y: np.ndarray, yh: np.ndarray, langs: list[str]) -> list[dict]:
    rows = []
    for lang in langs:
        tp = int(((y == lang) & (yh == lang)).sum())
        fp = int(((y != lang) & (yh == lang)).sum())
        fn = int(((y == lang) & (yh != lang)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        rows.append({"lang": lang, "support": int((y == lang).sum()), "precision": p, "recall": r, "f1": f})
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", action="append", help="Parquet file or folder (default: dev corpus)")
    ap.add_argument("--cap", type=int, default=200, help="max held-out files per (package, language)")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)

    meta = json.loads(META_PATH.read_text())
    cfg = TrainConfig(**meta["config"])
    raw = read_inputs(args.input or DEFAULT_INPUTS)
    table = usable_rows(raw, cfg)
    test_pkgs = set(meta["test_packages"])
    held = pa.array([package_of(r) in test_pkgs for r in table["repo_name"].to_pylist()])
    test = cap_per_package(table.filter(held), args.cap)
    model = load_content_model()
    test = test.filter(pc.is_in(test["language"], pa.array(model.labels)))
    y = np.array(test["language"].to_pylist(), dtype=object)
    big = pc.greater_equal(pc.binary_length(test["content"]), 200).to_numpy(zero_copy_only=False)
    common = [lang for lang, _ in Counter(y.tolist()).most_common()]

    t0 = time.perf_counter()
    pred = model.predict(test["content"])
    content_s = time.perf_counter() - t0
    yh = np.array(pred.lang, dtype=object)
    yh_ft = np.array(model.model_only(test["content"]).lang, dtype=object)
    per_lang = prf(y, yh, common[:30])
    top20 = np.isin(y, common[:20])

    gate = LanguageGate(LanguageGate.Params(nl_detect=False))
    with_path = gate.identify(DocBatch(test))
    no_path = gate.identify(DocBatch(test.set_column(test.column_names.index("path"), "path",
                                                     pa.nulls(test.num_rows, pa.string()))))
    full = np.array(with_path.lang.to_pylist(), dtype=object)
    blind = np.array(no_path.lang.to_pylist(), dtype=object)

    res = {
        "held_out_files": len(y),
        "held_out_packages": len(test_pkgs),
        "content_accuracy": float((yh == y).mean()),
        "content_accuracy_top20_ge200B": float((yh == y)[top20 & big].mean()),
        "content_files_top20_ge200B": int((top20 & big).sum()),
        "fasttext_only_accuracy_top20_ge200B": float((yh_ft == y)[top20 & big].mean()),
        "content_accuracy_top20_code_ge200B": float((yh == y)[top20 & big & ~np.isin(y, PROSE)].mean()),
        "content_files_top20_code_ge200B": int((top20 & big & ~np.isin(y, PROSE)).sum()),
        "full_accuracy_with_path": float((full == y).mean()),
        "full_accuracy_no_path": float((blind == y).mean()),
        "content_model_MBps": float(pc.sum(pc.binary_length(test["content"])).as_py() / 1e6 / content_s),
        "per_language": per_lang,
        "top20": common[:20],
    }

    print(f"held-out: {res['held_out_files']} files from {len(test_pkgs)} packages "
          f"(cap {args.cap} per package and language)\n")
    print("| language | files | precision | recall | F1 |\n|---|---:|---:|---:|---:|")
    for r in per_lang:
        print(f"| {r['lang']} | {r['support']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} |")
    print()
    print("| decision | files | accuracy |\n|---|---:|---:|")
    print(f"| content model alone, all held-out files | {len(y)} | {res['content_accuracy']:.3f} |")
    print(f"| content model alone, >= 200 bytes, top 20 languages | {res['content_files_top20_ge200B']} "
          f"| {res['content_accuracy_top20_ge200B']:.3f} |")
    print(f"| fastText alone (no content rules), >= 200 bytes, top 20 languages "
          f"| {res['content_files_top20_ge200B']} | {res['fasttext_only_accuracy_top20_ge200B']:.3f} |")
    print(f"| content model alone, >= 200 bytes, top 20 minus prose ({', '.join(PROSE)}) "
          f"| {res['content_files_top20_code_ge200B']} | {res['content_accuracy_top20_code_ge200B']:.3f} |")
    print(f"| full decision, path hidden (shebang + content) | {len(y)} | {res['full_accuracy_no_path']:.3f} |")
    print(f"| full decision with path | {len(y)} | {res['full_accuracy_with_path']:.3f} |")
    print("\ncontent model alone: files kept at a `min_score` and their accuracy\n")
    print("| min_score | kept | accuracy of kept |\n|---:|---:|---:|")
    res["min_score_sweep"] = []
    for thr in (0.0, 0.3, 0.5, 0.7, 0.9):
        kept = pred.score >= thr
        acc = float((yh == y)[kept].mean()) if kept.any() else float("nan")
        res["min_score_sweep"].append({"min_score": thr, "kept": float(kept.mean()), "accuracy": acc})
        print(f"| {thr:.1f} | {kept.mean():.3f} | {acc:.3f} |")
    errors = Counter((a, b) for a, b in zip(y.tolist(), full.tolist()) if a != b)
    if errors:
        print("\nfull-decision errors (truth -> decided):", ", ".join(f"{a}->{b} x{n}" for (a, b), n in
                                                                    errors.most_common(8)))

    ext = pc.utf8_lower(pc.fill_null(pc.struct_field(pc.extract_regex(raw["path"], r"\.(?P<e>[^./]+)$"), [0]), ""))
    amb = raw.filter(pc.is_in(ext, pa.array(list(AMBIGUOUS))))
    if amb.num_rows:
        d = gate.identify(DocBatch(amb))
        amb_ext = pc.utf8_lower(pc.struct_field(pc.extract_regex(amb["path"], r"\.(?P<e>[^./]+)$"), [0]))
        counts = Counter(zip(amb_ext.to_pylist(), d.lang.to_pylist(), d.source.tolist()))
        print("\nambiguous extensions over the whole input (no ground truth):\n")
        print("| ext | decided | by | files |\n|---|---|---|---:|")
        for (e, lang, src), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
            print(f"| .{e} | {lang} | {src} | {n} |")
        res["ambiguous"] = [{"ext": e, "lang": lang, "by": s, "files": n} for (e, lang, s), n in counts.items()]
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
