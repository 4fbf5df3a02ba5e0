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
# Kernel series the harness builds, each from Debian's linux-source-<series>.
# 6.1 keeps the original cache paths (src/, kernel/<flavour>, modules/<flavour>);
# every other series gets its own (src/<series>/, kernel/<series>-<flavour>, ...).
KERNELS = ("6.1", "6.12")
DEFAULT_KERNEL = "6.1"


def series_of(release: str) -> str:
    """"6.12.118-ramzswap" -> "6.12" (the default series if it cannot tell)."""
    parts = release.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and parts[1].isdigit() else DEFAULT_KERNEL


def cache_root() -> Path:
    """Root of every build product and log."""
    env = os.environ.get("RAMZSWAP_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ramzswap"


def debian_kernel_tarball(series: str = DEFAULT_KERNEL) -> Path:
    return Path(f"/usr/src/linux-source-{series}.tar.xz")


def build_name(flavour: str, series: str = DEFAULT_KERNEL) -> str:
    """A kernel build's name in cache paths and logs: `debug` for 6.1's debug
    flavour (as before the series axis existed), `6.12-debug` for 6.12's."""
    return flavour if series == DEFAULT_KERNEL else f"{series}-{flavour}"


def src_dir(series: str = DEFAULT_KERNEL) -> Path:
    """Where Debian's kernel tarball of *series* is unpacked (one copy for all
    flavours; each series has its own directory and completion stamp)."""
    root = cache_root() / "src"
    return root if series == DEFAULT_KERNEL else root / series


def source_tree(series: str = DEFAULT_KERNEL) -> Path:
    return src_dir(series) / f"linux-source-{series}"


def kernel_build_dir(flavour: str, series: str = DEFAULT_KERNEL) -> Path:
    """A flavour's kernel build directory (`make O=`)."""
    return cache_root() / "kernel" / build_name(flavour, series)


def modules_out_dir(name: str) -> Path:
    """Where our built .ko files are collected for a kernel build (see build_name)."""
    return cache_root() / "modules" / name


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
