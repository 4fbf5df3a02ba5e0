"""The DKMS package and kernel/Makefile: one version, both modules, and one
clear line for a KDIR we cannot build against (no kernel is built here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from vm import dkms, paths

KERNEL = paths.KERNEL_MODULES_SRC


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(KERNEL), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_dkms_conf_names_both_modules_and_autoinstalls() -> None:
    conf = dkms.read_conf()
    assert conf["PACKAGE_NAME"] == "ramzswap"
    assert re.fullmatch(r"\d+\.\d+\.\d+", conf["PACKAGE_VERSION"])
    assert conf["BUILT_MODULE_NAME[0]"] == "xvmalloc"
    assert conf["BUILT_MODULE_NAME[1]"] == "ramzswap"
    assert conf["BUILT_MODULE_LOCATION[0]"] == "xvmalloc/"
    assert conf["BUILT_MODULE_LOCATION[1]"] == "ramzswap/"
    assert conf["AUTOINSTALL"] == "yes"
    # The build goes through kernel/Makefile, which holds the refusals below.
    assert conf["MAKE[0]"].startswith("make KDIR=${kernel_source_dir}")


def test_version_has_one_source() -> None:
    version = dkms.version()
    out = _make("help")
    assert out.returncode == 0, out.stderr
    assert f"version {version} (from dkms.conf)" in out.stdout
    # No other file under kernel/ spells a version of its own.
    for f in KERNEL.rglob("*"):
        if f.is_file() and f.name != "dkms.conf":
            assert version not in f.read_text(errors="replace"), f


def _tree(root: Path, release: str | None, autoconf: str | None) -> Path:
    root.mkdir(parents=True)
    (root / "Makefile").write_text("all:\n\t@false\n")
    if autoconf is not None:
        (root / "include/config").mkdir(parents=True)
        (root / "include/config/auto.conf").write_text(autoconf)
    if release is not None:
        (root / "include/generated").mkdir(parents=True)
        (root / "include/generated/utsrelease.h").write_text(
            f'#define UTS_RELEASE "{release}"\n')
    return root


GOOD_CONF = "CONFIG_MODULES=y\nCONFIG_CRYPTO=y\nCONFIG_CRYPTO_LZO=m\n"


@pytest.mark.parametrize(("case", "expect"), [
    ("missing", r"KDIR=\S+ is not a kernel build tree \(no Makefile there\)"),
    ("unconfigured", r"is not a configured kernel tree \(no include/config/auto.conf\)"),
    ("old", r"kernel 5\.10\.0-28-686-pae at KDIR=\S+ is not supported: ramzswap \S+ builds "
            r"on Linux 6\.1\.y and 6\.12\.y"),
    ("newer", r"kernel 6\.13\.1 at KDIR=\S+ is not supported"),
    ("noversion", r"kernel of unknown version \(no include/generated/utsrelease.h\)"),
    ("nocrypto", r"has no crypto API \(CONFIG_CRYPTO\)"),
    ("nocompressor", r"has none of the compressors ramzswap uses"),
])
def test_bad_kdir_is_one_clear_line(tmp_path: Path, case: str, expect: str) -> None:
    kdir = tmp_path / "kdir"
    if case == "unconfigured":
        _tree(kdir, None, None)
    elif case == "old":
        _tree(kdir, "5.10.0-28-686-pae", GOOD_CONF)
    elif case == "newer":
        _tree(kdir, "6.13.1", GOOD_CONF)
    elif case == "noversion":
        _tree(kdir, None, GOOD_CONF)
    elif case == "nocrypto":
        _tree(kdir, "6.1.0-40-686-pae", "CONFIG_MODULES=y\n")
    elif case == "nocompressor":
        _tree(kdir, "6.12.57+deb13-amd64", "CONFIG_MODULES=y\nCONFIG_CRYPTO=y\n")
    for target in ("all", "modules_install"):
        out = _make(f"KDIR={kdir}", target)
        assert out.returncode != 0
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, out.stderr
        assert re.search(r"\*\*\* ramzswap: .*" + expect, lines[0]), lines[0]
        assert out.stdout == ""


def test_supported_release_passes_the_checks(tmp_path: Path) -> None:
    # Every check passes, so make goes on into KDIR (whose Makefile fails here).
    kdir = _tree(tmp_path / "kdir", "6.12.117-ramzswap", GOOD_CONF)
    out = _make(f"KDIR={kdir}")
    assert "ramzswap:" not in out.stderr
    assert f"-C {kdir} M={KERNEL}" in out.stdout
