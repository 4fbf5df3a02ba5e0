"""Check what the tool chain needs before starting a long step; one line per
problem, each saying what to install or how to run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vm import paths
from vm.errors import StepError

# (command or file, Debian package)
TOOLS: tuple[tuple[str, str], ...] = (
    ("gcc", "build-essential"), ("make", "build-essential"), ("flex", "flex"),
    ("bison", "bison"), ("bc", "bc"), ("xz", "xz-utils"), ("cpio", "cpio"),
    ("depmod", "kmod"), ("sparse", "sparse"), ("mmdebstrap", "mmdebstrap"),
    ("mke2fs", "e2fsprogs"), ("ssh-keygen", "openssh-client"), ("umount", "mount"),
    ("qemu-system-i386", "qemu-system-x86"),
)
FILES: tuple[tuple[str, str], ...] = (
    ("/usr/include/libelf.h", "libelf-dev"),
    ("/usr/include/openssl/ssl.h", "libssl-dev"),
    ("/usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a", "gcc-multilib"),
)


def problems(series: str = paths.DEFAULT_KERNEL) -> list[str]:
    found: list[str] = []
    if os.geteuid() != 0:
        found.append("must run as root (mmdebstrap builds the guest's files as root): "
                     "use sudo, or run as root")
    missing: dict[str, list[str]] = {}
    for tool, pkg in TOOLS:
        if shutil.which(tool) is None:
            missing.setdefault(pkg, []).append(tool)
    tarball = (str(paths.debian_kernel_tarball(series)), f"linux-source-{series}")
    for f, pkg in (*FILES, tarball):
        if not Path(f).exists():
            missing.setdefault(pkg, []).append(f)
    if missing:
        found.append("missing " + ", ".join(w for ws in missing.values() for w in ws)
                     + ": apt-get install " + " ".join(sorted(missing)))
    return found


def require(series: str = paths.DEFAULT_KERNEL) -> None:
    found = problems(series)
    if found:
        raise StepError("preflight", "; ".join(found) + " (./setup.sh installs them)")
