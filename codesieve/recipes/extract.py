"""Every file of a downloaded package, as a raw crawl keeps it.

Rules (those of the dev corpus, `shared/corpus/README.md`): files over `MAX_FILE_BYTES` and
files with a NUL byte in their first `NUL_PROBE_BYTES` are skipped and counted; symlinks and
other non-regular members are skipped and counted; content is UTF-8 with invalid bytes
replaced. PyPI sdists and npm tarballs are read in place (their single top folder,
`requests-2.31.0/` or `package/`, is dropped from paths); Debian source packages are
unpacked with `dpkg-source -x` (patches applied, the `.pc/` quilt folder not crawled),
binary packages with `dpkg-deb -x` (installed paths).
"""

from __future__ import annotations

import glob
import os
import subprocess
import tarfile
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

MAX_FILE_BYTES = 1 << 20  # 1 MiB
NUL_PROBE_BYTES = 8192
SCHEMA = pa.schema([("path", pa.string()), ("content", pa.large_string()), ("size", pa.int64())])


@dataclass
class Extracted:
    """Kept files of one package (sorted by path) and what was skipped, by reason."""

    paths: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_bytes: Counter = field(default_factory=Counter)
    files_seen: int = 0

    def add(self, path: str, size: int, read) -> None:
        """Keep or skip one regular file; `read()` returns its bytes (called only when kept)."""
        self.files_seen += 1
        if size > MAX_FILE_BYTES:
            self._skip("too_large", size)
            return
        data = read()
        if b"\0" in data[:NUL_PROBE_BYTES]:
            self._skip("binary", size)
            return
        self.paths.append(path)
        self.contents.append(data.decode("utf-8", errors="replace"))
        self.sizes.append(len(data))

    def _skip(self, reason: str, size: int) -> None:
        self.skipped[reason] += 1
        self.skipped_bytes[reason] += size

    def table(self) -> pa.Table:
        """Kept files as an Arrow table sorted by path (duplicate paths: the first one wins)."""
        seen: dict[str, int] = {}
        for i, p in enumerate(self.paths):
            seen.setdefault(p, i)
        order = [seen[p] for p in sorted(seen)]
        return pa.table({"path": [self.paths[i] for i in order],
                         "content": [self.contents[i] for i in order],
                         "size": [self.sizes[i] for i in order]}, schema=SCHEMA)


def _strip_top(names: list[str]) -> int:
    """Length of a single top folder shared by every member name (`package/`), else 0."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return len(next(iter(tops))) + 1
    return 0


def _clean(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def read_tar(path: str, out: Extracted) -> None:
    """Regular files of a tar archive (any compression tarfile reads)."""
    with tarfile.open(path, "r:*") as tar:
        members = [m for m in tar.getmembers() if not m.isdir()]
        cut = _strip_top([_clean(m.name) for m in members])
        for m in members:
            if not m.isfile():
                out._skip("symlink" if m.issym() or m.islnk() else "special", 0)
                continue
            out.add(_clean(m.name)[cut:], m.size, lambda m=m: tar.extractfile(m).read())


def read_zip(path: str, out: Extracted) -> None:
    """Regular files of a zip archive."""
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        cut = _strip_top([i.filename for i in infos])
        for info in infos:
            out.add(info.filename[cut:], info.file_size, lambda info=info: zf.read(info))


def read_tree(root: str, out: Extracted, skip_top: tuple[str, ...] = ()) -> None:
    """Regular files under a folder (symlinks counted, not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip_top]
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if os.path.islink(full):
                out._skip("symlink", 0)
            elif os.path.isfile(full):
                out.add(rel, os.path.getsize(full), lambda full=full: _read(full))


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _unpack(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise OSError((r.stderr.strip().splitlines() or [" ".join(cmd)])[-1])


def extract_package(folder: str, kind: str) -> Extracted:
    """Files of the package downloaded into `folder` (`kind`: sdist | tarball | source | binary)."""
    out = Extracted()
    if kind == "source":
        dsc = sorted(glob.glob(os.path.join(folder, "*.dsc")))
        if not dsc:
            raise OSError(f"no .dsc in {folder}")
        with tempfile.TemporaryDirectory(prefix="codesieve-src-") as tmp:
            target = os.path.join(tmp, "src")
            _unpack(["dpkg-source", "--no-check", "-x", dsc[0], target])
            read_tree(target, out, skip_top=(".pc",))
    elif kind == "binary":
        with tempfile.TemporaryDirectory(prefix="codesieve-deb-") as tmp:
            for deb in sorted(glob.glob(os.path.join(folder, "*.deb"))):
                _unpack(["dpkg-deb", "-x", deb, tmp])
            read_tree(tmp, out)
    else:  # sdist, npm tarball, or a Debian upstream tarball alone ("orig")
        archives = [n for n in sorted(os.listdir(folder)) if not n.startswith(".")]
        if kind == "orig":
            archives = [n for n in archives if ".orig-" not in n][:1]  # the main upstream tarball
        if len(archives) != 1:
            raise OSError(f"expected one archive in {folder}, found {archives}")
        path = os.path.join(folder, archives[0])
        (read_zip if archives[0].endswith(".zip") else read_tar)(path, out)
    return out

