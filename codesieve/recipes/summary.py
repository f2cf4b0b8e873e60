"""A plain-text summary of a built corpus (`OUT/SUMMARY.txt`): how to read it and what it holds."""

from __future__ import annotations

from codesieve.recipes.pinlist import SPLITS

HOW_TO_READ = """\
Read: pyarrow.parquet.read_table('{out}/train') (also dev/, test/); read the split folders, not
  the top folder (manifest.json, _extracted/ and _downloads/ live there).
Columns: id (sha256(repo_name/path)[:32]), content (UTF-8, invalid bytes replaced), path (inside
  the package), repo_name (pypi/NAME@VER, npm/NAME@VER, debian/NAME@VER), source (pypi|npm|debian),
  ext, language (the labeller's label; default: Linguist-style from file name, extension or shebang,
  'unknown' otherwise; an ambiguous extension takes its first candidate: .h -> C), size (bytes),
  package, version, popularity (the list's float), split (train/dev/test by sha256 of registry and
  package name: all versions of a package, and a Debian binary package with its source package,
  share a split).
Raw crawl: every text file is kept (READMEs, JSON, lock files, minified, generated, vendored);
  files over 1 MiB or with a NUL byte in the first 8 KiB are skipped and counted. Nothing is
  deduplicated across packages or versions: dedup before training.
"""


def summary_text(manifest: dict, out_dir: str, min_rows: int = 50) -> str:
    """Totals per split and rows (MB) per language and split, for languages with >= `min_rows` rows."""
    t = manifest["totals"]
    lines = [f"{out_dir}: corpus from the pinned list {manifest['list']}", "",
             HOW_TO_READ.format(out=out_dir),
             f"Totals: {t['package_versions_ok']} package versions, {t['failed']} failed (manifest 'failed'), "
             f"{t['rows']:,} rows, {t['bytes'] / 1e6:.1f} MB of text; skipped {t['skipped_by_reason']}"]
    for split, v in manifest["splits"].items():
        lines.append(f"  {split:5}: {v['packages']} packages ({v['package_versions']} versions), "
                     f"{v['rows']:,} rows, {v['bytes'] / 1e6:.1f} MB")
    langs: dict[str, dict[str, dict]] = {}
    for split, v in manifest["splits"].items():
        for lang, counts in v["by_language"].items():
            langs.setdefault(lang, {})[split] = counts
    lines += ["", f"Rows (MB) per language and split, languages with >= {min_rows} rows:",
              f"  {'language':22}" + "".join(f"{s:>17}" for s in SPLITS)]
    for lang, by in sorted(langs.items(), key=lambda kv: (-sum(c["rows"] for c in kv[1].values()), kv[0])):
        if sum(c["rows"] for c in by.values()) >= min_rows:
            cells = "".join(f"{by.get(s, {}).get('rows', 0):>9} ({by.get(s, {}).get('bytes', 0) / 1e6:5.1f})"
                            for s in SPLITS)
            lines.append(f"  {lang:22}{cells}")
    for split in ("dev", "test"):
        names = sorted(p["repo_name"] for p in manifest["packages"] if p["split"] == split)
        lines += ["", f"{split} packages ({len(names)}): " + ", ".join(names)]
    return "\n".join(lines) + "\n"
