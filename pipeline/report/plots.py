"""Report figures with matplotlib (Agg), returned as `data:image/svg+xml;base64,...` URIs.

SVG inside an <img> never runs scripts, and the files are deterministic (fixed hash
salt, no date), so the same output folder gives a byte-identical report.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "codesieve", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False})
KEPT, REMOVED = "#4c78a8", "#e45756"


def to_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def funnel(steps: list[dict[str, Any]]) -> str:
    """Rows and MB reaching each gate, split into passed / removed (Qwen2.5-Coder Fig. 1 style)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.45 * len(steps) + 1.2))
    labels = [s["gate"] for s in steps]
    y = np.arange(len(steps))[::-1]
    for ax, key, unit, scale in ((axes[0], "rows", "rows", 1), (axes[1], "bytes", "MB", 1e6)):
        out = np.array([s[f"{key}_out"] for s in steps]) / scale
        inn = np.array([s[f"{key}_in"] for s in steps]) / scale
        ax.barh(y, out, color=KEPT, label="passed")
        ax.barh(y, inn - out, left=out, color=REMOVED, label="removed")
        ax.set_yticks(y, labels)
        ax.set_xlabel(f"{unit} reaching the gate")
    axes[0].legend(loc="lower right", frameon=False)
    fig.suptitle("Funnel: what each gate passes and removes")
    return to_uri(fig)


def tiers_by_language(langs: list[dict[str, Any]], names: dict[int, str]) -> str:
    """Stacked rows per tier for the top languages."""
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(langs) + 1.2))
    y = np.arange(len(langs))[::-1]
    left = np.zeros(len(langs))
    cmap = plt.get_cmap("viridis", max(len(names), 2))
    for k in sorted(names):
        v = np.array([d["rows_by_tier"].get(str(k), 0) for d in langs], dtype=float)
        ax.barh(y, v, left=left, color=cmap(k), label=f"{k} {names[k]}")
        left += v
    ax.set_yticks(y, [d["lang"] for d in langs])
    ax.set_xlabel("rows")
    ax.legend(title="tier", frameon=False, fontsize=8, loc="lower right")
    ax.set_title("Tiers by language (top by rows)")
    return to_uri(fig)


def rule_removals(rules: list[dict[str, Any]]) -> str:
    """Rows each rule removed and how many of those no other rule removes."""
    rules = [r for r in rules if r["removed"]] or rules[:1]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(rules) + 1.2))
    y = np.arange(len(rules))[::-1]
    ax.barh(y, [r["removed"] for r in rules], color=REMOVED, alpha=0.45, label="removed (any)")
    ax.barh(y, [r["unique"] for r in rules], color=REMOVED, label="only this rule")
    ax.set_yticks(y, [r["rule"] for r in rules])
    ax.set_xlabel("rows failing the rule (among rows reaching the rules gate)")
    ax.legend(frameon=False, loc="lower right")
    return to_uri(fig)


def distributions(signals: dict[str, np.ndarray], thresholds: dict[str, list[float]]) -> str:
    """Small multiples: histogram per signal, thresholds as dashed lines."""
    names = list(signals)
    cols = 3
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(9, 2.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        v = signals[name]
        lines = [t for t in thresholds.get(name, []) if t is not None and np.isfinite(t)]
        lo, hi = float(np.quantile(v, 0.0)), float(np.quantile(v, 0.995))
        lo, hi = min([lo, *lines]), max([hi, *lines])
        ax.hist(np.clip(v, lo, hi), bins=40, range=(lo, hi if hi > lo else lo + 1), color=KEPT)
        ax.set_yscale("log")
        for t in lines:
            ax.axvline(t, color=REMOVED, linestyle="--", linewidth=1.2)
        ax.set_title(name, fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return to_uri(fig)


def cluster_sizes(sizes: dict[str, int]) -> str:
    """Number of near-dup clusters per cluster size (log-log)."""
    fig, ax = plt.subplots(figsize=(6, 2.6))
    x = np.array([int(s) for s in sizes], dtype=float)
    y = np.array(list(sizes.values()), dtype=float)
    ax.plot(x, y, "o", color=KEPT)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cluster size (documents)")
    ax.set_ylabel("clusters")
    ax.set_title("Near-duplicate clusters")
    return to_uri(fig)
