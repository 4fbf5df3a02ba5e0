"""Run a KUnit suite built as a module in the guest and collect its cases.

Results come from debugfs (/sys/kernel/debug/kunit/<suite>/results); 6.1
keeps only 512 bytes of log per case there, so a case whose diagnostics
overflowed it is looked up in the kernel log (the same KTAP, printed in
full) instead."""

from __future__ import annotations

import time
from dataclasses import dataclass

from vm.guest import Guest
from vm.ktap import INCOMPLETE, SUITE_FAILURE, KtapCase, KtapError, parse_ktap

DEBUGFS = "/sys/kernel/debug"

# Every case of kernel/xvmalloc/xvmalloc_kunit.c, in suite order.  A case
# that does not report (or one not listed here) fails the tests that run
# the suite (tests/vm/test_xvmalloc.py, test_stock_kernels.py).
XVMALLOC_SUITE = "xvmalloc"
XVMALLOC_CASES = [
    "xvt_invalid_sizes",
    "xvt_sizes_alone",
    "xvt_sizes_interleaved",
    "xvt_coalesce",
    "xvt_sparse",
    "xvt_whole_pages",
    "xvt_random",
    "xvt_map_modes",
    "xvt_highmem",
    "xvt_nomem",
    "xvt_nomem_chunk",
    "xvt_atomic",
    "xvt_irq_context",
    "xvt_concurrency",
    "xvt_released_untouched",
    "xvt_compact_sizes",
    "xvt_compact_race",
    "xvt_meta",
]


class KunitError(AssertionError):
    """The suite did not run or reported nothing."""


@dataclass
class SuiteRun:
    suite: str
    cases: dict[str, KtapCase]
    results: str        # the debugfs results file
    klog: str           # kernel log lines printed while the suite ran
    from_klog: list[str]

    @property
    def results_path(self) -> str:
        return results_path(self.suite)


def results_path(suite: str) -> str:
    return f"{DEBUGFS}/kunit/{suite}/results"


def loaded(g: Guest, module: str) -> bool:
    return g.run(f"test -d /sys/module/{module}", check=False).status == 0


def unload(g: Guest, *modules: str) -> None:
    for m in modules:
        if loaded(g, m):
            g.run(f"rmmod {m}")
        if loaded(g, m):
            raise AssertionError(f"{m} still loaded after rmmod")


def suite_cases(text: str, suite: str) -> dict[str, KtapCase]:
    """The suite's cases in *text*, by name; {} if it holds no KTAP result."""
    try:
        found = parse_ktap(text)
    except KtapError:
        return {}
    return {c.name: c for c in found if c.suite in (suite, "")}


def run_suite(g: Guest, suite: str, module: str, load: str, timeout: float = 600.0) -> SuiteRun:
    """Load *module* with the shell command *load* (which runs the suite),
    read the results, unload it."""
    g.run(f"mountpoint -q {DEBUGFS} || mount -t debugfs debugfs {DEBUGFS}")
    unload(g, module)
    marker = f"{suite}-kunit-start-{time.time_ns()}"
    g.run(f"echo {marker} > /dev/kmsg")
    try:
        g.run(load, timeout=timeout)
        results = g.run(f"cat {results_path(suite)}", check=False).stdout
        dmesg = g.dmesg()
    finally:
        g.run(f"! grep -q '^{module} ' /proc/modules || rmmod {module}", check=False)
    klog = dmesg.split(marker, 1)[-1]
    if "kunit: disabled" in klog:
        raise KunitError("KUnit is disabled in this kernel (\"kunit: disabled\"): the debug "
                         "flavour needs CONFIG_KUNIT_DEFAULT_ENABLED=y or kunit.enable=1 on "
                         "the kernel command line")
    if loaded(g, module):
        raise AssertionError(f"rmmod {module} failed")
    # debugfs first; a case it lost (its 512-byte log overflowed) comes from
    # the kernel log
    from_file = suite_cases(results, suite)
    logged = suite_cases(klog, suite)
    cases = {n: c for n, c in from_file.items() if n not in (INCOMPLETE, SUITE_FAILURE)}
    filled = [n for n in logged if n not in cases and n not in (INCOMPLETE, SUITE_FAILURE)]
    for name in filled:
        cases[name] = logged[name]
    if not cases:
        raise KunitError(f"no KUnit results for {suite}\n--- {results_path(suite)} ---\n"
                         f"{results}\n--- kernel log ---\n{klog[-3000:]}")
    return SuiteRun(suite, cases, results, klog, filled)
