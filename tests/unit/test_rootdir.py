"""vm/rootdir.py: a root that a killed mmdebstrap left with mounts inside."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vm import rootdir
from vm.errors import StepError

TABLE = """\
proc /proc proc rw 0 0
none /srv/r/rootfs/dev/pts devpts rw 0 0
tmpfs /srv/r/rootfs/dev/shm tmpfs rw 0 0
proc /srv/r/rootfs/proc proc ro 0 0
tmpfs /srv/r/rootfs2 tmpfs rw 0 0
tmpfs /srv/r/root\\040fs tmpfs rw 0 0
"""


def test_mounts_under_is_deepest_first_and_exact() -> None:
    got = rootdir.mounts_under(Path("/srv/r/rootfs"), TABLE)
    assert got[:2] in ([Path("/srv/r/rootfs/dev/pts"), Path("/srv/r/rootfs/dev/shm")],
                       [Path("/srv/r/rootfs/dev/shm"), Path("/srv/r/rootfs/dev/pts")])
    assert got[2:] == [Path("/srv/r/rootfs/proc")]   # not rootfs2
    assert rootdir.mounts_under(Path("/srv/r/root fs"), TABLE) == [Path("/srv/r/root fs")]


def test_remove_unmounts_then_deletes(tmp_path: Path) -> None:
    """A real tmpfs mounted inside the root (setup.sh and the harness run as
    root, so this one does too) is unmounted, not walked into."""
    assert os.geteuid() == 0, "the harness runs as root (mmdebstrap needs it)"
    root = tmp_path / "rootfs"
    inner = root / "dev" / "shm"
    inner.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", str(inner)], check=True)
    try:
        (inner / "keep").write_text("x")
        rootdir.remove(root, "test")
        assert not root.exists()
        assert rootdir.mounts_under(tmp_path) == []
    finally:
        if rootdir.mounts_under(inner):
            subprocess.run(["umount", "--lazy", str(inner)], check=False)


def test_remove_of_nothing_is_fine(tmp_path: Path) -> None:
    rootdir.remove(tmp_path / "absent", "test")


def test_unmount_failure_is_one_clear_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    monkeypatch.setattr(rootdir, "mounts_under", lambda r, t=None: [root / "proc"])
    with pytest.raises(StepError, match="still mounted"):
        rootdir.remove(root, "stock image i386")
    assert root.exists()


def test_missing_umount_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale mount and no umount (a root without Debian's `mount` package):
    one line naming the package, and the root is left alone."""
    root = tmp_path / "rootfs"
    root.mkdir()
    monkeypatch.setattr(rootdir, "mounts_under", lambda r, t=None: [root / "proc"])
    monkeypatch.setattr("vm.rootdir.shutil.which", lambda name: None)
    with pytest.raises(StepError, match="apt-get install mount"):
        rootdir.remove(root, "guest image")
    assert root.exists()
