"""vm/ktap.py on KTAP as Linux 6.1's KUnit prints it.

tests/unit/data/ktap/ holds one KUnit run (a pass, a failure with diagnostics,
a skip, a failing and a passing parameterized case) in each form we read: dmesg
(util-linux continuation lines), the serial console (every line timestamped),
the debugfs results file with and without its header; plus a built-in run with
two suites, a crash mid-suite and a failed suite init.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vm.ktap import (
    INCOMPLETE,
    SUITE_FAILURE,
    KtapCase,
    KtapError,
    describe_failures,
    parse_ktap,
    summarize,
)

DATA = Path(__file__).parent / "data" / "ktap"

ONE_RUN = ("dmesg_module.log", "console_module.log", "debugfs_results.txt",
           "debugfs_results_noheader.txt")
EXPECTED = [  # (name, ok, skipped)
    ("xv_test_alloc_free", True, False),
    ("xv_test_bad_size", False, False),
    ("xv_test_highmem", True, True),
    ("xv_test_sizes", False, False),
    ("xv_test_orders", True, False),
]


def parse(name: str) -> list[KtapCase]:
    return parse_ktap((DATA / name).read_text())


def by_name(cases: list[KtapCase]) -> dict[str, KtapCase]:
    return {c.name: c for c in cases}


@pytest.mark.parametrize("name", ONE_RUN)
def test_one_run_in_every_form(name: str) -> None:
    cases = parse(name)
    assert [(c.name, c.ok, c.skipped) for c in cases] == EXPECTED
    assert {c.suite for c in cases} == {"xvmalloc"}
    assert summarize(cases) == (2, 2, 1)
    bad = by_name(cases)["xv_test_bad_size"]
    assert bad.diag.splitlines() == [
        "xv_test_bad_size: EXPECTATION FAILED at kernel/xvmalloc/xvmalloc_test.c:71",
        "Expected p == ((void *)0), but",
        "p == c5f2a700",
    ]
    assert by_name(cases)["xv_test_highmem"].diag == "SKIP no highmem in this guest"
    assert by_name(cases)["xv_test_alloc_free"].diag == ""


@pytest.mark.parametrize("name", ("dmesg_module.log", "console_module.log"))
def test_parameterized_cases(name: str) -> None:
    cases = by_name(parse(name))
    sizes = cases["xv_test_sizes"]
    assert [(p.name, p.ok) for p in sizes.params] == [
        ("xv_test_sizes/size=32", True),
        ("xv_test_sizes/size=3072", False),
        ("xv_test_sizes/size=4064", True),
    ]
    assert all(p.suite == "xvmalloc" for p in sizes.params)
    assert sizes.diag.startswith("size=3072: not ok\n")
    assert "size == 3072 (0xc00)" in sizes.diag
    assert "EXPECTATION FAILED at kernel/xvmalloc/xvmalloc_test.c:102" in sizes.params[1].diag
    orders = cases["xv_test_orders"]
    assert orders.ok and [p.name for p in orders.params] == [
        "xv_test_orders/param-0", "xv_test_orders/param-1"]
    assert all(p.params == () for p in sizes.params)


def test_debugfs_keeps_only_the_last_parameter() -> None:
    # 6.1 resets a case's log at each parameter; the case line still says not ok.
    sizes = by_name(parse("debugfs_results.txt"))["xv_test_sizes"]
    assert not sizes.ok
    assert [p.name for p in sizes.params] == ["xv_test_sizes/size=4064"]
    assert "no diagnostic lines" in sizes.diag


def test_stats_lines_are_not_diagnostics() -> None:
    for c in parse("dmesg_module.log"):
        assert "pass:" not in c.diag and "Totals" not in c.diag


def test_builtin_suites_with_top_level_plan() -> None:
    cases = parse("dmesg_builtin_pass.log")
    assert [(c.suite, c.name) for c in cases] == [
        ("xvmalloc", "xv_test_alloc_free"),
        ("xvmalloc", "xv_test_bad_size"),
        ("ramzswap", "rzs_test_zero_page"),
    ]
    assert summarize(cases) == (3, 0, 0)


def test_crash_mid_suite_is_a_failure_with_the_crash() -> None:
    cases = parse("dmesg_crash.log")
    assert [(c.name, c.ok) for c in cases] == [("xv_test_alloc_free", True),
                                               (INCOMPLETE, False)]
    diag = cases[1].diag
    assert "announced 5 results but printed 1" in diag
    assert "no result line of its own" in diag
    assert "BUG: kernel NULL pointer dereference" in diag
    assert summarize(cases) == (1, 1, 0)


def test_suite_init_failure() -> None:
    cases = parse("dmesg_suite_init_failed.log")
    assert len(cases) == 1
    c = cases[0]
    assert (c.suite, c.name, c.ok) == ("xvmalloc", SUITE_FAILURE, False)
    assert "failed to initialize (-12)" in c.diag


def test_crash_before_the_first_case() -> None:
    text = "[ 1.0]     KTAP version 1\n[ 1.0]     # Subtest: xvmalloc\n[ 1.0]     1..3\n"
    cases = parse_ktap(text)
    assert [(c.suite, c.name, c.ok) for c in cases] == [("xvmalloc", INCOMPLETE, False)]


def test_crash_inside_a_parameterized_case() -> None:
    text = """\
    KTAP version 1
    # Subtest: s
    1..2
    ok 1 a
        KTAP version 1
        # Subtest: b
        ok 1 p0
Oops: 0000 [#1] PREEMPT SMP
"""
    cases = parse_ktap(text)
    assert [(c.suite, c.name, c.ok) for c in cases] == [
        ("s", "a", True), ("s", INCOMPLETE, False), ("s", "b", False)]
    assert [p.name for p in cases[2].params] == ["b/p0"]
    assert "Oops" in cases[1].diag


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "[    0.000000] Linux version 6.1.0\n[    1.0] Run /sbin/init as init process\n",
        "[    1.140000] KTAP version 1\n[    1.140000] 1..0\n",
        "kunit: disabled\n",
    ],
)
def test_no_results_is_an_error(text: str) -> None:
    with pytest.raises(KtapError):
        parse_ktap(text)


def test_suite_not_ok_without_failing_case() -> None:
    text = "    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s\n"
    cases = parse_ktap(text)
    assert [(c.name, c.ok) for c in cases] == [("a", True), (SUITE_FAILURE, False)]


def test_fewer_cases_than_planned() -> None:
    text = "    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\nok 1 s\n"
    cases = parse_ktap(text)
    assert [(c.name, c.ok) for c in cases] == [("a", True), (INCOMPLETE, False)]
    assert "announced 3 results but printed 1" in cases[1].diag


def test_fewer_suites_than_planned() -> None:
    text = ("KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s\n    1..1\n"
            "    ok 1 a\nok 1 s\n")
    cases = parse_ktap(text)
    assert [(c.suite, c.name, c.ok) for c in cases] == [("s", "a", True),
                                                        ("", INCOMPLETE, False)]


def test_two_module_loads_in_one_dmesg() -> None:
    run = "    KTAP version 1\n    # Subtest: s\n    1..1\n    {} 1 a\n{} 1 s\n"
    text = run.format("ok", "ok") + "unrelated\n" + run.format("not ok", "not ok")
    cases = parse_ktap(text)
    assert [(c.suite, c.name, c.ok) for c in cases] == [("s", "a", True), ("s", "a", False)]


def test_directive_forms() -> None:
    text = """\
    KTAP version 1
    # Subtest: s
    1..4
    ok 1 a # SKIP
    ok 2 b # skip lower case
    ok 3 c #SKIP tight
    not ok 4 d # TODO not done
not ok 1 s
"""
    cases = parse_ktap(text)
    assert [(c.name, c.ok, c.skipped) for c in cases] == [
        ("a", True, True), ("b", True, True), ("c", True, True), ("d", False, False)]
    assert cases[1].diag == "SKIP lower case"
    assert summarize(cases) == (0, 1, 3)


def test_older_tap_with_dash_and_caller_ids() -> None:
    text = """\
<6>[    1.0][    T1] TAP version 14
<6>[    1.0][    T1] 1..1
<6>[    1.0][    T1]     # Subtest: old
<6>[    1.0][    T1]     1..2
<6>[    1.0][    T1]     ok 1 - first
<6>[    1.0][    T1]     not ok 2 - second
<6>[    1.0][    T1] not ok 1 - old
"""
    cases = parse_ktap(text)
    assert [(c.suite, c.name, c.ok) for c in cases] == [("old", "first", True),
                                                        ("old", "second", False)]


def test_kernel_noise_before_ktap_is_not_diag() -> None:
    text = ("[ 1.0] some driver: hello\n[ 1.1] \n               continuation\n"
            "[ 2.0]     KTAP version 1\n[ 2.0]     # Subtest: s\n[ 2.0]     1..1\n"
            "[ 2.1]     not ok 1 a\n[ 2.2] not ok 1 s\n")
    (case,) = parse_ktap(text)
    assert case.diag == "reported not ok (no diagnostic lines in this log)"


def test_summarize_and_describe() -> None:
    cases = parse("dmesg_module.log")
    assert summarize([]) == (0, 0, 0)
    text = describe_failures(cases)
    assert "not ok xvmalloc.xv_test_bad_size" in text
    assert "not ok xvmalloc.xv_test_sizes" in text
    assert "xv_test_alloc_free" not in text
    assert "    Expected p == ((void *)0), but" in text


def test_cases_are_frozen() -> None:
    case = parse("dmesg_module.log")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.ok = False  # type: ignore[misc]


def test_kunit_lite_report() -> None:
    """kernel/xvmalloc/kunit_lite.c's report (kernels without KUnit): its
    passing lines as the perf kernel printed them, with a skip, a failed
    assertion and a failed expectation in the format it prints them."""
    cases = by_name(parse("dmesg_kunit_lite.log"))
    assert len(cases) == 18 and all(c.suite == "xvmalloc" for c in cases.values())
    assert cases["xvt_highmem"].ok and cases["xvt_highmem"].skipped
    nomem = cases["xvt_nomem"]
    assert not nomem.ok and "ASSERTION FAILED at kernel/xvmalloc/xvmalloc_kunit.c:490" \
        in nomem.diag and "st.alloc_failures == 2 (0x2)" in nomem.diag
    chunk = cases["xvt_nomem_chunk"]
    assert not chunk.ok and "object 3 corrupt" in chunk.diag
    passed = [n for n, c in cases.items() if c.ok and not c.skipped]
    assert len(passed) == 15 and "xvt_meta" in passed
    assert "pages 774 -> 351" not in cases["xvt_meta"].diag
