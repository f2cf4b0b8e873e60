"""Pinned package lists, the RESERVED refusal and the split by package.

A list is a TSV file, one package version a line: `source<TAB>name<TAB>version<TAB>popularity`
(`#` comments and blank lines allowed). `source` is `pypi`, `npm`, `debian` (a Debian source
package) or `debian-bin` (a Debian binary package that ships sources: `*-dev`, `node-*`,
`lib*-perl`, `tcl*`...). `popularity` is a float (the list's own signal, e.g. monthly downloads).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from codesieve.core.errors import InputError, UserError

SOURCES = ("pypi", "npm", "debian", "debian-bin")
DEFAULT_RESERVED = "/work/shared/corpus/RESERVED.txt"
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True, order=True)
class Pin:
    """One pinned package version."""

    source: str
    name: str
    version: str
    popularity: float = 0.0

    @property
    def registry(self) -> str:
        """`source` column value: Debian binary packages are `debian` like source packages."""
        return "debian" if self.source == "debian-bin" else self.source

    @property
    def repo_name(self) -> str:
        """`pypi/requests@2.31.0`; a Debian version drops its epoch (`1:5.44-3` -> `5.44-3`)."""
        version = self.version.split(":", 1)[-1] if self.registry == "debian" else self.version
        return f"{self.registry}/{self.name}@{version}"


def read_list(path: str) -> list[Pin]:
    """Parse a pinned list; duplicates collapse to one pin. Raises InputError naming line and field."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"--list {path}: cannot read ({exc.strerror})") from None
    pins: dict[tuple[str, str, str], Pin] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        where = f"{path}:{lineno}"
        if len(fields) != 4:
            raise InputError(f"{where}: expected 4 tab-separated fields source, name, version, popularity; "
                             f"got {len(fields)}")
        source, name, version, pop = (f.strip() for f in fields)
        if source not in SOURCES:
            raise InputError(f"{where}: source {source!r} is not one of {', '.join(SOURCES)}")
        if not name or not version:
            raise InputError(f"{where}: empty name or version")
        try:
            popularity = float(pop)
        except ValueError:
            raise InputError(f"{where}: popularity {pop!r} is not a number") from None
        pins[(source, name, version)] = Pin(source, name, version, popularity)
    if not pins:
        raise InputError(f"--list {path}: no packages")
    return sorted(pins.values())


def load_reserved(path: str | None) -> set[tuple[str, str]]:
    """`(source, name)` pairs from a RESERVED file (`<source> <name>` lines); empty when absent."""
    if not path or not os.path.exists(path):
        return set()
    out = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("#"):
                out.add((parts[0], parts[1]))
    return out


def reserved_keys(pin: Pin, debian_source: str | None = None) -> list[tuple[str, str]]:
    """The RESERVED entries that would rule this pin out.

    Besides its own `(source, name)`: a Debian binary package is ruled out by its source
    package (`debian_source`), and the same upstream project packaged by Debian is ruled
    out by its PyPI / npm name (`python-foo`, `python3-foo` -> pypi foo; `node-foo` -> npm foo).
    """
    keys = [(pin.source, pin.name)]
    if pin.source == "debian-bin":
        keys.append(("debian", debian_source or pin.name))
    if pin.registry == "debian":
        for prefix, registry in (("python3-", "pypi"), ("python-", "pypi"), ("node-", "npm")):
            if pin.name.startswith(prefix):
                keys.append((registry, pin.name[len(prefix):]))
    return keys


def refuse_reserved(pins: list[Pin], reserved: set[tuple[str, str]], where: str) -> None:
    """Raise UserError listing every pin that a RESERVED entry rules out."""
    bad = [f"{p.source} {p.name}" for p in pins if any(k in reserved for k in reserved_keys(p))]
    if bad:
        raise UserError(f"--list: {len(bad)} package(s) are reserved for independent evaluation in "
                        f"{where} and must not be trained on: {', '.join(bad)}")


def split_of(source: str, name: str, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """`train`/`dev`/`test` from a stable hash of (registry, package name): all versions together."""
    digest = hashlib.sha256(f"{source}\0{name}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(ratios)
    edge = 0.0
    for split, ratio in zip(SPLITS, ratios):
        edge += ratio / total
        if u < edge:
            return split
    return SPLITS[-1]
