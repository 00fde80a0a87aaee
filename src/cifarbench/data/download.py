"""Finding, downloading and verifying a dataset's files.

Without --data-dir, files are looked for in `$CIFARBENCH_DATA`, the default cache
(`~/.cache/cifarbench`), then known system copies (Debian's `dataset-fashion-mnist`). A folder the
user names with --data-dir is the only place looked in, and the only place downloads go: it is
never silently replaced by another copy. Every file is verified against the publisher's digest
before it is used; a download goes to `<name>.part` and is renamed only once verified.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from cifarbench.data.registry import DATASETS, DatasetSpec, RemoteFile
from cifarbench.errors import DataError

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path("~/.cache/cifarbench")
SYSTEM_COPIES = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}


# ---------------------------------------------------------------- where files live


def cache_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The writable folder that downloads and parsed caches go to."""
    chosen = data_dir or os.environ.get("CIFARBENCH_DATA") or DEFAULT_CACHE
    return Path(chosen).expanduser()


def search_folders(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every folder that may hold the dataset's files, in the order they are tried. A folder the
    user named is the only one: data found elsewhere would silently replace what was asked for."""
    if data_dir:
        root = Path(data_dir).expanduser()
        return [root / name, root]
    roots: list[Path] = []
    for candidate in (os.environ.get("CIFARBENCH_DATA"), DEFAULT_CACHE):
        if candidate:
            root = Path(candidate).expanduser()
            roots += [root / name, root]
    roots += SYSTEM_COPIES.get(name, [])
    unique: list[Path] = []
    for r in roots:
        if r not in unique:
            unique.append(r)
    return unique


def file_digest(path: Path, algorithm: str = "md5", decompress: bool = False) -> str:
    digest = hashlib.new(algorithm)
    with gzip.open(path, "rb") if decompress else open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: RemoteFile) -> dict:
    """The file's record ({"name", "path", "md5"}, + "content_sha256" where that is what matched),
    or a DataError unless it matches the publisher's MD5 (or its known decompressed payload)."""
    actual = file_digest(path)
    record = {"name": expected.name, "path": str(Path(path).resolve()), "md5": actual}
    if actual == expected.md5:
        return record
    if expected.content_sha256 and path.suffix == ".gz":
        try:
            if file_digest(path, "sha256", decompress=True) == expected.content_sha256:
                return {**record, "content_sha256": expected.content_sha256}
        except (OSError, EOFError):
            pass  # a truncated gzip: report the MD5 mismatch below
    raise DataError(
        f"{path}: checksum mismatch (MD5 {actual}, expected {expected.md5}); the file is corrupted or "
        f"truncated: delete it and run `cifarbench data download` again"
    )


def _find_file(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return None


def _find_members(spec: DatasetSpec, folders: list[Path]) -> Path | None:
    """A folder with every extracted archive member (CIFAR's `cifar-10-batches-py`)."""
    for folder in folders:
        candidate = folder / spec.member_dir
        if all((candidate / m.name).is_file() for m in spec.members):
            return candidate
    return None


# ---------------------------------------------------------------- downloading


def _download(url: str, target: Path, expected: RemoteFile, quiet: bool) -> None:
    """Download to `<target>.part`, verify, then rename: a broken transfer never looks complete."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                disable=quiet,
                transient=True,
            ) as bar:
                task = bar.add_task(f"download {target.name}", total=total)
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
        verify_file(part, expected)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _fetch(spec: DatasetSpec, rf: RemoteFile, root: Path, quiet: bool) -> Path:
    target = root / spec.name / rf.name
    errors = []
    for mirror in spec.mirrors:
        url = mirror + rf.name
        log.info("downloading %s", url)
        try:
            _download(url, target, rf, quiet)
            return target
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {exc}")
        except DataError as exc:  # a mirror served a bad file: try the next one
            errors.append(str(exc))
    raise DataError(_missing_message(spec, root, errors))


def _missing_message(spec: DatasetSpec, root: Path, errors: list[str]) -> str:
    wanted = ", ".join(rf.name for rf in spec.files)
    local = [n for n in DATASETS if n != spec.name and find_raw_copy(n) is not None]
    hint = f"; datasets already on this machine: {', '.join(local)}" if local else ""
    why = f" (download failed: {errors[-1]})" if errors else " (downloads are off)"
    return (
        f"dataset {spec.name!r} is not on this machine{why}; put {wanted} "
        f"(from {spec.mirrors[0]}) in {root / spec.name}{hint}"
    )


def find_raw_copy(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding a complete raw copy of a dataset's files, without verifying them."""
    spec = DATASETS[name]
    folders = search_folders(name, data_dir)
    if spec.members and _find_members(spec, folders):
        return _find_members(spec, folders)
    found = [_find_file(rf.name, folders) for rf in spec.files]
    if not all(found):
        return None
    first = found[0]
    assert first is not None  # all(found)
    return first.parent


def ensure_files(
    spec: DatasetSpec, data_dir=None, download: bool = True, quiet: bool = False
) -> tuple[Path, list[dict]]:
    """A folder holding every verified file the parser needs, downloading what is missing, and
    the records of the files verified (verify_file)."""
    folders = search_folders(spec.name, data_dir)
    root = cache_root(data_dir)
    if spec.members:
        extracted = _find_members(spec, folders)
        if extracted is not None:
            return extracted, [verify_file(extracted / m.name, m) for m in spec.members]
    paths, records = [], []
    for rf in spec.files:
        path = _find_file(rf.name, folders)
        if path is None:
            if not download:
                raise DataError(_missing_message(spec, root, []))
            path = _fetch(spec, rf, root, quiet)
        records.append(verify_file(path, rf))
        paths.append(path)
    if not spec.members:
        if len({p.parent for p in paths}) > 1:
            raise DataError(
                f"dataset {spec.name!r}: files are split between {sorted({str(p.parent) for p in paths})}; "
                "put them in one folder"
            )
        return paths[0].parent, records
    extracted = _extract(spec, paths[0], root / spec.name)
    return extracted, records + [verify_file(extracted / m.name, m) for m in spec.members]


def _extract(spec: DatasetSpec, archive: Path, dest_root: Path) -> Path:
    """Extract the members into a temporary folder, verify them, then rename it into place."""
    dest_root.mkdir(parents=True, exist_ok=True)
    final = dest_root / spec.member_dir
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{archive}: cannot be extracted ({exc})") from exc
        staged = Path(tmp) / spec.member_dir
        for m in spec.members:
            if not (staged / m.name).is_file():
                raise DataError(f"{archive}: the archive has no {spec.member_dir}/{m.name}")
            verify_file(staged / m.name, m)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
    return final
