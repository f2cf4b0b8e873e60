"""Download pinned packages into a cache, at training time only (never at run time).

- PyPI: the version's sdist from the simple index (JSON form, PEP 691), sha256-checked; never
  a wheel. The index is pip's (`PIP_INDEX_URL`, `pip config get global.index-url`, else pip's
  default). `pip download --no-binary :all:` would build each sdist's metadata in an isolated
  env (~2 min a package), so the file is fetched directly.
- npm: the version's tarball from npm's configured registry, integrity-checked (what
  `npm pack NAME@VER` fetches, without a node start per package).
- Debian: a private apt state under the cache (`_apt/`) with `Types: deb deb-src` entries for
  the system's own mirrors (`/etc/apt/sources.list.d/*.sources`), so `apt-get source
  --download-only NAME=VER` and `apt-get download NAME=VER` work without touching /etc/apt.

Each package lands in `<cache>/<source>/<name>@<version>/` with a `.done` record
(artifacts, bytes, sha256); a rerun reuses it.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from functools import cache

from codesieve.core.atomic import write_json_atomic
from codesieve.recipes.pinlist import Pin

TIMEOUT_S = 120
MAX_DOWNLOAD_BYTES = 64 << 20  # a larger sdist/tarball is skipped (recorded): it would be mostly data
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz")
_APT_LOCK = threading.Lock()


class FetchError(Exception):
    """A package that could not be fetched; recorded in the manifest, the run goes on."""


def pin_dir(cache_dir: str, pin: Pin) -> str:
    """Cache folder of one pin (names are path-safe: `/` of npm scopes becomes `+`)."""
    return os.path.join(cache_dir, pin.source, f"{pin.name.replace('/', '+')}@{pin.version}")


def fetch(pin: Pin, cache_dir: str) -> dict:
    """Download `pin` unless cached; returns its `.done` record: {artifacts, kind, debian_source}."""
    folder = pin_dir(cache_dir, pin)
    done = os.path.join(folder, ".done")
    if os.path.exists(done):
        with open(done, encoding="utf-8") as fh:
            return json.load(fh)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    try:
        extra = _FETCHERS[pin.source](pin, folder, cache_dir)
    except FetchError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise FetchError(f"{type(exc).__name__}: {exc}") from None
    artifacts = [{"file": name, "bytes": os.path.getsize(os.path.join(folder, name)),
                  "sha256": _sha256_file(os.path.join(folder, name))}
                 for name in sorted(os.listdir(folder)) if not name.startswith(".")]
    record = {"artifacts": artifacts, **extra}
    write_json_atomic(record, done)
    return record


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _get(url: str, accept: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 (registry URLs only)
        return resp.read()


def _save(data: bytes, folder: str, url: str) -> str:
    name = os.path.basename(urllib.parse.urlparse(url).path)
    with open(os.path.join(folder, name), "wb") as fh:
        fh.write(data)
    return name


@cache
def _pip_index() -> str:
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        out = subprocess.run(["pip", "config", "get", "global.index-url"], capture_output=True, text=True)
        url = out.stdout.strip() if out.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI  # pip's own default index

        url = PyPI.simple_url
    return url.rstrip("/")


def _norm(name: str) -> str:
    return "".join("-" if c in "_." else c for c in name.lower())


def _fetch_pypi(pin: Pin, folder: str, cache_dir: str) -> dict:
    index = json.loads(_get(f"{_pip_index()}/{_norm(pin.name)}/", "application/vnd.pypi.simple.v1+json"))
    for f in index.get("files", []):
        fname = f["filename"]
        suffix = next((s for s in SDIST_SUFFIXES if fname.endswith(s)), None)
        if suffix and fname[: -len(suffix)].rsplit("-", 1)[-1] == pin.version:
            if f.get("size", 0) > MAX_DOWNLOAD_BYTES:
                raise FetchError(f"{fname}: {f['size']} bytes > {MAX_DOWNLOAD_BYTES}")
            data = _get(f["url"])
            want = f.get("hashes", {}).get("sha256")
            if want and hashlib.sha256(data).hexdigest() != want:
                raise FetchError(f"sha256 mismatch for {fname}")
            _save(data, folder, f["url"])
            return {"kind": "sdist"}
    raise FetchError(f"no sdist of version {pin.version} on the index")


@cache
def _npm_registry() -> str:
    out = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, check=True)
    return out.stdout.strip().rstrip("/")


def _fetch_npm(pin: Pin, folder: str, cache_dir: str) -> dict:
    meta = json.loads(_get(f"{_npm_registry()}/{pin.name.replace('/', '%2f')}/{pin.version}"))
    dist = meta["dist"]
    if dist.get("unpackedSize", 0) > 4 * MAX_DOWNLOAD_BYTES:
        raise FetchError(f"unpacked size {dist['unpackedSize']} bytes > {4 * MAX_DOWNLOAD_BYTES}")
    data = _get(dist["tarball"])
    integrity = dist.get("integrity", "")
    if integrity.startswith("sha512-"):
        if base64.b64decode(integrity[7:]) != hashlib.sha512(data).digest():
            raise FetchError("sha512 integrity mismatch")
    elif dist.get("shasum") and hashlib.sha1(data).hexdigest() != dist["shasum"]:
        raise FetchError("sha1 shasum mismatch")
    _save(data, folder, dist["tarball"])
    return {"kind": "tarball"}


def apt_options(cache_dir: str) -> list[str]:
    """apt-get options for the private state under `<cache>/_apt` (deb + deb-src), updated once."""
    root = os.path.join(cache_dir, "_apt")
    opts = ["-o", "Dir::Etc::SourceList=/dev/null", "-o", f"Dir::Etc::SourceParts={root}/sources",
            "-o", f"Dir::State::Lists={root}/lists", "-o", f"Dir::Cache={root}/cache",
            # Docker images blank the binary caches (docker-clean): without them every call re-parses
            # ~20 MB of lists (~1 s CPU); with them a call starts in ~0.1 s
            "-o", "Dir::Cache::pkgcache=pkgcache.bin", "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
            "-o", "APT::Sandbox::User=root", "-q"]
    with _APT_LOCK:
        if not os.path.exists(os.path.join(root, ".updated")):
            for sub in ("sources", "lists/partial", "cache/archives/partial"):
                os.makedirs(os.path.join(root, sub), exist_ok=True)
            for src in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
                with open(src, encoding="utf-8") as fh:
                    text = fh.read().replace("Types: deb\n", "Types: deb deb-src\n")
                with open(os.path.join(root, "sources", os.path.basename(src)), "w", encoding="utf-8") as fh:
                    fh.write(text)
            subprocess.run(["apt-get", *opts, "update"], capture_output=True, text=True, check=True,
                           timeout=600)
            subprocess.run(["apt-cache", *opts, "gencaches"], capture_output=True, check=True, timeout=600)
            open(os.path.join(root, ".updated"), "w").close()
    return opts


def _apt(args: list[str], folder: str, cache_dir: str) -> str:
    opts = apt_options(cache_dir)
    out = subprocess.run(["apt-get", *opts, *args], cwd=folder, capture_output=True, text=True,
                         timeout=TIMEOUT_S * 5)
    if out.returncode:
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("E:")] or ["apt-get failed"]
        raise FetchError(errors[0])
    return out.stdout


def _fetch_debian(pin: Pin, folder: str, cache_dir: str) -> dict:
    """The source package; when the mirror lacks its .dsc or Debian diff, the upstream tarball alone."""
    try:
        _apt(["source", "--download-only", "--only-source", f"{pin.name}={pin.version}"], folder, cache_dir)
    except FetchError as exc:
        origs = [n for n in os.listdir(folder) if ".orig.tar." in n and not n.endswith(".asc")]
        if not origs:
            raise
        for name in os.listdir(folder):  # keep the upstream tarball(s) only, as kind "orig"
            if name not in origs:
                os.remove(os.path.join(folder, name))
        return {"kind": "orig", "debian_source": pin.name, "note": f"upstream tarball only: {exc}"}
    return {"kind": "source", "debian_source": pin.name}


def _fetch_debian_bin(pin: Pin, folder: str, cache_dir: str) -> dict:
    _apt(["download", f"{pin.name}={pin.version}"], folder, cache_dir)
    show = subprocess.run(["apt-cache", *apt_options(cache_dir), "show", f"{pin.name}={pin.version}"],
                          capture_output=True, text=True)
    source = pin.name
    for line in show.stdout.splitlines():
        if line.startswith("Source:"):
            source = line.split()[1]
            break
    return {"kind": "binary", "debian_source": source}


_FETCHERS = {"pypi": _fetch_pypi, "npm": _fetch_npm, "debian": _fetch_debian, "debian-bin": _fetch_debian_bin}
