"""xvmalloc.ko in the guest: its KUnit suite (xvmalloc_test.ko, suite
"xvmalloc"), one pytest result per KUnit case, and load/unload cycles.

The suite runs once per booted guest, when the first KUnit test here asks
for it; the others read the same results.  Results come from debugfs
(/sys/kernel/debug/kunit/xvmalloc/results); 6.1 keeps only 512 bytes of log
per case there, so a case whose diagnostics overflowed it is looked up in
the kernel log (the same KTAP, printed in full) instead."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from vm import kmemleak
from vm.guest import Guest
from vm.ktap import INCOMPLETE, SUITE_FAILURE, KtapCase, KtapError, parse_ktap

pytestmark = pytest.mark.vm

SUITE = "xvmalloc"
RESULTS = f"/sys/kernel/debug/kunit/{SUITE}/results"
KUNIT_TIMEOUT_S = 600.0
CYCLES = 5

# Every case of kernel/xvmalloc/xvmalloc_test.c, in suite order.  A case
# that does not report (or one not listed here) fails
# test_kunit_reports_every_case.
CASES = [
    "xvt_invalid_sizes",
    "xvt_sizes_alone",
    "xvt_sizes_interleaved",
    "xvt_coalesce",
    "xvt_sparse",
    "xvt_random",
    "xvt_map_modes",
    "xvt_highmem",
    "xvt_nomem",
    "xvt_nomem_chunk",
    "xvt_atomic",
    "xvt_irq_context",
    "xvt_concurrency",
]

@dataclass
class SuiteRun:
    cases: dict[str, KtapCase]
    results: str        # the debugfs results file
    klog: str           # kernel log lines printed while the suite ran
    from_klog: list[str]


_runs: dict[int, SuiteRun] = {}


def _loaded(guest: Guest, module: str) -> bool:
    return guest.run(f"test -d /sys/module/{module}", check=False).status == 0


def _unload(guest: Guest, *modules: str) -> None:
    for m in modules:
        if _loaded(guest, m):
            guest.run(f"rmmod {m}")
        assert not _loaded(guest, m), f"{m} still loaded after rmmod"


def _suite_cases(text: str) -> dict[str, KtapCase]:
    """The suite's cases in *text*, by name; {} if it holds no KTAP result."""
    try:
        found = parse_ktap(text)
    except KtapError:
        return {}
    return {c.name: c for c in found if c.suite in (SUITE, "")}


def _run_suite(guest: Guest) -> SuiteRun:
    mods = guest.modules_dir
    guest.run("mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug")
    _unload(guest, "xvmalloc_test")
    ours = not _loaded(guest, "xvmalloc")
    if ours:
        guest.run(f"insmod {mods}/xvmalloc.ko")
    marker = f"xvmalloc-kunit-start-{time.time_ns()}"
    guest.run(f"echo {marker} > /dev/kmsg")
    try:
        guest.run(f"insmod {mods}/xvmalloc_test.ko", timeout=KUNIT_TIMEOUT_S)
        results = guest.run(f"cat {RESULTS}", check=False).stdout
        dmesg = guest.run("dmesg", timeout=60).stdout
    finally:
        guest.run("rmmod xvmalloc_test", check=False)
        if ours:
            guest.run("rmmod xvmalloc", check=False)
    klog = dmesg.split(marker, 1)[-1]
    if "kunit: disabled" in klog:
        pytest.fail("KUnit is disabled in this kernel (\"kunit: disabled\"): the debug "
                    "flavour needs CONFIG_KUNIT_DEFAULT_ENABLED=y or kunit.enable=1 on "
                    "the kernel command line")
    assert not _loaded(guest, "xvmalloc_test"), "rmmod xvmalloc_test failed"
    assert not ours or not _loaded(guest, "xvmalloc"), "rmmod xvmalloc failed"
    # debugfs first; a case it lost (its 512-byte log overflowed) comes from
    # the kernel log, which also decides whether the suite was incomplete
    from_file = _suite_cases(results)
    logged = _suite_cases(klog)
    cases = {n: c for n, c in from_file.items() if n not in (INCOMPLETE, SUITE_FAILURE)}
    filled = [n for n in logged if n not in cases]
    for name in filled:
        cases[name] = logged[name]
    if not cases:
        pytest.fail(f"no KUnit results for {SUITE}\n--- {RESULTS} ---\n{results}\n"
                    f"--- kernel log ---\n{klog[-3000:]}")
    return SuiteRun(cases, results, klog, filled)


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


@pytest.mark.debug_only
def test_kunit_reports_every_case(guest: Guest) -> None:
    run = _suite(guest)
    missing = [c for c in CASES if c not in run.cases]
    unknown = sorted(set(run.cases) - set(CASES))
    assert not missing and not unknown, (
        f"KUnit cases missing: {missing}; not listed in CASES: {unknown}\n"
        f"--- {RESULTS} ---\n{run.results}")


@pytest.mark.debug_only
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
    kml = "/sys/kernel/debug/kmemleak"
    guest.run("mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug")
    _unload(guest, "ramzswap", "xvmalloc_test", "xvmalloc")
    leakcheck = guest.run(f"test -w {kml}", check=False).status == 0
    if leakcheck:
        guest.run(f"echo clear > {kml}")
    for i in range(CYCLES):
        guest.run(f"insmod {mods}/xvmalloc.ko")
        assert _loaded(guest, "xvmalloc"), f"cycle {i}: xvmalloc not loaded"
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
        assert not _loaded(guest, "xvmalloc"), f"cycle {i}: xvmalloc still loaded"
