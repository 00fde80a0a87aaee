"""One process at a time fills a cache folder (a built-in dataset's, or your own images')."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from filelock import BaseFileLock, FileLock, Timeout

from cifarbench.errors import DataError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"  # in each cache folder, held while filling it


@contextlib.contextmanager
def cache_lock(folder: Path, timeout: float = 3600.0):
    """One process at a time downloads, extracts and parses into a dataset's cache folder.

    Two trainings started together on a fresh machine would otherwise download into the same
    `.part` file and race on the extraction; the second one waits here, then finds the cache
    complete. The lock is an flock, released by the operating system if its holder dies.
    A folder that cannot be written (a shared read-only cache) is used without a lock."""
    lock = FileLock(folder / LOCK_NAME, timeout=timeout)
    held: BaseFileLock | None = lock  # None: used without a lock
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as exc:
        log.warning("no lock on %s (%s); not safe against a second process filling it", folder, exc)
        held = None
    except Timeout:
        raise DataError(
            f"{folder} has been locked by another process for {timeout:.0f} s; if none is running, "
            f"delete {folder / LOCK_NAME}"
        ) from None
    try:
        yield
    finally:
        if held is not None:
            held.release()
