"""Compare two output folders of `codesieve run`: tier files byte for byte, else column by column.

    python benchmarks/compare_outputs.py OLD NEW [--late nl_lang,nl_score]

Prints, per tier file, `identical` or the columns whose values differ (rows matched by
`id`). With `--late`, those columns may differ only as a late column should: null in NEW on
rows below the top tiers (`failed:*`, `quarantined:*`), equal to OLD on rows that pass every
gate. Exit status 0 when every file is identical or differs only that way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _files(out: Path) -> dict[str, Path]:
    return {str(p.relative_to(out)): p for p in sorted(out.glob("tier=*/part-*.parquet"))}


def _late_ok(old: pa.Table, new: pa.Table, name: str) -> bool:
    """`name` equals OLD on passing rows and is null on the others."""
    passed = pc.starts_with(new.column("tier_name"), "passed").combine_chunks()
    same = old.column(name).combine_chunks().filter(passed).equals(new.column(name).combine_chunks().filter(passed))
    rejected = new.column(name).combine_chunks().filter(pc.invert(passed))
    return same and rejected.null_count == len(rejected)


def compare_file(old_path: Path, new_path: Path, late: list[str]) -> tuple[bool, str]:
    """(acceptable, description) for one pair of tier files."""
    if old_path.read_bytes() == new_path.read_bytes():
        return True, "identical"
    old, new = pq.read_table(old_path), pq.read_table(new_path)
    if old.schema != new.schema:
        return False, f"schemas differ: {old.schema.names} vs {new.schema.names}"
    if old.column("id") != new.column("id"):
        return False, "rows differ (ids or order)"
    differ = [n for n in old.column_names if not old.column(n).equals(new.column(n))]
    bad = [n for n in differ if n not in late or not _late_ok(old, new, n)]
    what = "late columns only: " if not bad else "DIFFER: "
    return not bad, what + ", ".join(differ or ["file metadata / encoding"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--late", default="", help="comma-separated columns allowed to become null on rejected rows")
    args = ap.parse_args()
    late = [c for c in args.late.split(",") if c]
    old, new = _files(args.old), _files(args.new)
    ok = old.keys() == new.keys()
    if not ok:
        print(f"tier files differ: only in OLD {sorted(old.keys() - new.keys())}, "
              f"only in NEW {sorted(new.keys() - old.keys())}")
    for rel in sorted(old.keys() & new.keys()):
        good, what = compare_file(old[rel], new[rel], late)
        ok &= good
        print(f"{rel}: {what}")
    print("OK" if ok else "DIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
