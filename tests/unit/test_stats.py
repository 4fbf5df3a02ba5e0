"""The stat-file parsers of vm/stats.py, on lines in the layout the guest prints."""

from __future__ import annotations

import pytest

from vm import stats

# zram in 6.1 prints nine mm_stat fields (huge_pages_since last); ramzswap eight.
ZRAM_MM = "   8192      145     4096        0     4096        1        0        0        0\n"
RZS_MM = "  1048576   321098   331776        0   339968      12        0        3\n"


def test_mm_stat_zram_and_ramzswap() -> None:
    z = stats.parse_mm_stat(ZRAM_MM)
    assert z["orig_data_size"] == 8192 and z["same_pages"] == 1 and z["huge_pages_since"] == 0
    r = stats.parse_mm_stat(RZS_MM)
    assert r["compr_data_size"] == 321098 and r["huge_pages"] == 3
    assert "huge_pages_since" not in r


@pytest.mark.parametrize("bad", ["1 2 3", "1 2 3 4 5 6 7 8 9 10", "1 2 3 4 5 6 7 x"])
def test_mm_stat_rejects_other_layouts(bad: str) -> None:
    with pytest.raises(stats.StatError, match="mm_stat"):
        stats.parse_mm_stat(bad)


def test_io_xv_debug_stat() -> None:
    assert stats.parse_io_stat("       0        2        0       17\n")["failed_writes"] == 2
    xv = stats.parse_xv_stat("   120  300000  327680  80  64  0  2  1536\n")
    assert (xv["pages_highmem"], xv["pages_stashed"], xv["meta_bytes"]) == (64, 2, 1536)
    with pytest.raises(stats.StatError):
        stats.parse_xv_stat("   120  300000  327680  80  64  0\n")
    d = stats.parse_debug_stat("version: 1\n      10      20        0        0\n")
    assert d == {"num_reads": 10, "num_writes": 20, "writestall": 0, "miss_free": 0}
    with pytest.raises(stats.StatError):
        stats.parse_debug_stat("version: 2\n1 2 3 4\n")
    with pytest.raises(stats.StatError):
        stats.parse_io_stat("0 0 0")


def test_meminfo_and_vmstat() -> None:
    mi = stats.parse_meminfo("MemTotal:        2060508 kB\nHighTotal:       1195900 kB\n"
                             "HugePages_Total:       0\n")
    assert mi == {"MemTotal": 2060508, "HighTotal": 1195900, "HugePages_Total": 0}
    assert stats.parse_vmstat("pswpin 12\npswpout 340\n") == {"pswpin": 12, "pswpout": 340}
    with pytest.raises(stats.StatError):
        stats.parse_vmstat("pswpin\n")
