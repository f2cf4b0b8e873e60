"""`codesieve mix`: a training mixture from one or more pipeline outputs and a recipe.

A recipe (YAML, see configs/recipes/mix_example.yaml) gives weights over categories (code : text
: math), where categories come from (a column, the input folder, or the language), weights
per tier or band (unlisted tiers are dropped), per-language caps, the target size in tokens
or bytes, `max_repeat` and a seed. The allocation is in `pipeline/mixplan.py`; text
documents have their code removed first (`pipeline/strip.py`). Same inputs + recipe give
byte-identical shards. Writes DIR/part-NNNNN.parquet and DIR/mixture.json.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
import yaml
from pydantic import Field, model_validator

from codesieve.core.atomic import write_json_atomic, write_parquet_atomic
from codesieve.core.errors import UserError
from codesieve.core.params import Params, validate_params
from codesieve.pipeline.io import output_dataset
from codesieve.pipeline.mixplan import Group, expected_copies, feasible_total, max_bytes, whole_copies
from codesieve.pipeline.results import load_manifest, read_columns, tier_names
from codesieve.pipeline.strip import strip_code

PROSE = ["Markdown", "Text", "reStructuredText", "AsciiDoc", "Org"]
HELP = """Build a training mixture from codesieve outputs: category weights (e.g. code:text:math =
7:2:1), per-tier weights, per-language caps, a target size and a seed. Writes Parquet shards
and DIR/mixture.json with the achieved proportions and what was capped or repeated."""


class Target(Params):
    tokens: int | None = Field(None, gt=0, description="target size in estimated tokens")
    bytes: int | None = Field(None, gt=0, description="target size in UTF-8 bytes")

    @model_validator(mode="after")
    def _one(self) -> Target:
        if (self.tokens is None) == (self.bytes is None):
            raise ValueError("give exactly one of tokens, bytes")
        return self


class CategoryFrom(Params):
    column: str | None = Field(None, description="a column holding each row's category")
    sources: dict[str, str] = Field(default_factory=dict, description="--input folder -> category")
    languages: dict[str, list[str]] = Field(default_factory=lambda: {"text": list(PROSE)},
                                            description="category -> languages (the rest: default)")
    default: str = Field("code", description="category of rows nothing else assigns")


class Recipe(Params):
    name: str = ""
    seed: int = Field(0, description="seed of every random choice")
    target: Target
    bytes_per_token: float = Field(3.5, gt=0, description="bytes per token for token targets and estimates")
    categories: dict[str, float] = Field(description="category -> weight (normalized)")
    category_from: CategoryFrom = Field(default_factory=CategoryFrom)
    tiers: dict[str, float] = Field(description="tier number or name -> weight; unlisted tiers are dropped")
    lang_caps: dict[str, float] = Field(default_factory=dict, description="language -> max share of its category")
    max_repeat: float = Field(4.0, ge=1, description="no document is used more times than this")
    strip_code: list[str] = Field(default_factory=lambda: ["text"], description="categories whose code is removed")
    strip_model_min_score: float | None = Field(0.9, description="content-model score to drop a paragraph as code; null: off")
    shard_rows: int = Field(10_000, gt=0, description="rows per output shard")


def shipped_recipes() -> dict[str, str]:
    """Recipes shipped in codesieve.configs.recipes, by name (`--recipe mix_example`)."""
    from importlib import resources

    folder = resources.files("codesieve.configs.recipes")
    return {e.name[: -len(".yaml")]: str(e) for e in folder.iterdir() if e.name.endswith(".yaml")}


def load_recipe(path: str) -> Recipe:
    """A recipe file, or a shipped recipe by name; validated (unknown keys are errors)."""
    if not os.path.exists(path) and path in shipped_recipes():
        path = shipped_recipes()[path]
    try:
        raw = yaml.safe_load(open(path, encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--recipe {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"--recipe {path}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    recipe = validate_params(Recipe, raw, path)
    for name, table in (("categories", recipe.categories), ("tiers", recipe.tiers)):
        bad = [k for k, v in table.items() if v < 0]
        if bad or not any(v > 0 for v in table.values()):
            raise UserError(f"{path}: {name}: weights must be >= 0 with at least one > 0")
    if any(not 0 < v <= 1 for v in recipe.lang_caps.values()):
        raise UserError(f"{path}: lang_caps: each cap is a share in (0, 1]")
    return recipe


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("mix", help="build a training mixture from outputs and a recipe", description=HELP)
    p.add_argument("--input", required=True, nargs="+", help="one or more codesieve outputs (folders or s3:// URIs)")
    p.add_argument("--recipe", required=True, help="mixture recipe YAML, or a shipped recipe by name (mix_example)")
    p.add_argument("--output", required=True, help="folder for part-NNNNN.parquet and mixture.json")
    p.set_defaults(func=cmd_mix)
    return p


def cmd_mix(args: argparse.Namespace) -> int:
    m = mix(args.input, load_recipe(args.recipe), args.output)
    for c, d in m["categories"].items():
        print(f"{c:<8} target {d['target_share']:6.1%} achieved {d['achieved_share']:6.1%} "
              f"{d['bytes'] / 1e6:9.2f} MB {d['docs']:>8,} docs ({d['unique_docs']:,} unique)")
    print(f"{m['achieved_bytes'] / 1e6:.2f} MB of {m['target_bytes'] / 1e6:.2f} MB asked -> {args.output}")
    return 0


def _tier_weights(recipe: Recipe, manifest: dict[str, Any], where: str) -> dict[int, float]:
    names = tier_names(manifest)
    by_name = {v: k for k, v in names.items()}
    out = {}
    for key, weight in recipe.tiers.items():
        tier = int(key) if key.lstrip("-").isdigit() else by_name.get(key)
        if tier is not None and weight > 0:
            out[tier] = weight
    if not out:
        raise UserError(f"recipe tiers {sorted(recipe.tiers)}: none matches a tier of {where} "
                        f"({', '.join(f'{k}={v}' for k, v in sorted(names.items()))})")
    return out


def _categories(recipe: Recipe, table: pa.Table, source: str) -> pa.Array:
    cf = recipe.category_from
    if cf.column:
        if cf.column not in table.column_names:
            raise UserError(f"recipe category_from.column: {source} has no column {cf.column!r}")
        return pc.fill_null(table[cf.column].cast(pa.string()), cf.default).combine_chunks()
    for key, cat in cf.sources.items():
        if os.path.normpath(key) in (os.path.normpath(source), os.path.basename(os.path.normpath(source))):
            return pa.array([cat] * table.num_rows, pa.string())
    out = pa.array([cf.default] * table.num_rows, pa.string())
    lang = pc.fill_null(table["lang"].cast(pa.string()), "")
    for cat, langs in cf.languages.items():
        out = pc.if_else(pc.is_in(lang, pa.array(langs, pa.string())), cat, out)
    return out


def load_input(recipe: Recipe, out: str) -> pa.Table:
    """Eligible rows of one output: tier weight > 0, category in the recipe; code stripped."""
    manifest = load_manifest(out)
    weights = _tier_weights(recipe, manifest, out)
    text_col = manifest.get("config", {}).get("input", {}).get("text_column", "content")
    cols = ["id", text_col, "path", "repo_name", "lang", "tier"]
    if recipe.category_from.column:
        cols.append(recipe.category_from.column)
    t = read_columns(output_dataset(out, sorted(weights)), cols)
    t = t.rename_columns(["id", "content", *cols[2:]])
    t = t.filter(pc.is_valid(t["content"]))
    cat = _categories(recipe, t, out)
    t = t.append_column("category", cat).filter(pc.is_in(cat, pa.array(list(recipe.categories))))
    w = pa.array([weights[k] for k in t["tier"].to_pylist()], pa.float64())
    t = t.append_column("weight", w).append_column("source", pa.array([out] * t.num_rows, pa.string()))
    rows = np.flatnonzero(pc.is_in(t["category"], pa.array(recipe.strip_code or [""], pa.string()))
                          .to_numpy(zero_copy_only=False))
    removed = np.zeros(t.num_rows, dtype=np.int64)
    if len(rows):  # only the documents of the categories to strip
        take = pa.array(rows)
        text, removed[rows] = strip_code(t["content"].take(take), t["lang"].take(take), recipe.strip_model_min_score)
        other = t.filter(pa.array(np.isin(np.arange(t.num_rows), rows, invert=True)))
        text = text.cast(t.schema.field("content").type)
        t = pa.concat_tables([other, t.take(take).set_column(t.column_names.index("content"), "content", text)])
        removed = np.concatenate([np.zeros(other.num_rows, np.int64), removed[rows]])
    return t.append_column("code_bytes_removed", pa.array(removed, pa.int64()))


def _uniform(ids: list[str], seed: int, salt: str) -> np.ndarray:
    """A seeded uniform number in (0, 1] per id (xxh3-64)."""
    h = np.fromiter((xxhash.xxh3_64_intdigest(f"{seed}\0{salt}\0{i}".encode()) for i in ids), np.uint64, len(ids))
    return (h.astype(np.float64) + 1.0) / 2.0**64


def mix(inputs: list[str], recipe: Recipe, dest: str) -> dict[str, Any]:
    """Build the mixture; returns the mixture manifest (also written to DEST/mixture.json)."""
    table = pa.concat_tables([load_input(recipe, o) for o in inputs], promote_options="default")
    before = table
    table = table.filter(pc.greater(pc.binary_length(table["content"]), 0))
    b = pc.binary_length(table["content"]).to_numpy(zero_copy_only=False).astype(np.float64)
    w = table["weight"].to_numpy()
    cat = np.array(table["category"].to_pylist(), dtype=object)
    lang = np.array(pc.fill_null(table["lang"], "(none)").to_pylist(), dtype=object)
    present = [c for c in recipe.categories if recipe.categories[c] > 0 and (cat == c).any()]
    missing = [c for c in recipe.categories if recipe.categories[c] > 0 and c not in present]
    if not present:
        raise UserError(f"--input: no documents in the recipe's categories/tiers ({', '.join(recipe.categories)})")
    wsum = sum(recipe.categories[c] for c in present)
    shares = {c: recipe.categories[c] / wsum for c in present}
    groups = {c: [Group(np.flatnonzero((cat == c) & (lang == lg)), recipe.lang_caps.get(lg, 1.0))
                  for lg in sorted(set(lang[cat == c]))] for c in present}
    asked = float(recipe.target.bytes or recipe.target.tokens * recipe.bytes_per_token)
    total = feasible_total(groups, shares, b, recipe.max_repeat, asked)
    e = np.zeros(len(b))
    copies = np.zeros(len(b), dtype=np.int64)
    keys = [f"{s}\0{i}" for s, i in zip(table["source"].to_pylist(), table["id"].to_pylist())]
    u = _uniform(keys, recipe.seed, "fill")
    for c in present:
        goals = expected_copies(groups[c], w, b, recipe.max_repeat, shares[c] * total, e)
        free = [k for k, g in enumerate(groups[c]) if g.cap >= 1]
        fills = [(g.idx, goals[k]) for k, g in enumerate(groups[c]) if g.cap < 1]
        if free:
            fills.append((np.concatenate([groups[c][k].idx for k in free]), sum(goals[k] for k in free)))
        for idx, goal in fills:
            copies[idx] = whole_copies(e, b, u, idx, goal)
    manifest = describe(recipe, inputs, table, before, b, copies, groups, shares, asked, total, missing)
    write_shards(table, copies, recipe, dest)
    manifest["shards"] = sorted(f for f in os.listdir(dest) if f.startswith("part-"))
    write_json_atomic(manifest, os.path.join(dest, "mixture.json"))
    return manifest


def write_shards(table: pa.Table, copies: np.ndarray, recipe: Recipe, dest: str) -> None:
    """Repeat each row `copies` times, shuffle with the seed, write part-NNNNN.parquet."""
    rows = np.repeat(np.arange(len(copies)), copies)
    copy_no = np.concatenate([np.arange(k) for k in copies if k]) if copies.any() else np.zeros(0, np.int64)
    ids = [f"{s}\0{i}" for s, i in zip(table["source"].to_pylist(), table["id"].to_pylist())]
    keys = _uniform([f"{ids[r]}\0{c}" for r, c in zip(rows, copy_no)], recipe.seed, "order")
    order = np.lexsort((copy_no, rows, keys))
    out = table.take(pa.array(rows[order])).drop_columns(["weight"])
    out = out.append_column("copy", pa.array(copy_no[order], pa.int32()))
    os.makedirs(dest, exist_ok=True)
    for f in os.listdir(dest):
        if f.startswith("part-") and f.endswith(".parquet"):
            os.remove(os.path.join(dest, f))
    for i, start in enumerate(range(0, max(out.num_rows, 1), recipe.shard_rows)):
        write_parquet_atomic(out.slice(start, recipe.shard_rows), os.path.join(dest, f"part-{i:05d}.parquet"))


def describe(recipe: Recipe, inputs: list[str], table: pa.Table, before: pa.Table, b: np.ndarray,
             copies: np.ndarray, groups: dict[str, list[Group]], shares: dict[str, float],
             asked: float, total: float, missing: list[str]) -> dict[str, Any]:
    """The mixture manifest: achieved proportions, caps, repeats, stripped code."""
    got = b * copies
    achieved = float(got.sum())
    tiers = table["tier"].to_numpy(zero_copy_only=False)
    cats: dict[str, Any] = {}
    for c, gs in groups.items():
        idx = np.concatenate([g.idx for g in gs])
        cb = float(got[idx].sum())
        langs = {}
        for g in gs:
            lg = table["lang"][int(g.idx[0])].as_py() or "(none)"
            lb = float(got[g.idx].sum())
            langs[lg] = {"bytes": int(lb), "share_of_category": lb / cb if cb else 0.0,
                         "available_bytes": int(b[g.idx].sum()), "cap": g.cap if g.cap < 1 else None,
                         "capped": bool(g.cap < 1 and lb >= g.cap * shares[c] * total * 0.99)}
        strip = before.filter(pc.equal(before["category"], c))
        cats[c] = {
            "target_share": shares[c], "achieved_share": cb / achieved if achieved else 0.0,
            "bytes": int(cb), "tokens_est": int(cb / recipe.bytes_per_token),
            "available_bytes": int(b[idx].sum()), "docs": int(copies[idx].sum()),
            "unique_docs": int((copies[idx] > 0).sum()), "repeated_docs": int((copies[idx] > 1).sum()),
            "max_copies": int(copies[idx].max()) if len(idx) else 0,
            "tiers": {str(t): int(got[idx][tiers[idx] == t].sum()) for t in sorted(set(tiers[idx].tolist()))},
            "languages": dict(sorted(langs.items(), key=lambda kv: -kv[1]["bytes"])),
            "code_bytes_removed": int(pc.sum(strip["code_bytes_removed"]).as_py() or 0),
            "docs_with_code_removed": int(pc.sum(pc.greater(strip["code_bytes_removed"], 0)).as_py() or 0),
        }
    short = None
    if total < asked * (1 - 1e-9):
        limiting = min(groups, key=lambda c: max_bytes(groups[c], b, recipe.max_repeat, shares[c] * asked) / shares[c])
        short = {"asked_bytes": int(asked), "feasible_bytes": int(total), "limiting_category": limiting,
                 "why": "a category cannot reach its share even with every document repeated max_repeat "
                        "times (or its languages capped); the total was lowered so the proportions hold"}
    return {
        "recipe": recipe.model_dump(mode="json"), "inputs": [_input_info(o) for o in inputs],
        "target_bytes": int(asked), "achieved_bytes": int(achieved),
        "achieved_tokens_est": int(achieved / recipe.bytes_per_token),
        "rows": int(copies.sum()), "short": short,
        "missing_categories": missing, "categories": cats,
    }


def _input_info(out: str) -> dict[str, Any]:
    m = load_manifest(out)
    return {"path": out, "config_hash": m.get("config_hash"), "run_key": m.get("run_key"),
            "code_version": m.get("code_version")}

