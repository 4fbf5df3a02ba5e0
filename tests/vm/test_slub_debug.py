"""The debug kernel really debugs the slab: SLUB_DEBUG_ON puts red zones,
poisoning, owner tracking and sanity checks on every cache, and 6.1's own
KUnit suite (lib/slub_kunit.c, slub_kunit.ko) corrupts red zones, free
pointers and poisoned objects and passes only if SLUB detects each one.
Page poisoning (page_poison=1) is on the command line."""

from __future__ import annotations

import pytest

from vm import kmemleak
from vm.guest import Guest
from vm.paths import series_of
from vm.testing.kunit import run_suite

pytestmark = [pytest.mark.vm, pytest.mark.debug_only]

SUITE = "slub_test"
# lib/slub_kunit.c in 6.1 without KASAN (our kernels have none)
CASES = ["test_clobber_zone", "test_next_pointer", "test_first_word",
         "test_clobber_50th_byte", "test_clobber_redzone_free"]
# 6.12's adds these (test_leak_destroy leaves one object behind on purpose)
CASES_6_12 = [*CASES, "test_kmalloc_redzone_access", "test_kfree_rcu", "test_leak_destroy"]


def expected_cases(release: str) -> list[str]:
    return CASES_6_12 if series_of(release) == "6.12" else CASES


def test_slub_debug_metadata_on_every_cache(guest: Guest) -> None:
    """SLUB_DEBUG_ON: kmalloc-64 objects carry red zones and owner tracks, so
    their slot (slabinfo's objsize, s->size) is larger than 64 bytes.  (The
    tiny kernel has no SLUB sysfs to read the flags from.)"""
    sizes = {}
    for line in guest.cat("/proc/slabinfo").splitlines():
        f = line.split()
        if f and f[0] in ("kmalloc-64", "kmalloc-128"):
            sizes[f[0]] = int(f[3])
    assert set(sizes) == {"kmalloc-64", "kmalloc-128"}, sizes
    assert sizes["kmalloc-64"] > 64 and sizes["kmalloc-128"] > 128, sizes
    assert "page_poison=1" in guest.cat("/proc/cmdline").split()


def is_leak_destroy_object(leak: kmemleak.Leak) -> bool:
    """The object 6.12's test_leak_destroy allocates from its 64-byte cache
    and never frees.  Matched by size and task, not by backtrace: slub_kunit
    is unloaded by then, and a module loaded later at its address (ours)
    would be named in the stale frames."""
    return leak.size == 64 and leak.comm == "kunit_try_catch"


def test_slub_kunit_detects_corruption(guest: Guest) -> None:
    leak_case = "test_leak_destroy" in expected_cases(guest.release)
    leakcheck = leak_case and guest.run(f"test -w {kmemleak.PATH}", check=False).status == 0
    if leakcheck:
        # what is reported by now is not this test's
        guest.kmemleak_scan()
        guest.run(f"echo clear > {kmemleak.PATH}")
    run = run_suite(guest, SUITE, "slub_kunit", "modprobe slub_kunit")
    if leakcheck:
        # the one leak this test expects, and only it; cleared, so that no
        # later test's kmemleak check sees it
        guest.run("sleep 6")
        found = [lk for lk in kmemleak.parse(guest.kmemleak_scan()) if is_leak_destroy_object(lk)]
        guest.run(f"echo clear > {kmemleak.PATH}")
        shown = "\n\n".join(lk.text for lk in found)
        assert len(found) == 1, ("test_leak_destroy's object: expected exactly one kmemleak "
                                 f"report, got {len(found)}:\n{shown}")
    cases = expected_cases(guest.release)
    assert sorted(run.cases) == sorted(cases), f"cases: {sorted(run.cases)}\n{run.results}"
    for name in cases:
        c = run.cases[name]
        assert not c.skipped, f"{name} was skipped: {c.diag}"
        # each case expects a given count of SLUB error reports; it fails when
        # SLUB did not detect its corruption
        assert c.ok, f"{name}: SLUB did not report the corruption as expected:\n{c.diag}"
