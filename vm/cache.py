"""Content-addressed cache keys and atomic 'this step finished' stamps.

A step's output directory is named by a hash of its inputs.  It counts as
valid only once its stamp file exists; the stamp is written last, atomically,
so an interrupted or failed step is never taken as valid next time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

STAMP = ".ramzswap-complete"


def hash_parts(parts: Iterable[str | bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p.encode() if isinstance(p, str) else p
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:16]


def hash_files(paths: Iterable[Path], root: Path | None = None) -> str:
    """Hash file names (relative to *root*) and contents, in sorted order."""
    parts: list[str | bytes] = []
    for p in sorted(paths):
        parts.append(str(p.relative_to(root)) if root else p.name)
        parts.append(p.read_bytes())
    return hash_parts(parts)


def tool_version(cmd: list[str]) -> str:
    """First line of `cmd --version`, or 'missing'."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "missing"
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""


def is_complete(directory: Path, key: str) -> bool:
    stamp = directory / STAMP
    try:
        return stamp.read_text().strip() == key
    except OSError:
        return False


def mark_complete(directory: Path, key: str) -> None:
    tmp = directory / (STAMP + ".tmp")
    tmp.write_text(key + "\n")
    os.replace(tmp, directory / STAMP)


def invalidate(directory: Path) -> None:
    (directory / STAMP).unlink(missing_ok=True)


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on *directory*'s build while in the block, so two
    processes (two terminals, a test run and `invoke build`) never run make in
    the same output directory at once; the second waits, then finds the stamp."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = directory.parent / f".{directory.name}.lock"
    with lock.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            from vm.step import say
            say(f"waiting for another build of {directory} to finish ...")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
