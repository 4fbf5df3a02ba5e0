"""`invoke bench` end to end in a booted guest, at the smallest size: every
contender runs and the results document has every field.  Nothing about speed is
asserted (timing is reported by `invoke bench`, never judged).

The plan is bench.run.SMOKE: the quick plan's every step and field (corpus, the
whole allocator matrix and pool-size ladder, every device's I/O and swap runs) at
a few MiB, so that it also finishes in minutes on the debug kernel, where it
doubles as a check of xvbench.ko under lockdep, SLUB_DEBUG, DEBUG_PAGEALLOC
and kmemleak (the guest fixture fails the test on any kernel
report)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import alloc, device, report, run
from vm.guest import Guest
from vm.step import say

pytestmark = [pytest.mark.vm, pytest.mark.bench, pytest.mark.both_flavours]


def test_bench_smoke_has_every_field(guest: Guest, flavour: str, tmp_path: Path) -> None:
    res = run.run_in_guest(guest, run.SMOKE)
    assert report.validate(res) == []
    assert res["guest"]["flavour"] == flavour
    assert res["kernel_log"]["problems"] == []

    xb = res["allocator"]["xvbench"]
    assert xb["results_truncated"] is False
    assert xb["corpus"]["pages"] == res["corpus"]["pages"]
    for r in xb["runs"]:
        assert r["error"] is None, r
        assert r["after_drain"]["objects"] == 0, r
        if r["alloc"] == "xvmalloc":
            assert r["xv_check_pool"] == 0, r
    assert {r["alloc"] for r in xb["runs"]} == set(alloc.ALLOCATORS)

    for kind in device.DEVICES:
        d = res["device"]["devices"][kind]
        assert d["swap"]["hog"]["mismatches"] == 0, d["swap"]["hog"]
        assert d["swap"]["pswpout_mib"] > 0, d["swap"]
    # nothing of the bench is left behind in the guest
    left = guest.run("grep -E '^(xvbench|ramzswap|brd) ' /proc/modules; "
                     "tail -n +2 /proc/swaps", check=False).stdout
    assert left.strip() == "", left

    out = report.write(res, tmp_path)
    md = (out / "report.md").read_text()
    assert "## Missing fields" not in md
    say(f"bench smoke ({flavour}): {res['seconds']:.0f}s; report {out / 'report.md'}")
