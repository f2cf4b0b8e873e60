"""Training data for the quality scorers: corpus loading, labels, package splits.

Labels (the shipped recipe, `weak_labels`), one per file, combining signals because
popularity alone is a weak label (data-juicer's stars-only classifier: F1 0.62):

- negative (0): files the `rules` gate rejects (minified, generated, data-heavy, encoded
  blobs: hard negatives), files under vendored / generated / build-output paths, and, when
  the corpus has a `popularity` column, every file of the long-tail packages (bottom third
  of popularity ranks within its source registry);
- positive (1): files that pass the rules, sit outside those paths, and (with popularity)
  come from the top third of packages by popularity;
- files in between (middle third) are left out.

A labels file (`id` + `label` or `score`) replaces all of that (`codesieve train-scorer
--labels`). Splits are by package (`repo_name` without version), never by file; a `split`
column in the corpus wins. Packages in RESERVED.txt are never read.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codesieve.core.errors import UserError

COLUMNS = ["id", "content", "path", "repo_name", "language"]
OPTIONAL = ["source", "popularity", "split", "package"]
#: vendored copies, generated code and build outputs (directory names, any depth)
VENDORED_PATH = (
    r"(?i)(^|/)(vendor|vendored|third[_-]?party|thirdparty|node_modules|bower_components|dist|build|"
    r"_build|out|gen|generated|autogen|external|deps|extern)/|\.min\.[a-z]+$|[.-]bundle\.js$|\.pb\.go$|_pb2\.py$"
)
RESERVED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "RESERVED.txt"


def package_of(repo_name: pa.Array) -> pa.Array:
    """`npm/lodash@4.17.21` -> `npm/lodash` (versions of one package group together)."""
    return pc.replace_substring_regex(repo_name, r"(.)@[^@/]*$", r"\1")


def stable_unit(keys: list[str], salt: str = "") -> np.ndarray:
    """A deterministic number in [0, 1) per key (sha256)."""
    return np.array(
        [int.from_bytes(hashlib.sha256((salt + k).encode()).digest()[:8], "big") / 2**64 for k in keys]
    )


def reserved_packages(path: str | os.PathLike | None = None) -> set[str]:
    """`source/name` of every package kept for independent evaluation."""
    p = Path(path) if path else RESERVED
    if not p.exists():
        return set()
    out = set()
    for line in p.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            out.add(f"{parts[0].replace('debian-bin', 'debian')}/{parts[1]}")
    return out


def parquet_files(inputs: list[str]) -> list[str]:
    files: list[str] = []
    for inp in inputs:
        if os.path.isdir(inp):
            files += sorted(glob.glob(os.path.join(inp, "**", "*.parquet"), recursive=True))
        elif any(ch in inp for ch in "*?["):
            files += sorted(glob.glob(inp, recursive=True))
        elif os.path.exists(inp):
            files.append(inp)
        else:
            raise UserError(f"--input {inp}: no such file or folder")
    if not files:
        raise UserError(f"--input {' '.join(inputs)}: no .parquet files")
    return files


def read_corpus(inputs: list[str], reserved: set[str] | None = None) -> pa.Table:
    """Rows of every Parquet file under `inputs` with the corpus columns, plus `package`,
    reserved packages dropped. Columns: COLUMNS + whichever of OPTIONAL exist."""
    tables = []
    for f in parquet_files(inputs):
        names = pq.read_schema(f).names
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise UserError(f"{f}: missing column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
        tables.append(pq.read_table(f, columns=COLUMNS + [c for c in OPTIONAL if c in names]))
    table = pa.concat_tables(tables, promote_options="default").combine_chunks()
    pkg = package_of(table["repo_name"])
    if "package" in table.column_names:
        table = table.drop_columns(["package"])
    table = table.append_column("package", pkg)
    reserved = reserved_packages() if reserved is None else reserved
    if reserved:
        table = table.filter(pc.invert(pc.is_in(pkg, pa.array(sorted(reserved)))))
    return table


def split_of(table: pa.Table, dev_share: float = 0.2, test_share: float = 0.2, salt: str = "quality") -> np.ndarray:
    """'train' / 'dev' / 'test' per row, by package: the corpus `split` column if present,
    else a sha256 draw per package."""
    if "split" in table.column_names:
        return np.asarray(pc.fill_null(table["split"], "train").to_pylist(), dtype=object)
    pkgs = table["package"].to_pylist()
    uniq = sorted(set(pkgs))
    u = dict(zip(uniq, stable_unit(uniq, salt)))
    draw = np.array([u[p] for p in pkgs])
    return np.where(draw < test_share, "test", np.where(draw < test_share + dev_share, "dev", "train")).astype(object)


def dedup_and_cap(table: pa.Table, cap: int) -> pa.Table:
    """Drop exact duplicate contents (first by id order kept) and keep at most `cap` files
    per package (chosen by id hash: deterministic)."""
    order = np.argsort(np.asarray(table["id"].to_pylist(), dtype=object), kind="stable")
    table = table.take(pa.array(order))
    digests = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in table["content"].to_pylist()]
    seen: set[bytes] = set()
    keep_first = np.zeros(len(digests), dtype=bool)
    for i, d in enumerate(digests):
        if d not in seen:
            seen.add(d)
            keep_first[i] = True
    table = table.filter(pa.array(keep_first))
    rank = stable_unit(table["id"].to_pylist(), "cap")
    pkgs = np.asarray(table["package"].to_pylist(), dtype=object)
    order = np.lexsort((rank, pkgs))
    keep = np.zeros(len(pkgs), dtype=bool)
    count: dict[str, int] = {}
    for i in order:
        c = count.get(pkgs[i], 0)
        if c < cap:
            keep[i] = True
            count[pkgs[i]] = c + 1
    return table.filter(pa.array(keep))


def popularity_rank(table: pa.Table) -> np.ndarray | None:
    """Per row, its package's popularity percentile within its source registry (0 = least
    popular, 1 = most; nan where the package has none), or None when the corpus has no
    `popularity`."""
    if "popularity" not in table.column_names:
        return None
    pop = pc.fill_null(table["popularity"].cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    src = (table["source"] if "source" in table.column_names else pa.nulls(len(table), pa.string())).to_pylist()
    pkgs = table["package"].to_pylist()
    out = np.full(len(table), np.nan)  # nan: no popularity signal (e.g. Debian)
    for s in sorted(set(map(str, src))):
        rows = np.flatnonzero(np.array([str(x) == s for x in src]) & ~np.isnan(pop))
        if len(rows) == 0:
            continue
        per_pkg = {pkgs[i]: pop[i] for i in rows}
        names = sorted(per_pkg, key=lambda p: (per_pkg[p], p))
        pct = {p: (k + 0.5) / len(names) for k, p in enumerate(names)}
        out[rows] = [pct[pkgs[i]] for i in rows]
    return out


def weak_labels(table: pa.Table, rules_failed: np.ndarray) -> np.ndarray:
    """1 / 0 / -1 (unlabelled) per row, as the module docstring describes."""
    vendored = pc.fill_null(pc.match_substring_regex(table["path"], VENDORED_PATH), False).to_numpy(
        zero_copy_only=False
    )
    bad = rules_failed | vendored
    labels = np.where(bad, 0, 1).astype(np.int8)
    pct = popularity_rank(table)
    if pct is not None:
        with np.errstate(invalid="ignore"):
            labels[pct < 1 / 3] = 0
            labels[(pct >= 1 / 3) & (pct < 2 / 3) & ~bad] = -1
    return labels


def read_labels(path: str) -> dict[str, float]:
    """`id` -> label from a JSONL or Parquet file with `id` and `label` or `score` columns."""
    import pyarrow.json as pj

    if not os.path.exists(path):
        raise UserError(f"--labels {path}: no such file")
    try:
        table = pq.read_table(path) if path.endswith(".parquet") else pj.read_json(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(f"--labels {path}: cannot read ({str(exc).splitlines()[0]})") from None
    col = "label" if "label" in table.column_names else "score" if "score" in table.column_names else None
    if "id" not in table.column_names or col is None:
        raise UserError(f"--labels {path}: needs columns `id` and `label` (or `score`)")
    ids = table["id"].cast(pa.string()).to_pylist()
    vals = table[col].cast(pa.float64()).to_pylist()
    return {i: v for i, v in zip(ids, vals) if i is not None and v is not None}


def damaged_copies(table: pa.Table, labels: np.ndarray, share: float, seed: int = 0) -> pa.Table:
    """Synthetic negatives: damaged copies of a `share` of the positives (files with 20+ lines).

    Each copy gets one damage of `scorers.damage.KINDS`, drawn uniformly, with a random
    strength (15-50% of lines) where it applies; a damage that leaves the file unchanged
    (e.g. no comment lines to strip) gives no copy. Only ever called on train / dev
    packages: the corruption test damages held-out test packages. Ids get a `#damaged`
    suffix; label 0.
    """
    from codesieve.scorers.damage import KINDS, damage

    rng = np.random.default_rng(seed)
    texts = table["content"].to_pylist()
    pick, out = [], []
    for i in np.flatnonzero(labels == 1):
        if texts[i].count("\n") < 20 or rng.random() >= share:
            continue
        kind = KINDS[int(rng.integers(len(KINDS)))]
        new = damage(texts[i], kind, rng, float(rng.uniform(0.15, 0.5)))
        if new != texts[i]:
            pick.append(i)
            out.append(new)
    copies = table.take(pa.array(pick, pa.int64()))
    copies = copies.set_column(copies.column_names.index("content"), "content", pa.array(out, copies["content"].type))
    return copies.set_column(copies.column_names.index("id"), "id", pc.binary_join_element_wise(copies["id"], "#damaged", ""))
