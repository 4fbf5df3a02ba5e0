"""Every cache, log and result location in one place.

The cache root is ``$RAMZSWAP_CACHE`` if set, else ``$XDG_CACHE_HOME/ramzswap``,
else ``~/.cache/ramzswap``.  Nothing is ever written into the source tree except
``results/`` (benchmark reports meant to be read and committed).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "vm" / "configs"
GUEST_SRC = REPO / "vm" / "guest"
KERNEL_MODULES_SRC = REPO / "kernel"
RESULTS = REPO / "results"

DEBIAN_KERNEL_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
FLAVOURS = ("debug", "perf")


def cache_root() -> Path:
    """Root of every build product and log."""
    env = os.environ.get("RAMZSWAP_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ramzswap"


def src_dir() -> Path:
    """Where Debian's kernel tarball is unpacked (one copy for all flavours)."""
    return cache_root() / "src"


def kernel_build_dir(flavour: str) -> Path:
    """Stable name of a flavour's kernel build directory (a symlink to the
    directory named by its input hash)."""
    return cache_root() / "kernel" / flavour


def modules_out_dir(flavour: str) -> Path:
    """Where our built .ko files are collected for a flavour."""
    return cache_root() / "modules" / flavour


def image_dir() -> Path:
    return cache_root() / "image"


def guest_bin_dir() -> Path:
    return cache_root() / "guest-bin"


def logs_dir() -> Path:
    """Every log: build logs, QEMU serial consoles, guest kernel logs."""
    return cache_root() / "logs"


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
