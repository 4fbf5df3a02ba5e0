"""kconfig layering and verification against the real 6.1 Kconfig tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from vm import kconfig, kernel, paths


@pytest.fixture(scope="module")
def srctree() -> Path:
    return kernel.unpack_source()


def _frag(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_parse_fragment(tmp_path: Path) -> None:
    f = _frag(tmp_path, "a.config",
              '# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=12\n')
    got = [(r.name, r.value) for r in kconfig.parse_fragment(f)]
    assert got == [("A", "y"), ("B", "n"), ("C", "x y"), ("D", "12")]


def test_parse_fragment_rejects_garbage(tmp_path: Path) -> None:
    f = _frag(tmp_path, "bad.config", "CONFIG_A=y\nHIGHMEM=y\n")
    with pytest.raises(kconfig.KconfigFailure, match=r"bad.config:2"):
        kconfig.parse_fragment(f)


@pytest.mark.parametrize("flavour", paths.FLAVOURS)
def test_flavours_resolve(srctree: Path, tmp_path: Path, flavour: str) -> None:
    out = tmp_path / ".config"
    reqs = kconfig.resolve(srctree, kernel.fragments(flavour), out)
    vals = kconfig.parse_dotconfig(out.read_text())
    assert vals["HIGHMEM4G"] == "y" and vals["SMP"] == "y" and vals["ZRAM"] == "y"
    assert vals.get("64BIT", "n") == "n"
    assert vals.get("PROVE_LOCKING", "n") == ("y" if flavour == "debug" else "n")
    assert all(vals.get(r.name, "n") == r.value for r in reqs)


def test_later_layer_wins(srctree: Path, tmp_path: Path) -> None:
    extra = _frag(tmp_path, "x.config", "# CONFIG_ZRAM is not set\n")
    out = tmp_path / ".config"
    frags = [*kernel.fragments("perf")[:2], extra]
    # base asks ZRAM=y, the later layer n: the request list holds both, so the
    # earlier one is reported as not taken.
    with pytest.raises(kconfig.KconfigFailure, match=r"CONFIG_ZRAM .*base.config.*wanted 'y'"):
        kconfig.resolve(srctree, frags, out)


def test_nonexistent_symbol_named(srctree: Path, tmp_path: Path) -> None:
    bad = _frag(tmp_path, "bad.config", "CONFIG_RAMZSWAP_NO_SUCH_THING=y\n")
    with pytest.raises(kconfig.KconfigFailure) as ei:
        kconfig.resolve(srctree, [*kernel.fragments("perf"), bad], tmp_path / ".config")
    assert "CONFIG_RAMZSWAP_NO_SUCH_THING" in str(ei.value)
    assert "no such symbol" in str(ei.value)
    assert not (tmp_path / ".config").exists()


def test_unmet_dependency_explained(srctree: Path, tmp_path: Path) -> None:
    # PAE needs HIGHMEM64G; our i386 layer asks for HIGHMEM4G.
    bad = _frag(tmp_path, "pae.config", "CONFIG_X86_PAE=y\n")
    with pytest.raises(kconfig.KconfigFailure) as ei:
        kconfig.resolve(srctree, [*kernel.fragments("perf"), bad], tmp_path / ".config")
    msg = str(ei.value)
    assert "CONFIG_X86_PAE" in msg and "HIGHMEM4G" in msg and "pae.config:1" in msg


def test_verify_final_catches_a_changed_symbol(tmp_path: Path) -> None:
    reqs = [kconfig.Request("SWAP", "y", "base.config:3"), kconfig.Request("KUNIT", "n", "x:1")]
    kconfig.verify_final("CONFIG_SWAP=y\n# CONFIG_KUNIT is not set\n", reqs, tmp_path)
    with pytest.raises(kconfig.KconfigFailure, match="CONFIG_SWAP"):
        kconfig.verify_final("# CONFIG_SWAP is not set\n", reqs, tmp_path)
