"""vm/klog.py on kernel logs in the formats Linux 6.1 prints.

tests/unit/data/klog/bad_*.log are reports written after 6.1's own printk
formats (lockdep, SLUB, kmemleak, hung task, WARN, Oops, ...) as they appear in
dmesg, in ``dmesg -r`` and on a serial console; good_*.log are clean logs,
every one of which (including any added later) must pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vm import klog
from vm.klog import KernelLogError, Problem, check_clean, find_problems, since, since_marker

DATA = Path(__file__).parent / "data" / "klog"

# bad log -> [(line number, kind), ...] it must report, exactly.
BAD: dict[str, list[tuple[int, str]]] = {
    "bad_lockdep_circular.log": [(4, "lockdep")],
    "bad_lockdep_other.log": [(3, "lockdep"), (26, "lockdep"), (39, "lockdep"), (45, "rcu")],
    "bad_atomic_sleep.log": [(2, "atomic sleep")],
    "bad_slub_poison.log": [(3, "slab")],
    "bad_kmemleak_dmesg.log": [(2, "kmemleak")],
    "bad_kmemleak_file.log": [(1, "kmemleak"), (21, "kmemleak")],
    "bad_hung_task.log": [(2, "hung task")],
    "bad_warning.log": [(3, "warning")],
    "bad_warning_dmesg_raw.log": [(3, "warning"), (7, "atomic sleep")],
    "bad_gpf_panic.log": [(2, "gpf"), (31, "panic"), (32, "panic")],
    "bad_null_deref_oops.log": [(2, "page fault"), (6, "oops")],
    "bad_bad_page.log": [(2, "bad page")],
    "bad_kernel_bug.log": [(3, "kernel BUG"), (4, "oops")],
    "bad_list_corruption.log": [(3, "list corruption"), (4, "warning")],
    "bad_ubsan.log": [(3, "ubsan")],
    "bad_console_no_time.log": [(3, "page fault"), (7, "oops"), (10, "kernel BUG")],
}

GOOD = sorted(p.name for p in DATA.glob("good*.log"))


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_every_bad_log_has_expectations() -> None:
    assert sorted(p.name for p in DATA.glob("bad*.log")) == sorted(BAD)
    assert GOOD, "no clean logs to check"


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_logs(name: str) -> None:
    text = read(name)
    problems = find_problems(text)
    assert [(p.line_no, p.kind) for p in problems] == BAD[name]
    lines = text.splitlines()
    for p in problems:
        assert p.line == lines[p.line_no - 1].rstrip()
    with pytest.raises(KernelLogError):
        check_clean(text, str(DATA / name))


@pytest.mark.parametrize("name", GOOD)
def test_good_logs(name: str) -> None:
    text = read(name)
    assert find_problems(text) == []
    check_clean(text, str(DATA / name))


# ---- single lines -------------------------------------------------------------

PREFIXES = ("", "[   12.345678] ", "<4>", "<4>[   12.345678] ", "[    1.000000][    T1] ",
            "[Tue Nov 25 06:54:00 2026] ", "kern  :warn  : [   12.345678] ",
            "Nov 25 06:54:00 guest kernel: ", "   ")

BAD_LINES = [
    ("BUG: sleeping function called from invalid context at mm/highmem.c:582", "atomic sleep"),
    ("BUG: scheduling while atomic: hog/433/0x00000002", "atomic sleep"),
    ("BUG: Bad page state in process hog  pfn:3a5c1", "bad page"),
    ("BUG: Bad page map in process hog  pte:0badc0de pmd:06e14067", "bad page"),
    ("BUG: Bad rss-counter state mm:c6f0a000 type:MM_SWAPENTS val:-1", "bad page"),
    ("BUG: KASAN: use-after-free in xv_free+0x2e/0x210", "kasan"),
    ("BUG: unable to handle page fault for address: f8a00000", "page fault"),
    ("BUG: kernel NULL pointer dereference, address: 00000004", "page fault"),
    ("watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [hog:433]", "soft lockup"),
    ("BUG: MAX_LOCKDEP_KEYS too low!", "bug"),
    ("BUG: spinlock bad magic on CPU#0, hog/433", "bug"),
    ("BUG kmalloc-64 (Not tainted): Redzone overwritten", "slab"),
    ("BUG kmalloc-128 (Tainted: G    B      O      N): Poison overwritten", "slab"),
    ("BUG xv_pool (Tainted: G           O      ): Object already free", "slab"),
    ("WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:5534 __alloc_pages+0x1e4/0x2d0", "warning"),
    ("WARNING: possible circular locking dependency detected", "lockdep"),
    ("WARNING: possible recursive locking detected", "lockdep"),
    ("WARNING: inconsistent lock state", "lockdep"),
    ("WARNING: possible irq lock inversion dependency detected", "lockdep"),
    ("INFO: possible irq lock inversion dependency detected", "lockdep"),
    ("WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected", "lockdep"),
    ("WARNING: bad unlock balance detected!", "lockdep"),
    ("INFO: trying to register non-static key.", "lockdep"),
    ("WARNING: suspicious RCU usage", "rcu"),
    ("rcu: INFO: rcu_preempt self-detected stall on CPU", "rcu stall"),
    ("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "rcu stall"),
    ("INFO: task kworker/0:1:12 blocked for more than 120 seconds.", "hung task"),
    ("kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"),
    ("unreferenced object 0xc6b41e00 (size 64):", "kmemleak"),
    ("list_add corruption. prev->next should be next (f6d01040), but was 00000000.",
     "list corruption"),
    ("list_del corruption, f6d01040->next is LIST_POISON1 (00000100)", "list corruption"),
    ("UBSAN: array-index-out-of-bounds in kernel/xvmalloc/xvmalloc.c:120:9", "ubsan"),
    ("kernel BUG at mm/slub.c:4378!", "kernel BUG"),
    ("Kernel panic - not syncing: Fatal exception in interrupt", "panic"),
    ("general protection fault: 0000 [#1] PREEMPT SMP", "gpf"),
    ("general protection fault, probably for non-canonical address 0xdead000000000100: "
     "0000 [#1] PREEMPT SMP KASAN NOPTI", "gpf"),
    ("traps: hog[433] general protection fault ip:8049a2c sp:bfd3c460 error:0 in "
     "hog[8048000+9b000]", "user gpf"),
    ("Oops: 0002 [#1] PREEMPT SMP DEBUG_PAGEALLOC", "oops"),
    ("invalid opcode: 0000 [#1] PREEMPT SMP", "oops"),
    ("double fault: 0000 [#1] SMP", "oops"),
    ("Bad pagetable: 000d [#1] PREEMPT SMP", "oops"),
    ("stack segment: 0000 [#1] PREEMPT SMP", "oops"),
    # Added for issue 11; each in the format 6.1 prints (source file named).
    # kernel/locking/lockdep.c print_lock_invalid_wait_context()
    ("[ BUG: Invalid wait context ]", "lockdep"),
    # kernel/rcu/tree_exp.h synchronize_rcu_expedited_wait()
    ("rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-... } 21003 "
     "jiffies s: 129 root: 0x2/.", "rcu stall"),
    # kernel/rcu/tasks.h
    ("INFO: rcu_tasks detected stalls on tasks:", "rcu stall"),
    # mm/swapfile.c _swap_info_get() / __swap_info_get()
    ("swap_info_get: Bad swap file entry 40000003", "swap entry"),
    ("swap_info_get: Unused swap file entry 2c000001", "swap entry"),
    ("_swap_info_get: Unused swap offset entry 00001f3a", "swap entry"),
    # mm/page_io.c end_swap_bio_write() / end_swap_bio_read()
    ("Write-error on swap-device (254:0:262168)", "swap I/O error"),
    ("Read-error on swap-device (254:0:41336)", "swap I/O error"),
    # fs/ext4/super.c __ext4_error(); fs/ext2/super.c ext2_error()
    ("EXT4-fs error (device ramzswap0): ext4_find_entry:1658: inode #2: comm ls: reading "
     "directory lblock 0", "fs error"),
    ("EXT2-fs (ramzswap0): error: ext2_check_page: bad entry in directory #2: : rec_len is "
     "smaller than minimal - offset=0, inode=0, rec_len=0, name_len=0", "fs error"),
    # fs/buffer.c buffer_io_error() and mark_buffer_write_io_error()
    ("Buffer I/O error on dev ramzswap0, logical block 1234, lost async page write",
     "buffer I/O error"),
    ("Buffer I/O error on device ramzswap0, logical block 0", "buffer I/O error"),
    # fs/super.c generic_shutdown_super()
    ("VFS: Busy inodes after unmount of ramzswap0 (ext2). Self-destruct in 5 seconds.  "
     "Have a nice day...", "busy inodes"),
    # drivers/block/zram/zram_drv.c zram_read_from_zspool(); ours, ramzswap_drv.c
    ("zram: Decompression failed! err=-22, page=117", "decompression"),
    ("ramzswap: ramzswap0: decompression of page 117 failed: -22", "decompression"),
    ("ramzswap: ramzswap0: compression failed: -12", "decompression"),
    # mm/page_poison.c check_poison_mem()
    ("pagealloc: memory corruption", "page poison"),
    ("pagealloc: single bit error", "page poison"),
    # mm/slub.c slab_bug(), after other console output on the line
    ("login: BUG kmalloc-96 (Tainted: G    B   O      ): Left Redzone overwritten", "slab"),
    # lib/bug.c report_bug() without CONFIG_DEBUG_BUGVERBOSE
    ("Kernel BUG at kunmap_local_indexed+0x5c/0x70 [verbose debug info unavailable]",
     "kernel BUG"),
    # arch/x86/kernel/traps.c exc_double_fault()
    ("PANIC: double fault, error_code: 0x0", "panic"),
    # kernel/xvmalloc/xvmalloc.c xv_check_report()
    ("xvmalloc: pool ramzswap0: area 3 offset 1024: free block not on its free list",
     "xvmalloc check"),
    ("xvmalloc: pool ramzswap0: 4 more problems", "xvmalloc check"),
]

GOOD_LINES = [
    'PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report a bug',
    "ACPI BIOS Error (bug): Could not resolve symbol [\\_SB.PCI0.S08], AE_NOT_FOUND",
    "[Firmware Bug]: TSC doesn't count with P0 frequency!",
    "[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 0",
    "mce: [Hardware Error]: Machine check events logged",
    "Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible",
    "RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks",
    "Kernel command line: console=ttyS0 panic=-1 oops=panic",
    "kmemleak: Kernel memory leak detector initialized (mem pool available: 15719)",
    "kmemleak: Automatic memory scanning thread started",
    "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "... MAX_LOCK_DEPTH:          48",
    "    not ok 2 xv_test_bad_size",
    "    # xv_test_bad_size: EXPECTATION FAILED at kernel/xvmalloc/xvmalloc_test.c:71",
    "Out of memory: Killed process 433 (hog) total-vm:2623588kB, anon-rss:1973240kB",
    "FAULT_INJECTION: forcing a failure.",
    "hog: page allocation failure: order:0, mode:0x40800(GFP_NOWAIT|__GFP_COMP)",
    "debug_locks = 1 hung_task_timeout_secs = 120",
    "---[ end trace 0000000000000000 ]---",
    "------------[ cut here ]------------",
    "Disabling lock debugging due to kernel taint",
    "echo BUG: in a shell command is not a kernel report",
    "segfault-test: this is not a WARNING: either",
    "ramzswap: bad_page_count stat reset",
    "EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.",
    "EXT2-fs (ramzswap0): warning: mounting unchecked fs, running e2fsck is recommended",
    "Adding 1048572k swap on /dev/ramzswap0.  Priority:-2 extents:1 across:1048572k SS",
    "zram: Added device: zram0",
    "ramzswap: ramzswap0: using lzo-rle compression",
    "xvmalloc: pool ramzswap0 created",
    "rcu: RCU calculated value of scheduler-enlistment delay is 10 jiffies.",
    "page_poison=1 pagealloc: debug pages poisoned",
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("line", "kind"), BAD_LINES)
def test_bad_line(prefix: str, line: str, kind: str) -> None:
    assert klog.classify(prefix + line) == kind
    assert find_problems("clean line\n" + prefix + line + "\n") == [
        Problem(2, kind, (prefix + line).rstrip())
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("line", GOOD_LINES)
def test_good_line(prefix: str, line: str) -> None:
    assert klog.classify(prefix + line) is None


def test_allow_takes_exactly_the_expected_lines() -> None:
    """A real kernel log of test_fault_injection_io_paths (debug guest, 6.1.192):
    70 swap write errors, each allowed by the test's marker, nothing else."""
    text = read("allow_fault_injection_swap_write_errors.log")
    found = find_problems(text)
    assert len(found) == 70 and {p.kind for p in found} == {"swap I/O error"}
    assert find_problems(text, allow=[klog.SWAP_WRITE_ERROR]) == []
    # the allowance is for those lines only: any other report still counts
    extra = text + "[  300.000000] Buffer I/O error on dev ramzswap1, logical block 7\n"
    assert [p.kind for p in find_problems(extra, allow=[klog.SWAP_WRITE_ERROR])] == [
        "buffer I/O error"]


def test_every_kind_has_a_sample_line() -> None:
    assert {kind for _, kind in BAD_LINES} == set(klog.KINDS)


def test_report_after_other_console_output_on_the_same_line() -> None:
    line = "hog: write  40% (409/1024 MiB)[  150.220011] WARNING: CPU: 1 PID: 4 at a.c:1 f+0x1/0x2"
    assert klog.classify(line) == "warning"


def test_serial_console_crlf() -> None:
    text = "[    1.0] ok\r\n[    2.0] BUG: kernel NULL pointer dereference, address: 00000004\r\n"
    assert [(p.line_no, p.kind) for p in find_problems(text)] == [(2, "page fault")]


def test_strip_prefix() -> None:
    assert klog.strip_prefix("<4>[   88.004788] WARNING: x") == "WARNING: x"
    assert klog.strip_prefix("[    1.000000][    T1] hello") == "hello"
    assert klog.strip_prefix("plain") == "plain"


# ---- check_clean ------------------------------------------------------------


def test_check_clean_message_names_log_problems_and_context() -> None:
    text = read("bad_lockdep_circular.log")
    with pytest.raises(KernelLogError) as ei:
        check_clean(text, "/tmp/logs/test_x.dmesg.log")
    err = ei.value
    assert isinstance(err, AssertionError)
    msg = str(err)
    assert "/tmp/logs/test_x.dmesg.log" in msg
    assert "1 lockdep" in msg
    assert "line 4 [lockdep]: [  123.456799] WARNING: possible circular locking" in msg
    assert "kswapd0/38 is trying to acquire lock:" in msg  # context after
    assert "======================================================" in msg  # context before
    assert err.problems == find_problems(text)
    assert err.log_path == "/tmp/logs/test_x.dmesg.log"


def test_check_clean_lists_each_problem() -> None:
    text = read("bad_lockdep_other.log")
    with pytest.raises(KernelLogError) as ei:
        check_clean(text)
    msg = str(ei.value)
    for line_no in (3, 26, 39, 45):
        assert f"line {line_no} [" in msg
    assert "3 lockdep, 1 rcu" in msg
    assert "(log:" not in msg


def test_check_clean_caps_a_flood() -> None:
    text = "\n".join(f"[ {i}.000000] WARNING: CPU: 0 PID: 1 at a.c:{i} f+0x1/0x2"
                     for i in range(500))
    with pytest.raises(KernelLogError) as ei:
        check_clean(text, "x.log")
    msg = str(ei.value)
    assert "500 problem line(s)" in msg
    assert f"... and {500 - klog.MAX_LISTED} more" in msg
    assert len(msg.splitlines()) < 200


def test_ignore_kinds() -> None:
    text = "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
    assert find_problems(text, ignore=("rcu stall",)) == []
    check_clean(text, ignore=("rcu stall",))
    with pytest.raises(KernelLogError):
        check_clean(text)
    with pytest.raises(ValueError, match="unknown problem kinds"):
        find_problems(text, ignore=("rcu-stall",))


def test_kinds_listed() -> None:
    assert "lockdep" in klog.KINDS and "warning" in klog.KINDS
    assert len(set(klog.KINDS)) == len(klog.KINDS)


def test_empty_log_is_clean() -> None:
    check_clean("")


# ---- since / since_marker -----------------------------------------------------

BEFORE = "[ 1.0] a\n[ 2.0] b\n[ 3.0] c\n"


def test_since_when_log_grew() -> None:
    after = BEFORE + "[ 4.0] d\n[ 5.0] WARNING: CPU: 0 PID: 1 at a.c:1 f\n"
    assert since(BEFORE, after) == "[ 4.0] d\n[ 5.0] WARNING: CPU: 0 PID: 1 at a.c:1 f\n"
    assert since(BEFORE, BEFORE) == ""


def test_since_when_ring_buffer_wrapped() -> None:
    after = "[ 2.0] b\n[ 3.0] c\n[ 4.0] d\n"
    assert since(BEFORE, after) == "[ 4.0] d\n"


def test_since_finds_the_old_tail_inside_the_new_log() -> None:
    after = "[ 0.5] other\n" + BEFORE + "[ 4.0] d\n"
    assert since(BEFORE, after) == "[ 4.0] d\n"


def test_since_when_old_lines_are_gone_returns_everything() -> None:
    after = "[ 9.0] x\n[ 10.0] y\n"
    assert since(BEFORE, after) == after


def test_since_with_empty_before() -> None:
    assert since("", "[ 1.0] a\n") == "[ 1.0] a\n"


def test_since_marker() -> None:
    text = ("[ 1.0] ramzswap-test: start t1\n[ 2.0] x\n"
            "[ 3.0] ramzswap-test: start t2\n[ 4.0] y\n")
    assert since_marker(text, "ramzswap-test: start t2") == "[ 4.0] y\n"
    assert since_marker(text, "ramzswap-test: start t1").startswith("[ 2.0] x\n")
    with pytest.raises(ValueError, match="not found"):
        since_marker(text, "ramzswap-test: start t3")
