"""A byte-level n-gram language model with interpolated Witten-Bell smoothing, in numpy.

The proxy model of `stage_ablation.py`: cheap enough to train dozens of times on a shared
2-core machine, and sensitive to what the training bytes look like. Witten-Bell
(Witten & Bell 1991; Chen & Goodman 1998, §2.5) interpolates order k with order k-1:

    P_k(w | h) = (c(h, w) + T(h) * P_{k-1}(w | h')) / (c(h) + T(h))

where c(h) is how often context h (k-1 bytes) occurs, c(h, w) how often byte w follows it,
T(h) how many distinct bytes follow it, and h' is h without its oldest byte. Order 1 backs
off to the uniform distribution over 256 bytes; an unseen context uses P_{k-1} unchanged.

Counting is vectorised: every (context, next byte) of order k is one int64 key (k <= 7
bytes, base 256), counted with `np.unique`; scoring looks keys up with `np.searchsorted`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ORDER = 7  # k bytes per key must fit in an int64


def as_bytes(text: bytes | str | np.ndarray) -> np.ndarray:
    """The text as a uint8 array (str is UTF-8 encoded)."""
    if isinstance(text, np.ndarray):
        return text.astype(np.uint8, copy=False)
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    return np.frombuffer(text, dtype=np.uint8)


def gram_keys(b: np.ndarray, k: int) -> np.ndarray:
    """int64 key of every k-gram of `b` ending at positions k-1..n-1 (oldest byte highest)."""
    n = len(b) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    for j in range(k):
        key = (key << 8) | b[j : j + n].astype(np.int64)
    return key


@dataclass
class _Order:
    """Counts of one order k: joint (context + byte) keys, and per-context totals."""

    joint: np.ndarray  # sorted unique k-gram keys
    joint_count: np.ndarray
    ctx: np.ndarray  # sorted unique (k-1)-byte context keys
    ctx_count: np.ndarray  # c(h)
    ctx_types: np.ndarray  # T(h): distinct following bytes


def _lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[table == key] per key, 0 where the key is absent (table sorted)."""
    if len(table) == 0:
        return np.zeros(len(keys), dtype=values.dtype)
    pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(table[pos] == keys, values[pos], 0)


class ByteNgram:
    """Interpolated Witten-Bell byte n-gram model of order `order` (context = order-1 bytes)."""

    def __init__(self, order: int = 5):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order must be in 1..{MAX_ORDER}, got {order}")
        self.order = order
        self.orders: list[_Order] = []

    def fit(self, text: bytes | str | np.ndarray) -> ByteNgram:
        """Count every k-gram (k = 1..order) of the training bytes."""
        b = as_bytes(text)
        self.orders = []
        for k in range(1, self.order + 1):
            joint, joint_count = np.unique(gram_keys(b, k), return_counts=True)
            ctx_of_joint = joint >> 8
            ctx, start = np.unique(ctx_of_joint, return_index=True)
            ctx_count = np.add.reduceat(joint_count, start) if len(joint) else joint_count
            ctx_types = np.diff(np.append(start, len(joint)))
            self.orders.append(_Order(joint, joint_count, ctx, ctx_count, ctx_types))
        return self

    def log2_probs(self, text: bytes | str | np.ndarray) -> np.ndarray:
        """log2 P(byte_i | up to order-1 previous bytes) for every byte of `text`.

        The first bytes use the shorter context they have (as if the text started there)."""
        b = as_bytes(text)
        n = len(b)
        p = np.full(n, 1.0 / 256)
        for k, o in enumerate(self.orders, start=1):
            if n < k:
                break
            keys = gram_keys(b, k)
            c_hw = _lookup(keys, o.joint, o.joint_count).astype(np.float64)
            c_h = _lookup(keys >> 8, o.ctx, o.ctx_count).astype(np.float64)
            t_h = _lookup(keys >> 8, o.ctx, o.ctx_types).astype(np.float64)
            tail = p[k - 1 :]
            seen = c_h > 0
            tail[seen] = (c_hw[seen] + t_h[seen] * tail[seen]) / (c_h[seen] + t_h[seen])
        return np.log2(p)

    def bits_per_byte(self, text: bytes | str | np.ndarray) -> float:
        """Mean -log2 P over the bytes of `text` (bits per byte; 8.0 = uniform)."""
        lp = self.log2_probs(text)
        return float(-lp.mean()) if len(lp) else float("nan")
