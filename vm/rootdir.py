"""Removing a root directory that mmdebstrap built, or left half built.

mmdebstrap mounts /proc, /sys, /dev/pts and /dev/shm inside the root while
it installs; when it is killed (a timeout, ^C) they stay mounted, and a
plain rmtree of the root would then walk into the host's /proc and /sys.
Mounts under the root are undone first (lazily, deepest first)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from vm.errors import StepError

MOUNTS = Path("/proc/self/mounts")


def _unescape(field: str) -> str:
    """/proc/self/mounts writes space, tab, newline and backslash as octal."""
    for code, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, ch)
    return field


def mounts_under(root: Path, table: str | None = None) -> list[Path]:
    """Mount points at or below *root*, deepest first."""
    text = MOUNTS.read_text() if table is None else table
    top = root.resolve()
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = Path(_unescape(fields[1]))
        if point == top or top in point.parents:
            found.append(point)
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def remove(root: Path, step: str) -> None:
    """Unmount whatever is mounted under *root*, then delete it."""
    if not root.exists():
        return
    points = mounts_under(root)
    if points and shutil.which("umount") is None:
        raise StepError(step, f"{points[0]} is still mounted (a killed mmdebstrap left it) and "
                              "umount is not installed: apt-get install mount")
    for point in points:
        res = subprocess.run(["umount", "--lazy", str(point)], capture_output=True, text=True,
                             check=False)
        if res.returncode != 0:
            raise StepError(step, f"{point} is still mounted (a killed mmdebstrap left it) and "
                                  f"umount failed: {res.stderr.strip()}; unmount it by hand")
    if mounts_under(root):
        raise StepError(step, f"mounts remain under {root}; unmount them by hand")
    shutil.rmtree(root)
