"""The DKMS package of kernel/: dkms.conf (the one place the version is
written) and the source tree as `dkms add` wants it (/usr/src/<name>-<version>)."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from vm import paths

CONF = paths.KERNEL_MODULES_SRC / "dkms.conf"
_LINE_RE = re.compile(r"^([A-Z_]+(?:\[\d+\])?)=(.*)$")


def read_conf(path: Path = CONF) -> dict[str, str]:
    """dkms.conf's assignments (quotes removed); comments and blanks skipped."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE_RE.match(line)
        if m is None:
            raise ValueError(f"{path}: not an assignment: {raw!r}")
        val = m.group(2)
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        out[m.group(1)] = val
    return out


def version() -> str:
    return read_conf()["PACKAGE_VERSION"]


def name() -> str:
    return read_conf()["PACKAGE_NAME"]


def source_files(root: Path = paths.KERNEL_MODULES_SRC) -> list[Path]:
    """What goes into the DKMS source tree: the module sources, Kbuild files,
    the Makefile and dkms.conf (no build products)."""
    keep = (".c", ".h")
    return sorted(p for p in root.rglob("*") if p.is_file() and (
        p.suffix in keep or p.name in ("Kbuild", "Makefile", "dkms.conf")))


def tarball(dest: Path) -> Path:
    """`<name>-<version>/...` as a tar file: untar it in /usr/src, then
    `dkms add <name>/<version>`."""
    top = f"{name()}-{version()}"
    out = dest / f"{top}.tar"
    with tarfile.open(out, "w") as t:
        for f in source_files():
            t.add(f, arcname=f"{top}/{f.relative_to(paths.KERNEL_MODULES_SRC)}")
    return out
