"""Labelled files for the content model: reading, labels a content model can learn, splits.

Inputs are Parquet shards with the dev-corpus schema (`id, content, path, repo_name, source,
language, ...`). The registry corpus adds `package` and `split` (train / dev / test, by
package); other inputs (the dev corpus, data_samples) get `package` from `repo_name` and a
split by package hash. Packages listed in `RESERVED.txt` (kept for independent evaluation)
are dropped from every split, any version.

Labels: the crawl's `language` comes from the file name. File-name-only classes (Maven POM,
ignore lists, checksum files, test expectations...) are mapped to what their content is or
dropped; files with an ambiguous extension (`.h`, `.ts`, `.pl`...) are labelled by the
extension's conclusive content heuristics (`heuristics.disambiguate`) or dropped (a `.h`
without conclusive evidence is never guessed C or C++ from its package; a `.txt` that is a
reStructuredText document by content is labelled so, as the gate decides it).
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

from codesieve.filters.langid.heuristics import disambiguate
from codesieve.filters.langid.paths import AMBIGUOUS, DATA_CLASSES, DATA_EXTENSIONS

RESERVED = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "RESERVED.txt"
COLUMNS = ["id", "content", "path", "repo_name", "source", "language"]

#: file-name classes whose content is an ordinary language
CONTENT_LABEL: dict[str, str] = {
    "Maven POM": "XML", "JSON with Comments": "JSON", "Git Config": "INI", "EditorConfig": "INI",
    "XML Property List": "XML", "Pipfile": "TOML",
    # pygments names `*.n` Nemerle; in package crawls they are Tcl/Tk man pages (nroff)
    "Nemerle": "Roff",
}
#: file-name classes a content model cannot tell apart (never labels)
FILENAME_ONLY: frozenset[str] = frozenset({
    "unknown", "Ignore List", "Git Attributes", "Go Checksums", "Go Module", "Go Workspace",
    "Pip Requirements", "Cabal Config", "Debian Control", "Pkg-config", *DATA_CLASSES,
})


def package_of(repo_name: str) -> str:
    """`npm/@types/node@20.1.0` -> `npm/@types/node` (versions of one package group together)."""
    return repo_name.rsplit("@", 1)[0] if "@" in repo_name[1:] else repo_name


def stable_hash(s: str) -> int:
    """64-bit hash of a string, the same in every process (unlike `hash`)."""
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big")


def parquet_files(inputs: list[str]) -> list[str]:
    files: list[str] = []
    for inp in inputs:
        if os.path.isdir(inp):
            files += sorted(glob.glob(os.path.join(inp, "**", "*.parquet"), recursive=True))
        elif os.path.exists(inp):
            files.append(inp)
    return files


def read_corpus(
    inputs: list[str], dev_share: float = 0.0, splits: tuple[str, ...] | None = None, holdout_share: float = 0.0
) -> pa.Table:
    """Rows of `inputs` with `package` (`source/name`) and `split`; reserved packages dropped.

    Files without a `split` column are split by package hash: `dev_share` of packages to dev,
    `holdout_share` to `holdout` (never used by the recipe), the rest to train. `splits` keeps only those splits (read filtered, to save memory).
    """
    tables = []
    for f in parquet_files(inputs):
        names = pq.read_schema(f).names
        if not all(c in names for c in COLUMNS):
            continue
        cols = COLUMNS + [c for c in ("package", "split") if c in names]
        filt = pc.is_in(pc.field("split"), pa.array(list(splits))) if splits and "split" in names else None
        tables.append(_with_split(pq.read_table(f, columns=cols, filters=filt), dev_share, holdout_share))
    if not tables:
        raise SystemExit(f"no Parquet file with columns {COLUMNS} under {inputs}")
    table = pa.concat_tables(tables).combine_chunks()
    reserved = reserved_packages()
    keep = pa.array([p not in reserved for p in table["package"].to_pylist()])
    table = table.filter(keep)
    if splits:
        table = table.filter(pc.is_in(table["split"], pa.array(list(splits))))
    return table


def corpus_packages(inputs: list[str], split: str) -> set[str]:
    """`source/name` of the packages in one split of a corpus with a `split` column."""
    out: set[str] = set()
    for f in parquet_files(inputs):
        names = pq.read_schema(f).names
        if not {"source", "package", "split"} <= set(names):
            continue
        t = pq.read_table(f, columns=["source", "package", "split"], filters=pc.field("split") == split)
        out |= {f"{_family(s)}/{p}" for s, p in zip(t["source"].to_pylist(), t["package"].to_pylist())}
    return out


def _with_split(t: pa.Table, dev_share: float, holdout_share: float) -> pa.Table:
    """Unify `package` to `source/name` and add `split` where the file has none."""
    if "package" in t.column_names:
        pkgs = [f"{_family(s)}/{p}" for s, p in zip(t["source"].to_pylist(), t["package"].to_pylist())]
        t = t.drop_columns(["package"])
    else:
        pkgs = [_family(package_of(r)) for r in t["repo_name"].to_pylist()]
    t = t.append_column("package", pa.array(pkgs, pa.string()))
    if "split" not in t.column_names:
        cut_dev, cut_hold = dev_share * 2**64, (dev_share + holdout_share) * 2**64
        hashes = [stable_hash(p) for p in pkgs]
        split = ["dev" if h < cut_dev else "holdout" if h < cut_hold else "train" for h in hashes]
        t = t.append_column("split", pa.array(split, pa.string()))
    t = t.select(COLUMNS + ["package", "split"])
    # one schema whatever the shard wrote (`content` may be string or large_string)
    return t.cast(pa.schema([pa.field(c, pa.large_string() if c == "content" else pa.string()) for c in t.column_names]))


def _family(name: str) -> str:
    """`debian-bin/x` -> `debian/x`: Debian source and binary package names share one space."""
    return "debian" + name[len("debian-bin"):] if name.startswith("debian-bin") else name


def reserved_packages(path: Path = RESERVED) -> set[str]:
    """`source/name` of every reserved package (Debian binary entries count as `debian/`)."""
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            out.add(_family(f"{parts[0]}/{parts[1]}"))
    return out


def label_rows(table: pa.Table) -> pa.Table:
    """Adds `label` (what the content is) and drops rows without a learnable label."""
    langs = pc.fill_null(table["language"], "unknown")
    for src, dst in CONTENT_LABEL.items():
        langs = pc.if_else(pc.equal(langs, src), dst, langs)
    label = np.array(langs.to_pylist(), dtype=object)
    ext = pc.utf8_lower(pc.fill_null(pc.struct_field(pc.extract_regex(table["path"], r"\.(?P<e>[^./]+)$"), [0]), ""))
    ext_np = np.array(ext.to_pylist(), dtype=object)
    for e, cands in AMBIGUOUS.items():
        # only where the crawl went by the extension (`CMakeLists.txt` stays CMake)
        rows = np.flatnonzero((ext_np == e) & np.isin(label, list(cands)))
        if len(rows):
            found = disambiguate(pc.utf8_slice_codeunits(table["content"].take(pa.array(rows)), 0, 8192), e)
            label[rows] = np.array(found.to_pylist(), dtype=object)
    # names that mark test expectations / logs / data: never content labels, whatever the crawl said
    label[np.isin(ext_np, list(DATA_EXTENSIONS))] = None
    # `.map` is JSON only when it holds JSON (source maps); doxygen's image maps (`<map id=...>`) are not
    maps = np.flatnonzero(ext_np == "map")
    if len(maps):
        head = pc.utf8_slice_codeunits(table["content"].take(pa.array(maps)), 0, 64)
        json_like = pc.fill_null(pc.match_substring_regex(head, r"^\x{FEFF}?\s*[\[{]"), False)
        label[maps[~json_like.to_numpy(zero_copy_only=False)]] = None
    ok = np.array([x is not None and x not in FILENAME_ONLY for x in label], dtype=bool)
    ok &= pc.greater(pc.utf8_length(table["content"]), 0).to_numpy(zero_copy_only=False)
    return table.append_column("label", pa.array(label.tolist(), pa.string())).filter(pa.array(ok))


def drop_duplicates(table: pa.Table) -> pa.Table:
    """One row per distinct content; a text that is in train is dropped from dev and test.

    Rows are ranked train < dev < test, then by id, so the kept copy is deterministic.
    """
    rank = {"train": 0, "dev": 1, "test": 2}
    splits, ids = table["split"].to_pylist(), table["id"].to_pylist()
    order = sorted(range(table.num_rows), key=lambda i: (rank.get(splits[i], 3), ids[i]))
    seen: set[bytes] = set()
    keep = []
    for i, text in zip(order, table["content"].take(pa.array(order)).to_pylist()):
        h = hashlib.sha1(text.encode("utf-8", "replace")).digest()
        if h not in seen:
            seen.add(h)
            keep.append(i)
    return table.take(pa.array(sorted(keep)))


def cap_rows(table: pa.Table, keys: list[str], cap: int) -> pa.Table:
    """At most `cap` rows per distinct value of the `keys` columns, chosen by id hash."""
    key = [tuple(x) for x in zip(*(table[k].to_pylist() for k in keys))]
    ids = table["id"].to_pylist()
    order = sorted(range(len(key)), key=lambda i: (key[i], stable_hash(ids[i])))
    seen: dict[tuple, int] = {}
    take = []
    for i in order:
        if seen.get(key[i], 0) < cap:
            seen[key[i]] = seen.get(key[i], 0) + 1
            take.append(i)
    return table.take(pa.array(sorted(take)))
