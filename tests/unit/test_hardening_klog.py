# ruff: noqa: E501, W291  (a real kernel log sample, kept verbatim)
"""How the kernel-log checker treats the allocation-failure reports that fault
injection and memory pressure can produce, and the parser the hardening tests
use to find such reports that run through our code (pure logic, no guest)."""

from __future__ import annotations

from vm import klog

# A real warn_alloc() report from our debug guest (6.1.192, i386): a vmalloc
# failure injected with fail-nth while finit_module() read ramzswap.ko.
VMALLOC_FAILURE = """\
[  189.411752] rzstool: vmalloc error: size 27548, vm_struct allocation failed, mode:0xcc0(GFP_KERNEL), nodemask=(null)
[  189.415752] CPU: 1 PID: 195 Comm: rzstool Tainted: G           O       6.1.192-ramzswap #2 
[  189.415752] Call Trace:
[  189.415752]  dump_stack_lvl+0x4a/0x5c
[  189.415752]  dump_stack+0xd/0x10
[  189.415752]  warn_alloc.cold+0x64/0xd0
[  189.415752]  __vmalloc_node_range+0xb0/0x5b0
[  189.415752]  ? lock_acquire+0xae/0x260
[  189.415752]  vmalloc+0x67/0x70
[  189.415752]  ? kernel_read_file+0x34c/0x380
[  189.415752]  kernel_read_file+0x34c/0x380
[  189.415752]  ? kernel_read_file_from_fd+0x52/0xa0
[  189.415752]  kernel_read_file_from_fd+0x52/0xa0
[  189.415752]  __ia32_sys_finit_module+0x77/0xd0
[  189.415752]  ia32_sys_call+0x415/0x11b0
[  189.415752]  __do_fast_syscall_32+0x4d/0xa0
[  189.415752]  do_fast_syscall_32+0x32/0x70
[  189.415752]  do_SYSENTER_32+0x15/0x20
[  189.415752]  entry_SYSENTER_32+0x98/0xfb
[  189.415752] EIP: 0xb7f3f549
[  189.415752] Code: 03 74 c0 01 10 05 03 74 b8 01 10 06 03 74 b4 01 10 07 03 74 b0 01 10 08 03 74 d8 01 00 00 00 00 00 51 52 55 89 e5 0f 34 cd 80 <5d> 5a 59 c3 90 90 90 90 8d 76 00 58 b8 77 00 00 00 cd 80 90 8d 76
[  189.415752] EAX: ffffffda EBX: 00000004 ECX: bf857c7c EDX: 00000000
[  189.415752] ESI: 00000001 EDI: bf857c7c EBP: bf858024 ESP: bf85795c
[  189.415752] DS: 007b ES: 007b FS: 0000 GS: 0033 SS: 007b EFLAGS: 00000282
[  189.423753] Mem-Info:
[  189.423753] active_anon:16388 inactive_anon:1084 isolated_anon:0
                active_file:4011 inactive_file:1727 isolated_file:0
                unevictable:0 dirty:1 writeback:0
                slab_reclaimable:933 slab_unreclaimable:1722
                mapped:2476 shmem:16397 pagetables:30
                sec_pagetables:0 bounce:0
                kernel_misc_reclaimable:0
                free:487358 free_pcp:868 free_cma:0
[  189.423753] Node 0 active_anon:65552kB inactive_anon:4336kB active_file:16044kB inactive_file:6908kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:9904kB dirty:4kB writeback:0kB shmem:65588kB writeback_tmp:0kB kernel_stack:320kB pagetables:120kB sec_pagetables:0kB all_unreclaimable? no
[  189.423753] Normal free:846268kB boost:0kB min:3716kB low:4644kB high:5572kB reserved_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:1304kB inactive_file:24kB unevictable:0kB writepending:4kB present:900720kB managed:864608kB mlocked:0kB bounce:0kB free_pcp:3472kB local_pcp:1956kB free_cma:0kB
[  189.423753] lowmem_reserve[]: 0 9342 9342
[  189.427753] Normal: 7*4kB (UM) 26*8kB (UME) 119*16kB (U) 99*32kB (UME) 112*64kB (UME) 46*128kB (UME) 10*256kB (UE) 10*512kB (UME) 11*1024kB (UME) 9*2048kB (UM) 193*4096kB (UM) = 846268kB
[  189.427753] 22135 total pagecache pages
[  189.427753] 0 pages in swap cache
"""

# The same report as an order-0 page allocation failure made in our write path
# without __GFP_NOWARN (what the lowmem test looks for; edited from the above).
PAGE_FAILURE = """\
[  201.101010] hog: page allocation failure: order:0, mode:0x400c0(GFP_NOIO|__GFP_HIGHMEM), nodemask=(null)
[  201.101010] CPU: 0 PID: 321 Comm: hog Tainted: G           O       6.1.192-ramzswap #2
[  201.101010] Call Trace:
[  201.101010]  dump_stack_lvl+0x4a/0x5c
[  201.101010]  warn_alloc.cold+0x64/0xd0
[  201.101010]  __alloc_pages_slowpath.constprop.0+0x8b1/0x9d0
[  201.101010]  __alloc_pages+0x2a4/0x2e0
[  201.101010]  xv_grow_alloc+0x6e/0x120 [xvmalloc]
[  201.101010]  xv_malloc+0x1f2/0x3a0 [xvmalloc]
[  201.101010]  rzs_write_slot+0x10e/0x330 [ramzswap]
[  201.101010]  ? lock_acquire+0xae/0x260
[  201.101010]  rzs_bvec_write+0x5d/0x150 [ramzswap]
[  201.101010] Mem-Info:
[  201.101010] active_anon:16388 inactive_anon:1084 isolated_anon:0
"""


def test_klog_does_not_count_alloc_failure_reports() -> None:
    # warn_alloc() prints "Call Trace" but no report marker (BUG:, WARNING:, ...)
    assert klog.find_problems(VMALLOC_FAILURE) == []
    assert klog.find_problems(PAGE_FAILURE) == []


def test_alloc_failure_reports_found_and_attributed() -> None:
    reps = klog.alloc_failure_reports(VMALLOC_FAILURE + PAGE_FAILURE)
    assert len(reps) == 2
    assert "vmalloc error" in reps[0] and "kernel_read_file+0x34c/0x380" in reps[0]
    assert reps[1].splitlines()[0].endswith("nodemask=(null)")
    assert "rzs_write_slot+0x10e/0x330 [ramzswap]" in reps[1]
    assert "active_anon" not in reps[1]
    # the first was finit_module() reading the module file (it names ramzswap
    # nowhere in its trace); the second ran through our write path
    assert [klog.ours_in_trace(r) for r in reps] == [False, True]


def test_no_reports_in_a_clean_log() -> None:
    assert klog.alloc_failure_reports("[    1.0] ramzswap: added device ramzswap0\n") == []
