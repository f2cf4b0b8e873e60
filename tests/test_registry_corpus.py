"""The registry corpus recipe on real archives made here: extraction, skips, RESERVED, splits, determinism.

No network: each package is placed in the download cache the way the fetcher leaves it (the
archive plus its `.done` record), so `build` reuses it exactly as on a rerun.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesieve.core.errors import UserError
from codesieve.recipes.extract import MAX_FILE_BYTES
from codesieve.recipes.fetch import pin_dir
from codesieve.recipes.pinlist import Pin, read_list, split_of
from codesieve.recipes.registry_corpus import build, main

FIX = Path(__file__).resolve().parent / "fixtures"
FILES = {  # path inside the package -> real file
    "src/manage_tool": FIX / "language" / "manage_tool",
    "src/backup_script": FIX / "language" / "backup_script",
    "src/util.py": FIX / "dedup" / "websockets__base.py",
    "lib/index.js": FIX / "dedup" / "nodemailer__index.js",
    "src/authfile.c": FIX / "dedup" / "memcached__authfile.c",
    "docs/guide.rst": FIX / "language" / "user_guide.rst",
}
BINARY = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64)
HUGE = b"x = 1\n" * (MAX_FILE_BYTES // 6 + 10)
KEPT = {path: src.read_bytes() for path, src in FILES.items()}


def _members(top: str) -> list[tuple[str, bytes]]:
    return [(f"{top}{p}", data) for p, data in KEPT.items()] + [
        (f"{top}img/logo.png", BINARY), (f"{top}data/huge.py", HUGE)]


def _tar(path: Path, top: str, mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as tar:
        for name, data in _members(top):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{top}latest.py")
        link.type, link.linkname = tarfile.SYMTYPE, "src/util.py"
        tar.addfile(link)


def _zip(path: Path, top: str) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in _members(top):
            zf.writestr(name, data)


def _tree(root: Path) -> None:
    for name, data in _members(""):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def _debian_source(folder: Path, name: str, version: str) -> None:
    """A real 3.0 (native) source package (.dsc + .tar.xz) built by dpkg-source."""
    src = folder / "build" / f"{name}-{version}"
    _tree(src)
    (src / "debian" / "source").mkdir(parents=True)
    (src / "debian" / "source" / "format").write_text("3.0 (native)\n")
    (src / "debian" / "control").write_text(
        f"Source: {name}\nMaintainer: T <t@example.org>\n\nPackage: {name}\nArchitecture: all\n"
        "Description: test\n test\n")
    (src / "debian" / "changelog").write_text(
        f"{name} ({version}) unstable; urgency=medium\n\n  * Test.\n\n"
        " -- T <t@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n")
    subprocess.run(["dpkg-source", "-b", src.name], cwd=src.parent, check=True, capture_output=True)
    for made in src.parent.glob(f"{name}_*"):
        shutil.move(str(made), folder / made.name)
    shutil.rmtree(folder / "build")


def _debian_binary(folder: Path, name: str, version: str) -> None:
    root = folder / "root"
    _tree(root / "usr" / "share" / name)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: test\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(folder / f"{name}.deb")],
                   check=True, capture_output=True)
    shutil.rmtree(root)


def _seed(cache: Path, pin: Pin) -> None:
    """Put `pin` in the download cache as the fetcher leaves it."""
    folder = Path(pin_dir(str(cache), pin))
    folder.mkdir(parents=True)
    kind = {"pypi": "sdist", "npm": "tarball", "debian": "source", "debian-bin": "binary"}[pin.source]
    if pin.source == "pypi" and pin.version.endswith("z"):
        _zip(folder / f"{pin.name}-{pin.version}.zip", f"{pin.name}-{pin.version}/")
    elif pin.source == "pypi":
        _tar(folder / f"{pin.name}-{pin.version}.tar.gz", f"{pin.name}-{pin.version}/")
    elif pin.source == "npm":
        _tar(folder / f"{pin.name}-{pin.version}.tgz", "package/")
    elif pin.source == "debian":
        _debian_source(folder, pin.name, pin.version)
    else:
        _debian_binary(folder, pin.name, pin.version)
    record = {"artifacts": [], "kind": kind, "debian_source": pin.name if "debian" in pin.source else None}
    (folder / ".done").write_text(json.dumps(record))


PINS = [Pin("pypi", "toolkitx", "1.0", 0.9), Pin("pypi", "toolkitx", "2.0", 0.9),
        Pin("pypi", "zipkit", "0.1z", 0.1), Pin("npm", "padder", "3.1.0", 0.5)]
DEB_PINS = [Pin("debian", "srcpkg", "1.2"), Pin("debian-bin", "binpkg", "4.5-1")]
needs_dpkg = pytest.mark.skipif(not shutil.which("dpkg-source"), reason="dpkg-dev not installed")


def _make_list(tmp: Path, pins: list[Pin]) -> Path:
    path = tmp / "list.tsv"
    path.write_text("# test list\n" + "".join(f"{p.source}\t{p.name}\t{p.version}\t{p.popularity}\n"
                                              for p in pins))
    return path


def _build(tmp: Path, pins: list[Pin], out: str = "out", **kw) -> tuple[dict, Path]:
    cache = tmp / "cache"
    for pin in pins:
        if not Path(pin_dir(str(cache), pin)).exists():
            _seed(cache, pin)
    manifest = build(str(_make_list(tmp, pins)), str(tmp / out), jobs=1, reserved_path=None,
                     cache_dir=str(cache), **kw)
    return manifest, tmp / out


def _read(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*/part-*.parquet")))


def _rows(table: pa.Table, repo: str) -> list[dict]:
    return [r for r in table.to_pylist() if r["repo_name"] == repo]


@needs_dpkg
def test_every_archive_format_extracts_like_a_raw_crawl(tmp_path: Path) -> None:
    manifest, out = _build(tmp_path, PINS + DEB_PINS)
    table = _read(out)
    assert manifest["totals"]["failed"] == 0
    prefix = {"pypi/toolkitx@1.0": "", "pypi/zipkit@0.1z": "", "npm/padder@3.1.0": "",
              "debian/srcpkg@1.2": "", "debian/binpkg@4.5-1": "usr/share/binpkg/"}
    for repo, top in prefix.items():
        rows = {r["path"]: r for r in _rows(table, repo)}
        for path, data in KEPT.items():
            assert rows[top + path]["content"] == data.decode("utf-8")
            assert rows[top + path]["size"] == len(data)
        assert not any(p.endswith(("logo.png", "huge.py", "latest.py")) for p in rows)
    by_path = {r["path"]: r["language"] for r in _rows(table, "npm/padder@3.1.0")}
    assert by_path == {"src/manage_tool": "Python", "src/backup_script": "Shell", "src/util.py": "Python",
                       "lib/index.js": "JavaScript", "src/authfile.c": "C",
                       "docs/guide.rst": "reStructuredText"}
    pkgs = {p["repo_name"]: p for p in manifest["packages"]}
    assert pkgs["pypi/toolkitx@1.0"]["skipped"] == {"binary": 1, "symlink": 1, "too_large": 1}
    assert pkgs["pypi/zipkit@0.1z"]["skipped"] == {"binary": 1, "too_large": 1}
    assert pkgs["debian/srcpkg@1.2"]["kind"] == "source"
    assert {"debian/control", "debian/changelog"} <= {r["path"] for r in _rows(table, "debian/srcpkg@1.2")}
    assert manifest["totals"]["rows"] == table.num_rows == 6 * len(KEPT) + 3  # + 3 debian/ files


def test_all_versions_of_a_package_share_one_split(tmp_path: Path) -> None:
    assert all(split_of("pypi", "toolkitx") == split_of("pypi", "toolkitx", (0.8, 0.1, 0.1)) for _ in range(2))
    manifest, out = _build(tmp_path, PINS)
    table = _read(out).select(["package", "split", "version"])
    splits = {}
    for r in table.to_pylist():
        splits.setdefault(r["package"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits.values()) and len(splits["toolkitx"]) == 1
    assert {r["version"] for r in table.to_pylist() if r["package"] == "toolkitx"} == {"1.0", "2.0"}
    for split in ("train", "dev", "test"):  # every row of a split lives in that split's folder
        if (out / split).exists():
            assert set(pq.read_table(out / split, columns=["split"])["split"].to_pylist()) == {split}


def test_split_shares_follow_the_ratios() -> None:
    names = [f"pkg{i}" for i in range(4000)]
    counts = {s: sum(split_of("npm", n) == s for n in names) for s in ("train", "dev", "test")}
    assert abs(counts["train"] / 4000 - 0.8) < 0.03 and abs(counts["test"] / 4000 - 0.1) < 0.02
    assert all(split_of("npm", n, (0, 0, 1)) == "test" for n in names[:50])


def test_same_input_gives_byte_identical_shards(tmp_path: Path) -> None:
    m1, out1 = _build(tmp_path, PINS, "a", rows_per_shard=7)
    m2, out2 = _build(tmp_path, PINS, "b", rows_per_shard=7)
    files1 = sorted(p.relative_to(out1) for p in out1.glob("*/part-*.parquet"))
    assert len(files1) >= 3 and files1 == sorted(p.relative_to(out2) for p in out2.glob("*/part-*.parquet"))
    assert all((out1 / f).read_bytes() == (out2 / f).read_bytes() for f in files1)
    assert (out1 / "manifest.json").read_bytes() == (out2 / "manifest.json").read_bytes()


def test_reserved_packages_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    reserved = tmp_path / "RESERVED.txt"
    reserved.write_text("# reserved\npypi toolkitx\nnpm leftpad\n")
    lst = _make_list(tmp_path, [Pin("pypi", "toolkitx", "2.0"), Pin("debian", "node-leftpad", "1-1"),
                                Pin("npm", "padder", "1.0")])
    assert main(["--list", str(lst), "--out", str(tmp_path / "o"), "--reserved", str(reserved)]) == 2
    err = capsys.readouterr().err
    assert "reserved" in err and "pypi toolkitx" in err and "debian node-leftpad" in err
    assert "padder" not in err and not (tmp_path / "o").exists()


def test_list_mistakes_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("pypi\tok\t1.0\t0.5\ncargo\tserde\t1.0\t0.1\n")
    with pytest.raises(UserError, match=r"bad.tsv:2: source 'cargo'"):
        read_list(str(bad))
    bad.write_text("pypi\tok\t1.0\n")
    with pytest.raises(UserError, match=r"bad.tsv:1: expected 4"):
        read_list(str(bad))


@pytest.mark.parametrize("name", ["langid.tsv", "quality.tsv"])
def test_shipped_lists_parse_and_avoid_reserved(name: str) -> None:
    from codesieve.recipes.pinlist import DEFAULT_RESERVED, load_reserved, refuse_reserved

    path = Path(__file__).resolve().parent.parent / "codesieve" / "recipes" / "lists" / name
    if not path.exists():
        pytest.skip(f"{name} not shipped yet")
    pins = read_list(str(path))
    assert len(pins) >= 100
    if Path(DEFAULT_RESERVED).exists():
        refuse_reserved(pins, load_reserved(DEFAULT_RESERVED), DEFAULT_RESERVED)


def test_debian_upstream_tarball_alone_extracts_like_an_sdist(tmp_path: Path) -> None:
    """When the mirror lacks a source package's .dsc or diff, the fetcher keeps the .orig tarball."""
    from codesieve.recipes.extract import extract_package

    _tar(tmp_path / "tool_1.0.orig.tar.gz", "tool-1.0/")
    got = extract_package(str(tmp_path), "orig").table().to_pylist()
    assert {r["path"]: r["content"].encode() for r in got} == KEPT
