"""vm/testing/shell.py's wait_each (run in a real /bin/sh) and vm/kmemleak.py."""

from __future__ import annotations

import subprocess

from vm import kmemleak
from vm.testing.shell import wait_each


def _sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=False)


def test_wait_each_fails_if_any_job_fails() -> None:
    ok = _sh(f'pids=; for i in 1 2 3; do true & pids="$pids $!"; done; {wait_each()}')
    assert ok.returncode == 0, ok
    # the failing job is not the last one: a bare `wait` or `wait A B` misses it
    bad = _sh(f'pids=; (exit 3) & pids="$pids $!"; sleep 0.1 & pids="$pids $!"; {wait_each()}')
    assert bad.returncode != 0
    assert "exited 3" in bad.stderr


# kmemleak's report layout (mm/kmemleak.c print_unreferenced) in 6.1: a leak in
# the module loader whose object holds our module's name, and one of ours.
REPORT = """\
unreferenced object 0xc5e8d380 (size 64):
  comm "insmod", pid 403, jiffies 4294952311 (age 21.720s)
  hex dump (first 32 bytes):
    78 76 6d 61 6c 6c 6f 63 00 00 00 00 00 00 00 00  xvmalloc........
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace:
    [<c12a3b4e>] __kmem_cache_alloc_node+0x16e/0x2a0
    [<c1299ad2>] __kmalloc_node_track_caller+0x52/0x110
    [<c12612f0>] kstrdup+0x30/0x60
    [<c14f3a45>] kobject_set_name_vargs+0x25/0x90
    [<c14f3e8b>] kobject_init_and_add+0x3b/0x90
    [<c11b8e2f>] mod_sysfs_setup+0x9f/0x6a0
    [<c11bb5c1>] load_module+0x1d81/0x2290
unreferenced object 0xc6a1b000 (size 128):
  comm "rzstool", pid 511, jiffies 4294990011 (age 8.312s)
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace:
    [<c12a3b4e>] __kmem_cache_alloc_node+0x16e/0x2a0
    [<c1299c9b>] kmalloc_trace+0x2b/0x90
    [<f8a2c1e4>] xv_pool_grow+0x44/0x1c0 [xvmalloc]
    [<f8a2c8a1>] xv_malloc+0x91/0x230 [xvmalloc]
    [<f8b4a37c>] rzs_write_page+0x10c/0x3a0 [ramzswap]
"""


def test_kmemleak_ours_is_by_backtrace_not_contents() -> None:
    leaks = kmemleak.parse(REPORT)
    assert len(leaks) == 2
    assert [lk.ours for lk in leaks] == [False, True]
    assert leaks[1].backtrace[-1].endswith("[ramzswap]")
    assert kmemleak.ours(REPORT) == [leaks[1]]
    assert kmemleak.parse("") == []
