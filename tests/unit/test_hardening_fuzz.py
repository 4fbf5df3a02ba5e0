"""The malformed-input generator and oracles of vm/testing/sysfs_model.py
(pure logic: no guest)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from vm import kmemleak, stats
from vm.testing import faults
from vm.testing import sysfs_model as hu

AVAILABLE = ["lzo", "lzo-rle", "lz4", "lz4hc", "842", "zstd"]


# ---------------------------------------------------------------------------
# oracles: what the kernel's parsers accept, and what the driver documents


@pytest.mark.parametrize(("text", "expect"), [
    (b"0", 0), (b"1", 1), (b"1\n", 1), (b"+1", 1), (b"0x10", 16), (b"0X10", 16), (b"010", 8),
    (b"0x", None), (b"08", None), (b"", None), (b"-1", None), (b"1 ", None), (b"1\n\n", None),
    (b"18446744073709551615", hu.U64_MAX), (b"18446744073709551616", None), (b"1\x00", None),
    (b"0xg", None), (b"++1", None), (b"\xd9\xa1", None),
])
def test_kstrtoull(text: bytes, expect: int | None) -> None:
    assert hu.kstrtoull(text, 0) == expect


@pytest.mark.parametrize(("text", "expect"), [
    (b"1", 1), (b"-1", -1), (b"+1", 1), (b"-0", 0), (b"007", 7), (b"2147483647", hu.INT_MAX),
    (b"2147483648", None), (b"-2147483648", -hu.INT_MAX - 1), (b"-2147483649", None),
    (b"0x1", None), (b"-+1", None), (b"+-1", None), (b"1\n", 1), (b"1 ", None), (b"", None),
])
def test_kstrtoint10(text: bytes, expect: int | None) -> None:
    assert hu.kstrtoint10(text) == expect


@pytest.mark.parametrize(("text", "expect"), [
    (b"4097", 4097), (b"0x100000", 1 << 20), (b"512M", 512 << 20), (b"1G", 1 << 30),
    (b"2g", 2 << 30), (b"1k", 1024), (b"0", 0), (b"1T", 1 << 40), (b"1G\n", 1 << 30),
    (b"16E", None), (b"15E", 15 << 60), (b"1.5G", None), (b"+1G", None), (b" 1G", None),
    (b"1G\n\n", None), (b"1\nG", None), (b"1\x00G", None), (b"4096\n\n", None),
    (b"1" * 31, None), (b"G", None), (b"1GG", None), (b"99999999999999999999999", None),
])
def test_parse_size(text: bytes, expect: int | None) -> None:
    assert hu.parse_size(text) == expect


# The values tests/vm/test_ramzswap.py checks in the guest agree with the oracles.
RAMZSWAP_BAD = [
    ("disksize", b"0"), ("disksize", b"abc"), ("disksize", b"-1"), ("disksize", b"-1G"),
    ("disksize", b"+1G"), ("disksize", b"1X"), ("disksize", b"1G junk"), ("disksize", b" 1G"),
    ("disksize", b"1GG"), ("disksize", b"G"), ("disksize", b"99999999999999999999999"),
    ("disksize", b"16E"), ("disksize", b"1.5G"), ("disksize", b"1G\n\n"),
    ("mem_limit", b"abc"), ("mem_limit", b"-1"), ("mem_limit", b"1Q"), ("mem_limit", b"16E"),
    ("mem_limit", b"17T"), ("mem_limit", b"\n"), ("mem_used_max", b"1"),
    ("mem_used_max", b"00"), ("mem_used_max", b"-0"), ("reset", b"0"), ("reset", b"-1"),
    ("reset", b"abc"), ("reset", b"99999999999"), ("reset", b"1x"), ("reset", b"\n"),
    ("comp_algorithm", b"nosuchalg"), ("comp_algorithm", b"\n"), ("comp_algorithm", b"LZO"),
    ("comp_algorithm", b"lzo junk"), ("comp_algorithm", b" lzo"), ("comp_algorithm", b"x" * 300),
    ("comp_algorithm", b"deflate"),
]
RAMZSWAP_GOOD = [
    ("disksize", b"4097\n"), ("disksize", b"0x100000\n"), ("disksize", b"512M\n"),
    ("disksize", b"2g\n"), ("mem_limit", b"1k\n"), ("mem_limit", b"0\n"), ("mem_limit", b"1T\n"),
    ("mem_used_max", b"0\n"), ("reset", b"1\n"), ("comp_algorithm", b"lzo\n"),
    ("comp_algorithm", b"zstd"),
]


def _valid(attr: str, v: bytes) -> bool:
    oracles: dict[str, Callable[[bytes], bool]] = {
        "disksize": hu.disksize_valid, "mem_limit": hu.mem_limit_valid,
        "mem_used_max": hu.mem_used_max_valid, "reset": hu.reset_valid,
        "comp_algorithm": lambda b: hu.comp_valid(b, AVAILABLE),
    }
    return oracles[attr](v)


@pytest.mark.parametrize(("attr", "value"), RAMZSWAP_BAD)
def test_oracle_rejects_known_bad(attr: str, value: bytes) -> None:
    assert not _valid(attr, value)


@pytest.mark.parametrize(("attr", "value"), RAMZSWAP_GOOD)
def test_oracle_accepts_known_good(attr: str, value: bytes) -> None:
    assert _valid(attr, value)


def test_disksize_and_limit_ranges() -> None:
    # table entries are indexed by unsigned long: 2^29 - 1 pages of 4 KiB
    assert hu.disksize_valid(str(hu.RZS_MAX_PAGES * 4096).encode())
    assert not hu.disksize_valid(str(hu.RZS_MAX_PAGES * 4096 + 1).encode())
    assert hu.mem_limit_valid(b"15T") and not hu.mem_limit_valid(b"16T")


def test_params() -> None:
    assert hu.num_devices_valid(b"1") and hu.num_devices_valid(b"32")
    assert hu.num_devices_valid(b"0x20") and hu.num_devices_valid(b"+3")
    assert not hu.num_devices_valid(b"0") and not hu.num_devices_valid(b"33")
    assert not hu.num_devices_valid(b"0x21") and not hu.num_devices_valid(b"4294967297")
    assert hu.logical_block_size_valid(b"512") and hu.logical_block_size_valid(b"0x1000")
    assert not hu.logical_block_size_valid(b"1024") and not hu.logical_block_size_valid(b"")


def test_hot_remove_id() -> None:
    assert hu.hot_remove_id(b"0") == 0 and hu.hot_remove_id(b"7\n") == 7
    assert hu.hot_remove_id(b"-1") is None and hu.hot_remove_id(b"1x") is None


# ---------------------------------------------------------------------------
# the generator


def _all(seed: int = 1) -> dict[str, list[hu.Value]]:
    rng = random.Random(seed)
    return {
        "disksize": hu.malformed_disksize(400, rng),
        "mem_limit": hu.malformed_mem_limit(300, rng),
        "comp_algorithm": hu.malformed_comp(250, rng, AVAILABLE),
        "reset": hu.malformed_reset(200, rng),
        "mem_used_max": hu.malformed_mem_used_max(120, rng),
        "hot_remove": hu.malformed_hot_remove(150, rng),
        "num_devices": hu.malformed_param("num_devices", 60, rng),
        "logical_block_size": hu.malformed_param("logical_block_size", 40, rng),
    }


def test_generator_is_deterministic() -> None:
    assert _all(5) == _all(5)
    assert _all(5) != _all(6)


def test_generated_values_are_malformed_and_distinct() -> None:
    valid = {
        "disksize": hu.disksize_valid, "mem_limit": hu.mem_limit_valid,
        "comp_algorithm": lambda b: hu.comp_valid(b, AVAILABLE), "reset": hu.reset_valid,
        "mem_used_max": hu.mem_used_max_valid,
        "hot_remove": lambda b: hu.hot_remove_id(b) is not None,
        "num_devices": hu.num_devices_valid, "logical_block_size": hu.logical_block_size_valid,
    }
    for attr, vals in _all().items():
        assert vals, attr
        values = [v.value for v in vals]
        assert len(set(values)) == len(values), attr
        for v in vals:
            assert v.attr == attr
            assert not valid[attr](v.value), (attr, v)
            # an empty write never reaches a sysfs store; "num_devices=" is a
            # legitimate empty parameter
            assert v.value != b"" or attr in ("num_devices", "logical_block_size"), (attr, v)


def test_generator_sizes_and_categories() -> None:
    got = _all()
    sysfs = sum(len(v) for k, v in got.items() if k not in ("num_devices", "logical_block_size"))
    assert sysfs >= 1000, sysfs
    for attr in ("disksize", "mem_limit", "comp_algorithm", "reset", "mem_used_max"):
        cats = {v.category for v in got[attr]}
        for c in ("whitespace", "sign", "non-ascii", "nul", "long", "empty"):
            assert c in cats, (attr, c, sorted(cats))
    for attr in ("disksize", "mem_limit", "reset"):
        assert "overflow" in {v.category for v in got[attr]}, attr
    # every size-attribute quirk of rzs_parse_size() the oracle knows is generated
    dvals = {v.value for v in hu.malformed_disksize(10_000, random.Random(1))}
    for v in (b"1\x00G", b"4096\n\n", b"1G\n\n", b"+1G", b" 1G", b"16E"):
        assert v in dvals or any(v in x for x in dvals), v


def test_module_params_have_no_separators() -> None:
    for attr in ("num_devices", "logical_block_size"):
        for v in _all()[attr]:
            assert not hu.PARAM_FORBIDDEN.search(v.value), v


def test_long_values_cover_the_sysfs_limit() -> None:
    vals = [v.value for v in hu.malformed_comp(10_000, random.Random(2), AVAILABLE)]
    assert max(len(v) for v in vals) > hu.SYSFS_MAX_WRITE
    assert any(len(v) == hu.SYSFS_MAX_WRITE for v in vals)


# ---------------------------------------------------------------------------
# the rzstool sysfuzz spec and output


def test_spec_and_output_round_trip() -> None:
    cases = [hu.Case("/sys/x/a", "a", "c", b"1\x00\n"), hu.Case("/sys/x/b", "b", "c", b"\n",
                                                                 frozenset({"EINVAL"}))]
    spec = hu.spec_text(["/sys/x/s1", "/sys/x/s2"], cases)
    assert spec == "S /sys/x/s1\nS /sys/x/s2\nW /sys/x/a 31000a\nW /sys/x/b 0a\n"
    run = hu.FuzzRun()
    nxt, stopped = hu.parse_sysfuzz("R 0 OK -1 EINVAL same\nR 1 OK 1 OK changed\nC 1\n"
                                    "/sys/x/s1=2\n", cases, run)
    assert (nxt, stopped) == (2, True)
    assert run.outcomes[0].rejected and not run.outcomes[1].rejected
    probs = run.problems()
    assert len(probs) == 2 and probs[0].startswith("ACCEPTED b[c]") and "STATE CHANGED" in probs[1]
    assert run.changed_states == ["/sys/x/s1=2"]
    run2 = hu.FuzzRun()
    assert hu.parse_sysfuzz("R 1 EACCES -2 OK same\nE 2\n", cases, run2) == (2, False)
    assert run2.outcomes[0].rejected and run2.outcomes[0].error == "EACCES"
    assert run2.problems() == ["WRONG ERRNO b[c] <- b'\\n' (1 bytes): EACCES, expected EINVAL"]
    with pytest.raises(ValueError):
        hu.parse_sysfuzz("garbage", cases, hu.FuzzRun())


def test_kmemleak_and_zoneinfo_parsing() -> None:
    report = ("unreferenced object 0xc1 (size 32):\n  comm \"x\", pid 7, jiffies 1\n  backtrace:\n"
              "    [<c1>] kstrdup\nunreferenced object 0xc2 (size 64):\n  backtrace:\n"
              "    [<c2>] xv_malloc+0x1/0x2 [xvmalloc]\n")
    leaks = kmemleak.parse(report)
    assert [lk.ours for lk in leaks] == [False, True]
    assert [(lk.size, lk.comm) for lk in leaks] == [(32, "x"), (64, None)]
    zi = ("Node 0, zone      DMA\n  pages free     3000\n        min      10\n"
          "Node 0, zone   Normal\n  pages free     211567\n        boost    0\n"
          "        min      929\n        low      1161\n        high     1393\n"
          "Node 0, zone  HighMem\n  pages free     9\n        min      32\n")
    assert stats.parse_zone_watermarks(zi) == {"free": 211567, "boost": 0, "min": 929, "low": 1161,
                                      "high": 1393}
    assert stats.parse_zone_watermarks(zi, "HighMem") == {"free": 9, "min": 32}


def test_fault_attr_commands() -> None:
    cmds = faults.fault_attr_commands("fail_page_alloc", 50, times=1000, ignore_gfp_wait=False)
    parts = cmds.split(" && ")
    assert parts[0] == "echo 0 > /sys/kernel/debug/fail_page_alloc/probability"
    assert parts[-1] == "echo 50 > /sys/kernel/debug/fail_page_alloc/probability"
    assert "echo N > /sys/kernel/debug/fail_page_alloc/ignore-gfp-wait" in parts
    assert "echo 0 > /sys/kernel/debug/fail_page_alloc/min-order" in parts
    assert "echo Y > /sys/kernel/debug/fail_page_alloc/task-filter" in parts
    assert "ignore-gfp-highmem" not in faults.fault_attr_commands("failslab", 10)
