"""The chain proven on the reference the test kernel carries: an i386 HIGHMEM
guest, and zram as its only swap with every swapped page verified."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vm.guest import Guest
from vm.step import say
from vm.testing import swap

pytestmark = pytest.mark.vm

ZRAM = "/sys/block/zram0"
LEAVE_MIB = 192  # memory left available after the balloon (a 288 MiB hog, ~750 MiB through swap)
# The hog's mixed pages compress about 2.1x with LZO, so a live set of twice
# the free memory cannot fit in compressed RAM (seen: OOM).  The live set is
# 1.5x free memory, and two paged-out verify passes make the pages stored
# through swap add up to well over twice the free memory.
LIVE_FACTOR = 1.5


@pytest.mark.both_flavours
def test_guest_is_i386_with_highmem(guest: Guest) -> None:
    assert guest.run("uname -m").stdout.strip() == "i686"
    mi = guest.meminfo()
    assert mi["HighTotal"] > 900 * 1024, mi  # about 1.1 GiB of a 2 GiB guest
    assert mi["LowTotal"] < 900 * 1024, mi
    assert guest.run("nproc").stdout.strip() == "2"
    assert guest.run("uname -r").stdout.strip() == guest.release


def _zram_stat(g: Guest, name: str) -> list[int]:
    return [int(x) for x in g.run(f"cat {ZRAM}/{name}").stdout.split()]


@pytest.fixture
def zram_swap(guest: Guest) -> Iterator[Guest]:
    g = guest
    swap.swapoff_all(g)
    g.run("modprobe zram")  # built in: modprobe consults modules.builtin
    swap.swapon_device(g, ZRAM, "/dev/zram0")
    try:
        yield g
    finally:
        swap.deflate_balloon(g)
        g.run("swapoff /dev/zram0", timeout=900, check=False)
        g.run(f"echo 1 > {ZRAM}/reset", check=False)


# Debug kernel only in CI (time); `invoke bench` swaps through zram on the perf
# kernel in every run, every page verified.
def test_zram_swap_integrity(zram_swap: Guest, flavour: str) -> None:
    """Every page verified, and the device empty after swapoff and reset,
    while zsmalloc compaction runs all the time
    (zram's compact attribute, 10 times a second), as its shrinker runs it
    under memory pressure: issue 10 was compaction moving an object that
    zram had mapped, on a kernel where zsmalloc's migrate lock was compiled
    out (6.1 without CONFIG_COMPACTION)."""
    g = zram_swap
    assert swap.swaps(g) == ["/dev/zram0"]
    with swap.background(g, f"while :; do echo 1 > {ZRAM}/compact; sleep 0.1; done"):
        run_ = swap.hog_through_swap(g, LEAVE_MIB, LIVE_FACTOR, seed=7)
    hog, free_mib, out_mib, in_mib = run_.hog, run_.free_mib, run_.out_mib, run_.in_mib
    mib = hog.mib
    mm = _zram_stat(g, "mm_stat")
    say(f"zram {flavour}: hog {mib} MiB ({LIVE_FACTOR} x {free_mib} MiB available): write "
        f"{hog.raw['write_mib_s']} MiB/s, verify {hog.raw['verify_mib_s']} MiB/s; swapped out "
        f"{out_mib:.0f} MiB, in {in_mib:.0f} MiB; mem_used_max {mm[4] / 2**20:.0f} MiB; "
        f"{hog.seconds:.0f}s")
    assert hog.mismatches == 0, hog.raw
    kinds = hog.raw["kind_counts"]
    assert all(kinds[k] > 0 for k in ("zero", "same", "text", "binary", "random")), kinds
    # Pages really went through zram: at least twice the free memory's worth.
    assert out_mib >= 2 * free_mib, (out_mib, free_mib)
    assert in_mib >= free_mib, (in_mib, free_mib)
    assert mm[4] > 0, f"zram mem_used_max is 0: nothing was stored ({mm})"

    # and swapoff plus reset leave it empty
    swap.deflate_balloon(g)
    g.run("swapoff /dev/zram0", timeout=900)
    g.run(f"echo 1 > {ZRAM}/reset")
    assert _zram_stat(g, "disksize") == [0]
    mm = _zram_stat(g, "mm_stat")
    assert mm[0] == 0 and mm[1] == 0 and mm[2] == 0, mm
