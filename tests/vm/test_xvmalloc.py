"""xvmalloc.ko in the guest: its KUnit suite (xvmalloc_test.ko, suite
"xvmalloc"), one pytest result per KUnit case, and load/unload cycles.
On the debug kernel KUnit runs the suite; the perf kernel has no KUnit, so
there kernel/xvmalloc/kunit_lite.c runs the same cases (as on Debian's
stock kernels) and its KTAP report comes from the kernel log.

The suite runs once per booted guest (vm/testing/kunit.py), when the first
KUnit test here asks for it; the others read the same results."""

from __future__ import annotations

import pytest

from vm import kmemleak
from vm.guest import Guest
from vm.testing.kunit import XVMALLOC_CASES, SuiteRun, loaded, run_suite
from vm.testing.kunit import unload as _unload

pytestmark = pytest.mark.vm

SUITE = "xvmalloc"
RESULTS = f"/sys/kernel/debug/kunit/{SUITE}/results"
KUNIT_TIMEOUT_S = 600.0
CYCLES = 5

CASES = XVMALLOC_CASES

_runs: dict[int, SuiteRun] = {}


def _run_suite(guest: Guest) -> SuiteRun:
    ours = not loaded(guest, "xvmalloc")
    if ours:
        guest.run(f"insmod {guest.modules_dir}/xvmalloc.ko")
    try:
        return run_suite(guest, SUITE, "xvmalloc_test",
                         f"insmod {guest.modules_dir}/xvmalloc_test.ko", KUNIT_TIMEOUT_S)
    finally:
        if ours:
            guest.run("rmmod xvmalloc", check=False)
            assert not loaded(guest, "xvmalloc"), "rmmod xvmalloc failed"


_failures: dict[int, str] = {}


def _suite(guest: Guest) -> SuiteRun:
    """The suite's results on this guest, run on first use; a failure to
    run it fails every test that asks, without running it again."""
    key = id(guest)
    if key in _failures:
        pytest.fail(f"(as before) {_failures[key]}")
    if key not in _runs:
        try:
            _runs[key] = _run_suite(guest)
        except BaseException as e:
            _failures[key] = f"running the KUnit suite failed: {e}"
            raise
    return _runs[key]


@pytest.mark.both_flavours
def test_kunit_reports_every_case(guest: Guest) -> None:
    run = _suite(guest)
    missing = [c for c in CASES if c not in run.cases]
    unknown = sorted(set(run.cases) - set(CASES))
    assert not missing and not unknown, (
        f"KUnit cases missing: {missing}; not listed in CASES: {unknown}\n"
        f"--- {RESULTS} ---\n{run.results}")


@pytest.mark.both_flavours
@pytest.mark.parametrize("case", CASES)
def test_kunit(guest: Guest, case: str) -> None:
    run = _suite(guest)
    c = run.cases.get(case)
    if c is None:
        pytest.fail(f"KUnit case {case} did not report\n--- {RESULTS} ---\n{run.results}")
    where = "kernel log" if case in run.from_klog else RESULTS
    # A case KUnit skipped did not test anything: that is a failure here.
    assert not c.skipped, f"KUnit skipped {case} (from the {where}): {c.diag.strip()}"
    assert c.ok, f"KUnit case {case} failed (from the {where}):\n{c.diag}"


@pytest.mark.both_flavours
def test_load_unload_cycles(guest: Guest) -> None:
    """insmod/rmmod xvmalloc.ko (and on the debug kernel xvmalloc_test.ko,
    which runs the whole suite each time) five times; kmemleak, where the
    kernel has it, must find nothing new."""
    mods = guest.modules_dir
    with_kunit = guest.flavour == "debug"
    kml = kmemleak.PATH
    guest.run("mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug")
    _unload(guest, "ramzswap", "xvmalloc_test", "xvmalloc")
    leakcheck = guest.run(f"test -w {kml}", check=False).status == 0
    if leakcheck:
        guest.run(f"echo clear > {kml}")
    for i in range(CYCLES):
        guest.run(f"insmod {mods}/xvmalloc.ko")
        assert loaded(guest, "xvmalloc"), f"cycle {i}: xvmalloc not loaded"
        if with_kunit:
            guest.run(f"insmod {mods}/xvmalloc_test.ko", timeout=KUNIT_TIMEOUT_S)
            last = guest.run(f"tail -n 1 {RESULTS}", check=False).stdout.strip()
            assert last == f"ok 1 {SUITE}", f"cycle {i}: suite ended with {last!r}"
            guest.run("rmmod xvmalloc_test")
        if i == CYCLES - 1 and leakcheck:
            # with xvmalloc still loaded, so a report names its functions;
            # kmemleak reports objects unreferenced for over 5 s
            guest.run("sleep 6")
            ours = kmemleak.ours(guest.kmemleak_scan())
            assert not ours, f"kmemleak after {CYCLES} cycles, through our modules:\n" + \
                "\n\n".join(lk.text for lk in ours)
        guest.run("rmmod xvmalloc")
        assert not loaded(guest, "xvmalloc"), f"cycle {i}: xvmalloc still loaded"
