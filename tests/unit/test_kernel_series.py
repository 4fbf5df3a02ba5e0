"""The kernel-series axis: 6.1 keeps its cache paths, 6.12 gets its own, and
the fragments resolve on the real 6.12 Kconfig tree with every request taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from vm import kconfig, kernel, paths
from vm.errors import StepError


def test_default_series_keeps_the_original_paths(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("RAMZSWAP_CACHE", str(tmp_path))
    assert paths.DEFAULT_KERNEL == "6.1"
    assert paths.kernel_build_dir("debug") == tmp_path / "kernel" / "debug"
    assert paths.source_tree() == tmp_path / "src" / "linux-source-6.1"
    assert paths.modules_out_dir(paths.build_name("perf")) == tmp_path / "modules" / "perf"


def test_newer_series_gets_its_own_directories(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("RAMZSWAP_CACHE", str(tmp_path))
    assert paths.kernel_build_dir("debug", "6.12") == tmp_path / "kernel" / "6.12-debug"
    assert paths.source_tree("6.12") == tmp_path / "src" / "6.12" / "linux-source-6.12"
    assert paths.build_name("perf", "6.12") == "6.12-perf"
    assert paths.debian_kernel_tarball("6.12") == Path("/usr/src/linux-source-6.12.tar.xz")


def test_unknown_series_is_one_clear_error() -> None:
    with pytest.raises(StepError, match=r"unknown kernel series '5\.10'.*6\.1, 6\.12"):
        kernel.fragments("debug", "5.10")


def test_6_1_fragments_unchanged() -> None:
    assert [f.name for f in kernel.fragments("debug")] == [
        "base.config", "i386.config", "debug.config"]
    assert [f.name for f in kernel.fragments("debug", "6.12")] == [
        "base.config", "i386.config", "debug.config", "6.12.config"]


@pytest.fixture(scope="module")
def srctree_612() -> Path:
    return kernel.unpack_source("6.12")


@pytest.mark.parametrize("flavour", paths.FLAVOURS)
def test_6_12_flavours_resolve(srctree_612: Path, tmp_path: Path, flavour: str) -> None:
    assert kconfig.kernel_version(srctree_612).startswith("6.12.")
    out = tmp_path / ".config"
    reqs = kconfig.resolve(srctree_612, kernel.fragments(flavour, "6.12"), out)
    vals = kconfig.parse_dotconfig(out.read_text())
    assert vals["HIGHMEM4G"] == "y" and vals["ZRAM"] == "y" and vals["ZSMALLOC"] == "y"
    assert vals.get("64BIT", "n") == "n"
    # 6.12's tiny.config asks for SLUB_TINY; 6.12.config turns it off again.
    assert vals.get("SLUB_TINY", "n") == "n"
    if flavour == "debug":
        assert vals["SLUB_DEBUG"] == "y" and vals["SLUB_DEBUG_ON"] == "y"
    assert vals.get("PROVE_LOCKING", "n") == ("y" if flavour == "debug" else "n")
    assert all(vals.get(r.name, "n") == r.value for r in reqs)


def test_6_12_bare_modules_keyword_is_read(srctree_612: Path) -> None:
    # 6.12 still writes the bare `modules` attribute that kconfiglib 14.1 lacks:
    # without the fix MODULES would not be the modules symbol.
    text = (srctree_612 / "kernel/module/Kconfig").read_text()
    assert kconfig._BARE_MODULES_RE.search(text)
    with kconfig._environ(kconfig.kconfig_env(srctree_612)):
        kconf = kconfig._Kconfig(str(srctree_612 / "Kconfig"), warn=False)
    assert kconf.modules is kconf.syms["MODULES"]
