"""Hardening of ramzswap.ko and xvmalloc.ko (issue 6), in the debug guest:

1. fault injection (failslab, fail_page_alloc) into the write path and pool
   growth, scoped to the task that issues the I/O (task-filter and
   make-it-fail), on a raw device, a filesystem and swap; and fail-nth sweeps
   over the set-up paths (disksize, comp_algorithm, hot_add, module load);
2. a soak (--long): 20 GiB through swap with several hogs, every page verified;
3. malformed input to every writable sysfs attribute and module parameter;
4. races between control operations and I/O;
5. memory pressure around lowmem: a pool larger than all of lowmem;
6. no stale data after reset, discard and re-initialisation.

The guest-side work runs in /root/bin/rzstool (vm/guest/rzstool.c), one ssh
round trip per batch.  Each test starts and ends with neither module loaded and
fault injection off; the conftest fixture checks the kernel log after each.
Figures are printed with `say` (run pytest with --capture=tee-sys to see them).
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from vm import klog, kmemleak, stats
from vm.guest import Guest
from vm.step import say
from vm.testing import faults
from vm.testing import sysfs_model as hu
from vm.testing.output import last_json, run_json
from vm.testing.rzs import PAGE, MiB, Rzs, kernel_zeros, make_mixed_file
from vm.testing.shell import wait_each
from vm.testing.swap import vmstat

pytestmark = pytest.mark.vm

HZ = "/tmp/hz"                       # scratch directory in the guest
DBG = "/sys/kernel/debug"
CTL = "/sys/class/ramzswap-control"
GiB = 1 << 30
TIMES = 10_000_000                   # fault-injection budget ('times' counts down)


def dev(i: int) -> str:
    return f"/sys/block/ramzswap{i}"


# ---------------------------------------------------------------------------
# fixture and helpers

STOP_BG = f"""
if [ -f {HZ}/pids ]; then
  for p in $(cat {HZ}/pids); do
    pkill -CONT -P $p 2>/dev/null; pkill -KILL -P $p 2>/dev/null
    kill -CONT $p 2>/dev/null; kill -KILL $p 2>/dev/null
  done
  rm -f {HZ}/pids; sleep 0.5
fi
true
"""


def _stop_bg(g: Guest) -> None:
    g.run(STOP_BG, timeout=60, check=False)


def _reset_faults(g: Guest) -> None:
    g.run(faults.fault_off_commands() + f"; echo 0 > /proc/self/make-it-fail; "
          f"for f in failslab fail_page_alloc; do echo 0 > {DBG}/$f/verbose; done; true",
          check=False)


@pytest.fixture
def hz(guest: Guest) -> Iterator[Rzs]:
    """ramzswap unloaded, fault injection off and /tmp/hz empty, before and after."""
    g = guest
    assert "rzstool" in g.programs, f"rzstool not in the guest: {g.programs}"
    g.run(f"mkdir -p {HZ}")
    r = Rzs(g)
    _reset_faults(g)
    _stop_bg(g)
    g.run("umount /mnt/hz 2>/dev/null; true")
    r.cleanup()
    g.run(f"rm -rf {HZ}/*")
    try:
        yield r
    finally:
        _reset_faults(g)
        _stop_bg(g)
        g.run("umount /mnt/hz 2>/dev/null; true", check=False)
        r.cleanup()
        assert not r.loaded()


def _fault_times(g: Guest) -> tuple[int, int]:
    a, b = g.run(f"cat {DBG}/failslab/times {DBG}/fail_page_alloc/times").stdout.split()
    return int(a), int(b)


def _injected(before: tuple[int, int], after: tuple[int, int]) -> int:
    return sum(b - a for b, a in zip(before, after, strict=True))


def _stats(r: Rzs, d: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    return r.io_stat(d), r.xv_stat(d), r.debug_stat(d)


def _kmemleak(g: Guest) -> list[kmemleak.Leak]:
    return kmemleak.parse(g.kmemleak_scan())


def _count_in_dmesg(g: Guest, text: str) -> int:
    return int(g.run(f"dmesg | grep -c '{text}'; true").stdout.strip() or 0)


def _marked(cmd: str) -> str:
    """*cmd* run by a process marked make-it-fail (the mark is inherited)."""
    return f"sh -c 'echo 1 > /proc/self/make-it-fail; exec {cmd}'"


# ---------------------------------------------------------------------------
# 1. fault injection in the I/O paths

RAW_PAGES = 24576            # 96 MiB written page by page under injection
FS_MIB = 32
SWAP_SECONDS = 25


@pytest.mark.debug_only
# Part C fails swap writes on purpose: end_swap_bio_write() reports each one.
@pytest.mark.klog_allow(klog.SWAP_WRITE_ERROR)
def test_fault_injection_io_paths(hz: Rzs, guest: Guest) -> None:
    """Allocation failures injected into the tasks that write (a raw O_DIRECT
    writer, filesystem writers, the task doing swap-out): every failed page
    write is an I/O error and a failed_writes count, the data that was written
    is intact, the VM keeps a page whose swap write failed, nothing leaks, and
    the device works once injection stops."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod("num_devices=2")
    total = 0
    summary: list[str] = []

    # -- A: raw device; both the non-sleeping and the sleeping allocation fail,
    # and slab allocations too
    hz.init(0, "128M")
    g.run(faults.fault_attr_commands("fail_page_alloc", 50, times=TIMES, ignore_gfp_wait=False)
          + " && " + faults.fault_attr_commands("failslab", 20, times=TIMES, ignore_gfp_wait=False))
    t0 = _fault_times(g)
    status, res = run_json(g, f"{tool} fiwrite /dev/ramzswap0 {RAW_PAGES} 11 --fail", 900)
    g.run(faults.fault_off_commands())
    inj = _injected(t0, _fault_times(g))
    io, xv, ds = _stats(hz, 0)
    summary.append(f"raw: {inj} injected, {res['failed_first']} of {RAW_PAGES} page writes "
                   f"failed (EIO), io_stat {io}, alloc_failures {xv['alloc_failures']}, "
                   f"writestall {ds['writestall']}, {res['write_seconds']:.1f}s")
    assert status == 0 and res["mismatches"] == 0 and res["retry_failed"] == 0, res
    assert set(res["first"]) <= {"OK", "EIO"}, f"a failed write gave another errno: {res}"
    assert res["failed_first"] > 0, res
    # every failed write: one EIO, one failed_writes; its fast (no reclaim) and
    # slow (GFP_NOIO) allocations both failed, each counted in alloc_failures
    assert io["failed_writes"] == res["failed_first"], (io, res)
    assert io["failed_reads"] == 0 and io["invalid_io"] == 0, io
    assert xv["alloc_failures"] == ds["writestall"] + io["failed_writes"], (xv, ds, io)
    assert inj >= xv["alloc_failures"], (inj, xv)
    hz.check_accounting(0)
    total += inj

    # -- B: ext4 on ramzswap1, written by marked processes (O_DIRECT, and
    # buffered writes flushed by a marked fsync); only non-sleeping allocations
    # fail, so the sleeping retry must absorb every failure: no failed write
    hz.init(1, "256M")
    g.run("mkfs.ext4 -q /dev/ramzswap1 && mkdir -p /mnt/hz && mount /dev/ramzswap1 /mnt/hz")
    g.run(f"head -c {FS_MIB}M /dev/urandom > {HZ}/rand")
    make_mixed_file(g, f"{HZ}/mixed", 4)
    g.run(faults.fault_attr_commands("fail_page_alloc", 50, times=TIMES, ignore_gfp_wait=True))
    t0 = _fault_times(g)
    g.run(_marked(f"dd if={HZ}/rand of=/mnt/hz/direct bs=64k oflag=direct status=none")
          + " && " + _marked(f"cp {HZ}/mixed /mnt/hz/buffered") + " && "
          + _marked("sync /mnt/hz/buffered") + " && "
          + _marked(f"dd if={HZ}/mixed of=/mnt/hz/fsynced bs=1M conv=fsync status=none"),
          timeout=900)
    g.run(faults.fault_off_commands())
    inj = _injected(t0, _fault_times(g))
    io, xv, ds = _stats(hz, 1)
    summary.append(f"ext4: {inj} injected, io_stat {io}, alloc_failures "
                   f"{xv['alloc_failures']}, writestall {ds['writestall']}")
    assert io["failed_writes"] == 0 and io["failed_reads"] == 0, io
    assert xv["alloc_failures"] > 0 and xv["alloc_failures"] == ds["writestall"], (xv, ds)
    g.run("umount /mnt/hz")
    fsck = g.run("e2fsck -fn /dev/ramzswap1", check=False, timeout=300)
    assert fsck.status == 0, fsck.describe()
    g.run(f"mount /dev/ramzswap1 /mnt/hz && cmp {HZ}/rand /mnt/hz/direct && "
          f"cmp {HZ}/mixed /mnt/hz/buffered && cmp {HZ}/mixed /mnt/hz/fsynced && umount /mnt/hz")
    total += inj

    # -- C: swap.  Reclaim (MADV_PAGEOUT of a hog, via process_madvise) runs in
    # the marked rzstool; both allocations may fail, so swap writes fail and
    # the VM must keep those pages: the hogs verify every page, every pass.
    g.run("swapoff -a")
    hz.reset(0)
    hz.init(0, "128M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    werr0 = _count_in_dmesg(g, "Write-error on swap-device")
    vm0 = vmstat(g)
    g.run(faults.fault_attr_commands("fail_page_alloc", 50, times=TIMES, ignore_gfp_wait=False))
    t0 = _fault_times(g)
    rounds = int(g.run(f"""
        r=0; end=$(( $(date +%s) + {SWAP_SECONDS} ))
        while [ $(date +%s) -lt $end ]; do
          r=$((r + 1))
          {g.hog} --mib 96 --kind mixed --seed $r --passes 6 --json --quiet \
              > {HZ}/hog.$r.json 2> {HZ}/hog.$r.err &
          hp=$!; echo $hp >> {HZ}/pids
          {tool} pageout $hp 600 --fail > {HZ}/po.$r.json
          wait $hp; echo $? > {HZ}/hog.$r.rc
        done
        echo $r""", timeout=SWAP_SECONDS + 900).stdout.split()[-1])
    g.run(faults.fault_off_commands())
    inj = _injected(t0, _fault_times(g))
    vm1 = vmstat(g)
    io, xv, ds = _stats(hz, 0)
    werr = _count_in_dmesg(g, "Write-error on swap-device") - werr0
    pageouts = [last_json(g.cat(f"{HZ}/po.{i}.json")) for i in range(1, rounds + 1)]
    for i in range(1, rounds + 1):
        hog = last_json(g.cat(f"{HZ}/hog.{i}.json"))
        rc = g.cat(f"{HZ}/hog.{i}.rc").strip()
        assert rc == "0" and hog["mismatches"] == 0, (i, rc, hog)
    out_mib = (vm1["pswpout"] - vm0["pswpout"]) * PAGE // MiB
    summary.append(f"swap: {inj} injected over {rounds} hog rounds, {out_mib} MiB swapped "
                   f"out, io_stat {io}, alloc_failures {xv['alloc_failures']}, writestall "
                   f"{ds['writestall']}, {werr} 'Write-error on swap-device' lines "
                   f"(ratelimited), pageout calls {sum(p['calls'] for p in pageouts)}")
    assert rounds >= 1 and out_mib > 0, (rounds, out_mib)
    assert io["failed_writes"] > 0 and werr > 0, (io, werr)
    assert io["failed_reads"] == 0 and io["invalid_io"] == 0, io
    assert xv["alloc_failures"] == ds["writestall"] + io["failed_writes"], (xv, ds, io)
    total += inj
    g.run("swapoff /dev/ramzswap0", timeout=600)
    mm, _xv = hz.check_accounting(0)
    assert mm["orig_data_size"] // PAGE <= 1 + hz.debug_stat(0)["miss_free"], mm

    for line in summary:
        say(f"fault injection {line}")
    say(f"fault injection: {total} allocation failures injected in all")
    assert total >= 10_000, summary

    # nothing of ours leaked, and both devices work again without injection
    leaks = [lk for lk in _kmemleak(g) if lk.ours]
    assert not leaks, "kmemleak reports objects of ours:\n" + "\n\n".join(lk.text for lk in leaks)
    for d in (0, 1):
        hz.reset(d)
        hz.init(d, "64M")
        status, res = run_json(g, f"{tool} fiwrite /dev/ramzswap{d} 4096 {20 + d}")
        assert status == 0 and res["failed_first"] == 0 and res["mismatches"] == 0, res
        assert _stats(hz, d)[0]["failed_writes"] == 0
        hz.check_accounting(d)


# ---------------------------------------------------------------------------
# 1b. fail-nth sweeps over the set-up paths


def _failnth(g: Guest, args: str, timeout: float = 900.0) -> dict[str, Any]:
    status, res = run_json(g, f"{g.programs['rzstool']} failnth 20000 {args}", timeout)
    assert status == 0, res
    return res


@pytest.mark.debug_only
def test_fault_injection_setup_paths(hz: Rzs, guest: Guest) -> None:
    """Fail, one at a time, each allocation (slab or page, sleeping or not)
    that disksize, comp_algorithm and hot_add make, and every 4th (every one
    in the last 100) of loading ramzswap, every 3rd of loading xvmalloc (the
    task's fail-nth): each attempt fails cleanly or succeeds, leaves a
    consistent state, and nothing leaks."""
    g = guest
    g.run(faults.fault_attr_commands("failslab", 0, task_filter=False, ignore_gfp_wait=False)
          + " && " + faults.fault_attr_commands("fail_page_alloc", 0, task_filter=False,
                                              ignore_gfp_wait=False))
    hz.insmod()
    names, _ = hz.algorithms()
    figures = []
    for comp in ("lzo-rle", "zstd"):
        assert comp in names, f"{comp} missing from {names}"
        hz.set(0, "comp_algorithm", comp)
        res = _failnth(g, f"w:{dev(0)}/disksize:64M w:{dev(0)}/reset:1")
        figures.append(f"disksize ({comp}): {res}")
        assert res["completed"] and set(res["results"]) <= {"OK", "ENOMEM"}, res
        assert res["results"].get("ENOMEM", 0) > 0 and res["undo"].get("OK") == \
            res["results"].get("OK"), res
        assert hz.read(0, "disksize") == "0" and hz.read(0, "initstate") == "0"
    res = _failnth(g, f"w:{dev(0)}/comp_algorithm:lz4 w:{dev(0)}/comp_algorithm:lzo-rle")
    figures.append(f"comp_algorithm: {res}")
    assert res["completed"] and set(res["results"]) <= {"OK", "ENOMEM", "EINVAL"}, res
    assert hz.algorithms()[1] == "lzo-rle"
    res = _failnth(g, f"r:{CTL}/hot_add hotrm:{CTL}/hot_remove")
    figures.append(f"hot_add: {res}")
    assert res["completed"] and res["injected"] > 50, res
    assert res["undo"] == {"OK": res["results"]["OK"]}, res
    # no half-made device left behind, and no id lost
    assert g.run("ls /sys/block | grep ramzswap").stdout.split() == ["ramzswap0"]
    assert g.run(f"cat {CTL}/hot_add").stdout.strip() == "1"
    g.run(f"echo 1 > {CTL}/hot_remove")
    hz.init(0, "32M")
    status, out = run_json(g, f"{g.programs['rzstool']} fiwrite /dev/ramzswap0 2048 3")
    assert status == 0 and out["mismatches"] == 0 and out["failed_first"] == 0, out
    hz.reset(0)

    # module loading: every injection point of finit_module().  6.1's
    # __class_register() leaks the class name when kset_register() fails (a
    # driver-core bug, not ours), so the sweep stops at the first failure of
    # our class_register(), whose first two allocations fail without leaking.
    g.run("rmmod ramzswap")
    ko = hz.ko("ramzswap")
    op = f"m:{ko}:num_devices=2 rmmod:ramzswap"
    pts = run_json(g, f"{g.programs['rzstool']} points {op}")[1]["points"]
    assert pts > 100, pts
    a = _failnth(g, f"--step 4 --to {pts - 100} {op}", 1800)
    b = _failnth(g, f"--from {pts - 99} --stop-kmsg 'cannot register the ramzswap-control "
                    f"class' {op}", 900)
    figures.append(f"insmod ramzswap ({pts} points): {a} / {b}")
    for res in (a, b):
        # EEXIST would mean a failed load left the module behind
        assert "EEXIST" not in res["results"], res
        assert res["undo"] == ({"OK": res["results"]["OK"]} if "OK" in res["results"] else {}), \
            res
    assert b["stopped"] or b["completed"], b
    assert not hz.loaded()
    g.run("rmmod xvmalloc")
    xko = hz.ko("xvmalloc")
    xop = f"m:{xko}: rmmod:xvmalloc"
    xpts = run_json(g, f"{g.programs['rzstool']} points {xop}")[1]["points"]
    c = _failnth(g, f"--step 3 {xop}", 1800)
    figures.append(f"insmod xvmalloc ({xpts} points): {c}")
    assert c["completed"] and "EEXIST" not in c["results"], c
    assert c["undo"] == {"OK": c["results"]["OK"]}, c
    assert g.run("grep -c '^xvmalloc ' /proc/modules; true").stdout.strip() == "0"
    _reset_faults(g)
    hz.insmod()
    hz.init(0, "16M")
    g.run("head -c 4M /dev/urandom > /tmp/hz/r && dd if=/tmp/hz/r of=/dev/ramzswap0 bs=1M "
          "oflag=direct status=none && cmp -n 4194304 /dev/ramzswap0 /tmp/hz/r")
    for f in figures:
        say(f"fail-nth {f}")
    injected = sum(int(m) for m in re.findall(r"'injected': (\d+)", " ".join(figures)))
    say(f"fail-nth: {injected} injected failures in set-up paths")
    leaks = _kmemleak(g)
    assert not leaks, "kmemleak reports leaks after the sweeps:\n" + \
        "\n\n".join(lk.text for lk in leaks)


# ---------------------------------------------------------------------------
# 3. malformed input

SNAP_ATTRS = ("disksize", "initstate", "mem_limit", "mm_stat", "io_stat", "xv_stat",
              "debug_stat", "dev")
READ_ONLY = ("initstate", "mm_stat", "io_stat", "xv_stat", "debug_stat")


def _snapshot_paths() -> list[str]:
    # comp_algorithm is left out: reading it asks the crypto API (and modprobe)
    # about every backend, ~0.3 s a read under TCG; it is compared per batch.
    return [f"{dev(0)}/{a}" for a in SNAP_ATTRS] + [f"{dev(1)}/dev"]


def _fuzz(g: Guest, cases: Sequence[hu.Case], restore: Callable[[], None],
          run: hu.FuzzRun) -> None:
    """Write every case with `rzstool sysfuzz`; after a write that changed the
    state, restore it and go on with the next case."""
    with tempfile.TemporaryDirectory() as td:
        spec = Path(td) / "spec"
        spec.write_text(hu.spec_text(_snapshot_paths(), cases))
        g.put(spec, f"{HZ}/spec")
    start = 0
    while start < len(cases):
        r = g.run(f"{g.programs['rzstool']} sysfuzz {HZ}/spec {start}", timeout=1800,
                  check=False)
        start, stopped = hu.parse_sysfuzz(r.stdout, cases, run)
        if stopped:
            restore()
        else:
            assert r.status == 0, r.describe()


def _cases(path_of: Callable[[str], str], values: Sequence[hu.Value],
           expect: frozenset[str] | None = None) -> list[hu.Case]:
    return [hu.Case(path_of(v.attr), v.attr, v.category, v.value, expect) for v in values]


def test_malformed_input(hz: Rzs, guest: Guest) -> None:
    """Over 1,000 malformed values to every writable attribute (and valid ones
    in the wrong state, and writes to read-only ones), in three device states,
    plus bad module parameters: each rejected with an error, the state read
    back unchanged after every write."""
    g = guest
    rng = random.Random(6)
    run = hu.FuzzRun()
    hz.insmod()
    avail, _ = hz.algorithms()

    def in_dev(a: str) -> str:
        return f"{dev(0)}/{a}"

    einval = frozenset({"EINVAL"})
    ebusy = frozenset({"EBUSY"})

    # -- state U: not initialised (mem_limit and compressor set).  Each set-up
    # is one guest command: it also restores the state after an accepted value.
    u_sh = (f"{STOP_BG}\nrmmod ramzswap 2>/dev/null; insmod {hz.ko('ramzswap')} && "
            f"echo 64M > {dev(0)}/mem_limit && echo lzo > {dev(0)}/comp_algorithm")
    i_sh = (f"{u_sh} && echo 32M > {dev(0)}/disksize && head -c 1M /dev/urandom | "
            f"dd of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    b_sh = (f"{i_sh} && {{ sh -c 'echo $$ >> {HZ}/pids; exec sleep 3600' < /dev/ramzswap0 "
            f"> /dev/null 2>&1 & }}")

    def setup_u() -> None:
        g.run(u_sh, timeout=300)

    setup_u()
    cases = (_cases(in_dev, hu.malformed_disksize(400, rng))
             + _cases(in_dev, hu.malformed_mem_limit(250, rng))
             + _cases(in_dev, hu.malformed_reset(150, rng))
             + _cases(in_dev, hu.malformed_mem_used_max(100, rng))
             + _cases(lambda a: f"{CTL}/{a}", hu.malformed_hot_remove(150, rng))
             + [hu.Case(f"{CTL}/hot_remove", "hot_remove", "no-such-device", v,
                        frozenset({"ENODEV"}))
                for v in (b"1", b"5\n", b"31", b"32", b"1000", b"2147483647", b"007", b"+1")]
             + [hu.Case(in_dev(a), a, "read-only", v, frozenset({"EACCES"}))
                for a in READ_ONLY for v in (b"1", b"0\n", b"\n")]
             + [hu.Case(f"{CTL}/hot_add", "hot_add", "read-only", v, frozenset({"EACCES"}))
                for v in (b"1", b"0\n", b"\n")])
    _fuzz(g, cases, setup_u, run)
    comp_cases = _cases(in_dev, hu.malformed_comp(200, rng, avail))
    _fuzz(g, comp_cases, setup_u, run)
    assert hz.algorithms()[1] == "lzo", "a malformed comp_algorithm changed the compressor"
    n_u = len(cases) + len(comp_cases)

    # -- state I: initialised, holding data
    def setup_i() -> None:
        g.run(i_sh, timeout=300)

    setup_i()
    cases = (_cases(in_dev, hu.malformed_disksize(60, rng))
             + [hu.Case(in_dev("disksize"), "disksize", "wrong-state", v, ebusy)
                for v in (b"64M", b"32M\n", b"1G", b"4096", b"0x1000\n")]
             + [hu.Case(in_dev("comp_algorithm"), "comp_algorithm", "wrong-state",
                        a.encode() + b"\n", ebusy) for a in avail]
             + _cases(in_dev, hu.malformed_comp(40, rng, avail), einval)
             + _cases(in_dev, hu.malformed_reset(60, rng))
             + _cases(in_dev, hu.malformed_mem_limit(60, rng))
             + _cases(in_dev, hu.malformed_mem_used_max(40, rng)))
    _fuzz(g, cases, setup_i, run)
    assert hz.algorithms()[1] == "lzo"
    g.run("dd if=/dev/ramzswap0 bs=1M count=1 iflag=direct status=none | cmp -s - /dev/zero; "
          "test $? -eq 1")   # the data is still there
    n_i = len(cases)

    # -- state B: initialised and held open
    def setup_b() -> None:
        g.run(b_sh, timeout=300)

    setup_b()
    cases = ([hu.Case(in_dev("reset"), "reset", "wrong-state", v, ebusy)
              for v in (b"1", b"1\n", b"2", b"+1", b"2147483647")]
             + [hu.Case(f"{CTL}/hot_remove", "hot_remove", "wrong-state", v, ebusy)
                for v in (b"0", b"0\n", b"+0", b"-0")]
             + [hu.Case(in_dev("disksize"), "disksize", "wrong-state", v, ebusy)
                for v in (b"64M", b"1G\n")]
             + [hu.Case(in_dev("comp_algorithm"), "comp_algorithm", "wrong-state",
                        a.encode(), ebusy) for a in avail])
    _fuzz(g, cases, setup_b, run)
    n_b = len(cases)
    _stop_bg(g)

    # -- module parameters: finit_module() must fail and leave nothing loaded
    hz.cleanup()
    g.run(f"insmod {hz.ko('xvmalloc')}")
    params = (hu.malformed_param("num_devices", 60, rng)
              + hu.malformed_param("logical_block_size", 40, rng))
    lines = [(v.attr.encode() + b"=" + v.value).hex() for v in params]
    with tempfile.TemporaryDirectory() as td:
        spec = Path(td) / "mspec"
        spec.write_text("\n".join(lines) + "\n")
        g.put(spec, f"{HZ}/mspec")
    out = g.run(f"{g.programs['rzstool']} modfuzz {hz.ko('ramzswap')} ramzswap {HZ}/mspec",
                timeout=900).stdout
    mres = [ln.split() for ln in out.splitlines() if ln.startswith("M ")]
    assert len(mres) == len(params), out[-2000:]
    param_problems = []
    merrs: dict[str, int] = {}
    for (_, _idx, err, loaded), v in zip(mres, params, strict=True):
        merrs[err] = merrs.get(err, 0) + 1
        if err == "OK" or loaded != "0":
            param_problems.append(f"ACCEPTED module parameter {v.attr}={v.value!r} "
                                  f"(finit_module: {err}, loaded: {loaded})")
    assert not hz.loaded()

    tried = len(run.outcomes) + len(mres)
    rejected = sum(o.rejected for o in run.outcomes) + sum(1 for m in mres if m[2] != "OK")
    say(f"malformed input: {tried} tried ({n_u} uninitialised, {n_i} initialised, {n_b} busy, "
        f"{len(mres)} module parameters), {rejected} rejected; sysfs errnos {run.errnos()}, "
        f"finit_module errnos {merrs}; {len(run.changed_states)} state changes")
    problems = run.problems() + param_problems
    assert tried >= 1000, tried
    groups: dict[str, int] = {}
    for o in run.outcomes:
        if not o.rejected or o.changed:
            key = f"{o.case.attr}[{o.case.category}]"
            groups[key] = groups.get(key, 0) + 1
    assert not problems, (f"{len(problems)} problem(s); accepted or state-changing values by "
                          f"attribute[category]: {groups}\n" + "\n".join(problems[:80]))


# ---------------------------------------------------------------------------
# 4. races


def _race_counts(g: Guest, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The JSON outputs {HZ}/<name> of rzstool runs, in one fetch."""
    out = g.run(" ; ".join(f"sed 's/^/{n} /' {HZ}/{n}" for n in names)).stdout
    tagged = {}
    for line in out.splitlines():
        tag, _, rest = line.partition(" ")
        tagged[tag] = rest
    return {n: last_json(tagged.get(n, "")) for n in names}


def _tagged(g: Guest, path: str) -> dict[str, str]:
    """Lines "TAG REST" of a guest file (outputs gathered there by a race
    script: one sftp fetch instead of one per output) as {TAG: REST}."""
    out = {}
    for line in g.cat(path).splitlines():
        tag, _, rest = line.partition(" ")
        out[tag] = rest
    return out


# shell: append every line of file $1 to {HZ}/all, prefixed with tag $2
GATHER = f"gather() {{ sed \"s/^/$2 /\" $1 >> {HZ}/all; }}"


def _merge(dicts: Sequence[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


RACE_SECONDS = 20


def test_race_reset_vs_io(hz: Rzs, guest: Guest) -> None:
    """reset and disksize written in a loop while three processes open the
    device, write, read back and close, and others read every attribute:
    reset only happens between opens (EBUSY otherwise), I/O to a reset device
    fails cleanly, and every page read back is the page written."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod()
    hz.init(0, "32M")
    s = RACE_SECONDS
    g.run(f"""
        for i in 1 2; do {tool} openloop /dev/ramzswap0 {s} rw 2048 $((i * 4096 - 4096)) \
            > {HZ}/ol$i & pids="$pids $!"; done
        {tool} openloop /dev/ramzswap0 {s} open > {HZ}/ol3 & pids="$pids $!"
        {tool} spam {s} {dev(0)}/reset 1 {dev(0)}/disksize 32M > {HZ}/spam & pids="$pids $!"
        end=$(( $(date +%s) + {s} )); n=0
        while [ $(date +%s) -lt $end ]; do
          cat {dev(0)}/mm_stat {dev(0)}/io_stat {dev(0)}/xv_stat {dev(0)}/debug_stat \
              {dev(0)}/initstate {dev(0)}/disksize {dev(0)}/mem_used_max > /dev/null; n=$((n+1))
        done
        {wait_each()} && echo $n > {HZ}/reads""", timeout=s + 300)
    c = _race_counts(g, ["ol1", "ol2", "ol3", "spam"])
    reads = g.cat(f"{HZ}/reads").strip()
    spam = {w["path"].rsplit("/", 1)[1]: w["result"] for w in c["spam"]["writes"]}
    opens = _merge([c[k]["open"] for k in ("ol1", "ol2", "ol3")])
    ios = _merge([c[k]["io"] for k in ("ol1", "ol2")])
    say(f"race reset vs I/O ({s}s): {c['spam']['iterations']} reset+disksize rounds "
        f"{spam}; opens {opens}; page write+read {ios}; {reads} rounds of attribute reads")
    assert c["ol1"]["mismatches"] == 0 and c["ol2"]["mismatches"] == 0, c
    assert set(opens) <= {"OK", "EBUSY"}, opens
    assert set(ios) <= {"OK", "ENOSPC"}, ios         # ENOSPC: the device was reset (size 0)
    assert set(spam["reset"]) <= {"OK", "EBUSY"} and set(spam["disksize"]) <= {"OK", "EBUSY"}
    assert spam["reset"].get("OK", 0) > 0 and spam["reset"].get("EBUSY", 0) > 0, spam
    assert ios.get("OK", 0) > 100, ios
    if hz.read(0, "initstate") == "1":
        hz.check_accounting(0)


def test_race_hot_remove_vs_open(hz: Rzs, guest: Guest) -> None:
    """hot_add a device, then hot_remove it and reset it in a loop (two
    processes) while a third opens it, writes, reads back and closes: removal
    and reset wait for a moment with no opener, an open device is never
    removed under its user (no I/O error), and nothing touches it afterwards."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod()
    s = RACE_SECONDS
    g.run(f"""
        {GATHER}
        end=$(( $(date +%s) + {s} )); c=0
        while [ $(date +%s) -lt $end ]; do
          c=$((c + 1))
          id=$(cat {CTL}/hot_add) || exit 1
          echo 16M > /sys/block/ramzswap$id/disksize || exit 2
          {tool} openloop /dev/ramzswap$id 2 rw 256 > {HZ}/ol.$c &
          op=$!
          {tool} spam 2 /sys/block/ramzswap$id/reset 1 > {HZ}/rs.$c &
          rs=$!
          {tool} spam 2 {CTL}/hot_remove $id > {HZ}/hr.$c &
          hr=$!
          pids="$op $rs $hr"; {wait_each()} || exit 4
          if [ -e /sys/block/ramzswap$id ]; then echo $id > {CTL}/hot_remove || exit 3; fi
          gather {HZ}/ol.$c ol.$c; gather {HZ}/rs.$c rs.$c; gather {HZ}/hr.$c hr.$c
        done
        echo "cycles $c" >> {HZ}/all""", timeout=s + 300)
    out = _tagged(g, f"{HZ}/all")
    cycles = int(out["cycles"])
    ol = [last_json(out[f"ol.{i}"]) for i in range(1, cycles + 1)]
    opens = _merge([o["open"] for o in ol])
    ios = _merge([o["io"] for o in ol])
    removes = _merge([last_json(out[f"hr.{i}"])["writes"][0]["result"]
                      for i in range(1, cycles + 1)])
    resets = _merge([last_json(out[f"rs.{i}"])["writes"][0]["result"]
                     for i in range(1, cycles + 1)])
    say(f"race hot_remove vs open: {cycles} add/remove cycles; hot_remove {removes}; "
        f"reset {resets}; opens {opens}; page write+read {ios}")
    assert sum(o["mismatches"] for o in ol) == 0, ol
    assert removes.get("OK", 0) >= cycles // 2 and removes.get("EBUSY", 0) > 0, removes
    assert set(removes) <= {"OK", "EBUSY", "ENODEV"}, removes
    assert set(resets) <= {"OK", "EBUSY", "ENOENT", "ENODEV"}, resets
    assert set(opens) <= {"OK", "EBUSY", "ENOENT", "ENXIO", "ENODEV"}, opens
    assert set(ios) <= {"OK", "ENOSPC"}, ios
    assert g.run("ls /sys/block | grep ramzswap").stdout.split() == ["ramzswap0"]


MIN_RACE_CYCLES = 5


def test_race_init_vs_first_io(hz: Rzs, guest: Guest) -> None:
    """Processes hammer an uninitialised device (open, write, read back) while
    comp_algorithm and disksize are written: the first I/O after disksize
    finds everything set up, later comp_algorithm writes are refused with
    EBUSY, and the device uses one of the compressors written before."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod()
    names, _ = hz.algorithms()
    pairs = " ".join(f"{names[i % len(names)]}:{names[(i + 1) % len(names)]}"
                     for i in range(200))
    g.run(f"""
        {GATHER}
        end=$(( $(date +%s) + {RACE_SECONDS} )); c=0
        for pair in {pairs}; do
          # at least MIN_RACE_CYCLES whatever the host's speed, then until the time is up
          [ $c -ge {MIN_RACE_CYCLES} ] && [ $(date +%s) -ge $end ] && break
          c=$((c + 1)); comp=${{pair%:*}}; other=${{pair#*:}}
          echo 1 > {dev(0)}/reset || exit 1
          pids=
          for i in 1 2; do
            {tool} openloop /dev/ramzswap0 2 rw 64 $((i * 64)) > {HZ}/ol$i.$c &
            pids="$pids $!"
          done
          {tool} spam 2 {dev(0)}/comp_algorithm $other > {HZ}/sp.$c & pids="$pids $!"
          sleep 0.2
          echo $comp > {dev(0)}/comp_algorithm 2>/dev/null
          echo 16M > {dev(0)}/disksize || exit 2
          {wait_each()} || exit 3
          echo "cur.$c $comp $other $(cat {dev(0)}/comp_algorithm)" >> {HZ}/all
          gather {HZ}/ol1.$c ol1.$c; gather {HZ}/ol2.$c ol2.$c; gather {HZ}/sp.$c sp.$c
        done
        echo "cycles $c" >> {HZ}/all""", timeout=RACE_SECONDS + 300)
    out = _tagged(g, f"{HZ}/all")
    cycles = int(out["cycles"])
    opens, ios, comps = [], [], []
    for c in range(1, cycles + 1):
        ol = [last_json(out[f"ol{i}.{c}"]) for i in (1, 2)]
        assert all(o["mismatches"] == 0 for o in ol), (c, ol)
        opens += [o["open"] for o in ol]
        ios += [o["io"] for o in ol]
        comps.append(last_json(out[f"sp.{c}"])["writes"][0]["result"])
        comp, other, *shown = out[f"cur.{c}"].split()
        cur = [w[1:-1] for w in shown if w.startswith("[")]
        assert cur and cur[0] in (comp, other), (c, comp, other, shown)
    hz.check_accounting(0)
    o, i, cs = _merge(opens), _merge(ios), _merge(comps)
    say(f"race init vs first I/O: {cycles} cycles; opens {o}; page write+read {i}; "
        f"concurrent comp_algorithm writes {cs}")
    assert set(o) <= {"OK"} and set(i) <= {"OK", "ENOSPC"}, (o, i)
    assert i.get("OK", 0) > 0 and i.get("ENOSPC", 0) > 0, i
    assert set(cs) <= {"OK", "EBUSY"} and cs.get("EBUSY", 0) > 0, cs


def test_race_swapoff_under_load(hz: Rzs, guest: Guest) -> None:
    """swapoff and swapon in a loop while a hog pages its memory out and
    verifies it: every swapoff brings everything back, no page changes."""
    g = guest
    hz.insmod()
    g.run("swapoff -a")
    hz.init(0, "256M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    out = g.run(f"""
        {g.hog} --mib 128 --kind mixed --seed 9 --pageout --passes 6 --json --quiet \
            > {HZ}/hog.json 2> {HZ}/hog.err &
        hp=$!; echo $hp >> {HZ}/pids; ok=0; bad=0; maxs=0
        sleep 3
        while kill -0 $hp 2>/dev/null; do
          t0=$(date +%s)
          if swapoff /dev/ramzswap0; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
          t=$(( $(date +%s) - t0 )); [ $t -gt $maxs ] && maxs=$t
          swapon /dev/ramzswap0 || exit 5
          sleep 2
        done
        wait $hp; echo "rc=$? ok=$ok bad=$bad maxs=$maxs" """, timeout=1800).stdout
    m = re.search(r"rc=(\d+) ok=(\d+) bad=(\d+) maxs=(\d+)", out)
    assert m, out
    rc, ok, bad, maxs = (int(x) for x in m.groups())
    hog = last_json(g.cat(f"{HZ}/hog.json"))
    say(f"race swapoff under load: {ok} swapoff+swapon cycles ({bad} failed, longest "
        f"{maxs}s) during a 128 MiB hog's 6 paged-out passes; mismatches {hog['mismatches']}")
    assert rc == 0 and hog["mismatches"] == 0, (rc, hog)
    assert ok >= 3 and bad == 0, (ok, bad)
    g.run("swapoff /dev/ramzswap0", timeout=600)
    mm, _ = hz.check_accounting(0)
    assert mm["orig_data_size"] // PAGE <= 1 + hz.debug_stat(0)["miss_free"], mm


def test_race_rmmod_under_load(hz: Rzs, guest: Guest) -> None:
    """rmmod of either module is refused while a device is swapped on, mounted
    or open; and rmmod racing with opens, I/O and attribute reads of an idle
    module either waits for a moment with no user or is refused."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod("num_devices=3")
    g.run("swapoff -a")
    hz.init(0, "128M")
    hz.init(1, "64M")
    hz.init(2, "16M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0 && "
          "mkfs.ext4 -q /dev/ramzswap1 && mkdir -p /mnt/hz && mount /dev/ramzswap1 /mnt/hz")
    t0 = time.monotonic()
    out = g.run(f"""
        {g.hog} --mib 64 --kind mixed --seed 4 --pageout --passes 2 --json --quiet \
            > {HZ}/hog.json 2>/dev/null &
        hp=$!; echo $hp >> {HZ}/pids; pids=$hp
        {tool} openloop /dev/ramzswap2 15 rw 1024 > {HZ}/ol2 & pids="$pids $!"
        ( end=$(( $(date +%s) + 15 )); while [ $(date +%s) -lt $end ]; do
            dd if=/dev/urandom of=/mnt/hz/f bs=64k count=16 status=none && sync || exit 1
          done ) & pids="$pids $!"
        refused=0; removed=0
        for i in $(seq 50); do
          for m in ramzswap xvmalloc; do
            if rmmod $m 2>/dev/null; then removed=$((removed + 1))
            else refused=$((refused + 1)); fi
          done
        done
        {wait_each()} && echo "refused=$refused removed=$removed" """, timeout=1800).stdout
    m = re.search(r"refused=(\d+) removed=(\d+)", out)
    assert m, out
    refused, removed = int(m.group(1)), int(m.group(2))
    hog = last_json(g.cat(f"{HZ}/hog.json"))
    ol = last_json(g.cat(f"{HZ}/ol2"))
    assert removed == 0 and hz.loaded(), (refused, removed)
    assert hog["mismatches"] == 0 and ol["mismatches"] == 0, (hog, ol)
    assert set(ol["open"]) == {"OK"} and set(ol["io"]) == {"OK"}, ol
    g.run("umount /mnt/hz && swapoff /dev/ramzswap0 && rmmod ramzswap", timeout=600)
    t_busy = time.monotonic() - t0

    # an idle module: rmmod in a loop against opens, I/O and attribute reads;
    # it succeeds in a moment with no opener (or once the openers stop)
    ko = hz.ko("ramzswap")
    g.run(f"""
        {GATHER}
        end=$(( $(date +%s) + {RACE_SECONDS} )); c=0
        while [ $(date +%s) -lt $end ]; do
          c=$((c + 1))
          insmod {ko} num_devices=2 && echo 16M > {dev(0)}/disksize || exit 1
          {tool} openloop /dev/ramzswap0 3 rw 256 > {HZ}/o0.$c &
          o0=$!
          {tool} openloop /dev/ramzswap1 3 open > {HZ}/o1.$c &
          pids="$o0 $!"
          # attribute reads racing rmmod: they fail once the module is gone
          ( e=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $e ]; do
              cat {dev(0)}/mm_stat {dev(0)}/xv_stat {dev(1)}/initstate {dev(1)}/disksize
            done > /dev/null 2>&1; exit 0 ) &
          pids="$pids $!"
          n=0
          until rmmod ramzswap 2>/dev/null; do
            n=$((n + 1)); [ $n -gt 100000 ] && exit 2
          done
          kill -0 $o0 2>/dev/null && early=1 || early=0
          {wait_each()} || exit 3
          echo "rm.$c $n $early" >> {HZ}/all
          gather {HZ}/o0.$c o0.$c; gather {HZ}/o1.$c o1.$c
        done
        echo "cycles $c" >> {HZ}/all""", timeout=RACE_SECONDS + 600)
    tagged = _tagged(g, f"{HZ}/all")
    cycles = int(tagged["cycles"])
    opens, ios, attempts, early = [], [], 0, 0
    for c in range(1, cycles + 1):
        o0, o1 = last_json(tagged[f"o0.{c}"]), last_json(tagged[f"o1.{c}"])
        assert o0["mismatches"] == 0, (c, o0)
        opens += [o0["open"], o1["open"]]
        ios.append(o0["io"])
        n, e = (int(x) for x in tagged[f"rm.{c}"].split())
        attempts += n + 1
        early += e
    o, i = _merge(opens), _merge(ios)
    say(f"race rmmod under load: {refused} rmmod attempts refused while in use (0 removed, "
        f"{t_busy:.0f}s); "
        f"idle: {cycles} load/unload cycles, {attempts} rmmod attempts ({early} cycles "
        f"unloaded while the openers still ran) against opens {o}, I/O {i}")
    assert set(o) <= {"OK", "ENOENT", "ENXIO", "ENODEV"}, o
    assert set(i) <= {"OK", "ENOSPC"}, i
    assert cycles >= 3 and attempts > cycles, (cycles, attempts)


# ---------------------------------------------------------------------------
# 5. lowmem


LOWMEM_HOG_MIB = 960
# Normal zone: free pages, min watermark (zoneinfo's includes any boost) and
# boost; then xv_stat; four times a second
SAMPLER = f"""echo $$ >> {HZ}/pids
while :; do
  awk '/^Node .*zone +Normal/ {{z=1; next}} /^Node/ {{z=0}}
       z && $1 == "pages" && $2 == "free" {{f=$3}}
       z && $1 == "boost" && !hb {{b=$2; hb=1}} z && $1 == "min" && !hm {{m=$2; hm=1}}
       END {{printf "%s %s %s ", f, m, b}}' /proc/zoneinfo
  cat {dev(0)}/xv_stat
  sleep 0.25
done
"""


def test_lowmem_pressure(hz: Rzs, guest: Guest) -> None:
    """Fill ramzswap, as swap, until the xvmalloc pool holds more than all of
    lowmem (incompressible pages: the pool keeps them whole): ssh keeps
    answering, the Normal zone never falls below its min watermark, and every
    page comes back intact."""
    g = guest
    mark = g.klog_mark()       # this test's kernel log: after here
    hz.insmod()
    g.run("swapoff -a")
    mi = g.meminfo()
    low_total = mi["LowTotal"] * 1024
    hz.init(0, "1600M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    wm0 = stats.parse_zone_watermarks(g.run("cat /proc/zoneinfo").stdout)
    with tempfile.TemporaryDirectory() as td:
        script = Path(td) / "sampler.sh"
        script.write_text(SAMPLER)
        g.put(script, f"{HZ}/sampler.sh")
    g.run(f"sh {HZ}/sampler.sh > {HZ}/samples 2>/dev/null < /dev/null &")
    g.run(f"sh -c 'echo $$ >> {HZ}/pids; {g.hog} --mib {LOWMEM_HOG_MIB} --kind random "
          f"--seed 12 --pageout --passes 1 --json --quiet > {HZ}/hog.json 2> {HZ}/hog.err; "
          f"echo $? > {HZ}/hog.rc' < /dev/null > /dev/null 2>&1 &")
    # ssh latency is a figure for the report, not a pass/fail criterion (a
    # loaded host makes it anything); only a hang fails: a probe that gets no
    # answer within its 300 s timeout raises.
    latencies = []
    t_start = time.monotonic()
    while time.monotonic() - t_start < 1500:
        t0 = time.monotonic()
        r = g.run("pgrep -x hog >/dev/null", timeout=300, check=False)
        latencies.append(time.monotonic() - t0)
        if r.status != 0:
            break
        time.sleep(2)
    seconds = time.monotonic() - t_start
    hog_rc = g.run(f"for i in $(seq 100); do [ -s {HZ}/hog.rc ] && break; sleep 0.1; done; "
                   f"cat {HZ}/hog.rc").stdout.strip()
    _stop_bg(g)      # the sampler (the hog has exited)
    assert hog_rc == "0", f"hog exited {hog_rc}: {g.cat(f'{HZ}/hog.err')[-2000:]}"
    hog = last_json(g.cat(f"{HZ}/hog.json"))
    samples = []
    for line in g.cat(f"{HZ}/samples").splitlines():
        f = line.split()
        if len(f) == 3 + len(stats.XV_STAT_FIELDS):
            samples.append([int(x) for x in f])
    assert len(samples) > 10, samples
    # free vs the min watermark without boost (boost raises it for a while to
    # wake kswapd early; it is not a reserve)
    base_min = {s[1] - s[2] for s in samples}
    free_min = min(s[0] for s in samples)
    below = [s for s in samples if s[0] < s[1] - s[2]]
    peak = max(samples, key=lambda s: s[6])      # xv_stat pages_total
    pool_bytes, high_share = peak[6] * PAGE, peak[7] / max(1, peak[6])
    rate = 2 * LOWMEM_HOG_MIB / seconds
    say(f"lowmem: {LOWMEM_HOG_MIB} MiB random hog in {seconds:.0f}s (~{rate:.1f} MiB/s out+in); "
        f"pool peak {peak[6]} pages = {pool_bytes / MiB:.0f} MiB vs LowTotal "
        f"{low_total / MiB:.0f} MiB, {100 * high_share:.1f}% of it highmem; Normal free "
        f"lowest {free_min} pages vs min watermark {sorted(base_min)} (+ boost up to "
        f"{max(s[2] for s in samples)}), {len(below)} of {len(samples)} samples below; ssh "
        f"latency max {max(latencies):.1f}s over {len(latencies)} probes; mismatches "
        f"{hog['mismatches']}")
    assert hog["mismatches"] == 0 and hog["pages"] == LOWMEM_HOG_MIB * 256, hog
    assert pool_bytes > low_total, (pool_bytes, low_total)
    assert base_min == {wm0["min"] - wm0.get("boost", 0)}, (base_min, wm0)
    assert not below, f"Normal zone free fell below min: {below[:10]}"
    reports = klog.alloc_failure_reports(g.klog_since(mark))
    ours = [r for r in reports if klog.ours_in_trace(r)]
    assert not ours, "allocation failure warnings from our code (no __GFP_NOWARN):\n" + \
        "\n\n".join(ours)
    g.run("swapoff /dev/ramzswap0", timeout=900)


# ---------------------------------------------------------------------------
# 6. no stale data


def _verify(g: Guest, d: int, pages: int, seed: int, first: int = 0) -> dict[str, Any]:
    status, res = run_json(g, f"{g.programs['rzstool']} verify /dev/ramzswap{d} {pages} {seed} "
                               f"--first {first}")
    assert status == 0 and res["read_errors"] == 0, res
    return res


def test_no_stale_data(hz: Rzs, guest: Guest) -> None:
    """After reset, discard, hot_remove + hot_add, swapoff + reset, and in the
    unwritten part of a partly written page, a device reads zeros: a second
    user never sees the first user's bytes."""
    g, tool = guest, guest.programs['rzstool']
    hz.insmod("num_devices=2")
    pages = 16384            # 64 MiB

    # reset: direct and buffered readers see zeros
    hz.init(0, "64M", comp="lzo")
    assert run_json(g, f"{tool} fiwrite /dev/ramzswap0 {pages} 31")[1]["mismatches"] == 0
    g.run(f"dd if={g.hog} of=/dev/ramzswap0 bs=4096 seek=100 conv=fsync "
          "status=none")       # buffered, through the page cache
    hz.reset(0)
    hz.init(0, "64M", comp="lz4" if "lz4" in hz.algorithms()[0] else "lzo-rle")
    res = _verify(g, 0, pages, 31)
    assert res["zero"] == pages and res["match_nonzero_kind"] == 0, res
    g.run("cmp -n $((64 << 20)) /dev/ramzswap0 /dev/zero")

    # discard and write-zeroes: those ranges read zeros, the rest is intact
    assert run_json(g, f"{tool} fiwrite /dev/ramzswap0 {pages} 32")[1]["mismatches"] == 0
    g.run("blkdiscard -o 8M -l 16M /dev/ramzswap0 && blkdiscard -z -o 32M -l 4M /dev/ramzswap0")
    kernel_zeros(g, 0, 8, 16)
    kernel_zeros(g, 0, 32, 4)
    for first, n in ((0, 2048), (6144, 2048), (9216, 7168)):
        res = _verify(g, 0, n, 32, first)
        assert res["match"] == n, (first, n, res)

    # hot_remove + hot_add: the new device with the same id is empty
    hz.init(1, "64M")
    assert run_json(g, f"{tool} fiwrite /dev/ramzswap1 {pages} 33")[1]["mismatches"] == 0
    g.run(f"echo 1 > {CTL}/hot_remove && test \"$(cat {CTL}/hot_add)\" = 1")
    hz.init(1, "64M")
    res = _verify(g, 1, pages, 33)
    assert res["zero"] == pages and res["match_nonzero_kind"] == 0, res

    # swap user, then a raw user of the re-initialised device
    g.run("swapoff -a")
    hz.reset(0)
    hz.init(0, "256M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    hog = last_json(g.run(f"{g.hog} --mib 128 --kind text --seed 5 --pageout --passes 2 --json "
                      f"--quiet", timeout=900).stdout)
    assert hog["mismatches"] == 0, hog
    g.run("swapoff /dev/ramzswap0", timeout=600)
    hz.reset(0)
    hz.init(0, "256M")
    kernel_zeros(g, 0, 0, 256)

    # 512-byte logical blocks: a sector written alone leaves the rest of its
    # page zero, never the previous user's bytes
    hz.cleanup()
    hz.insmod("logical_block_size=512")
    hz.init(0, "16M")
    assert run_json(g, f"{tool} fiwrite /dev/ramzswap0 4096 34")[1]["mismatches"] == 0
    hz.reset(0)
    hz.init(0, "16M")
    g.run("for s in 1 9 17 1001 2049 30001; do "
          "  printf 'sector %05d' $s | dd of=/dev/ramzswap0 bs=512 seek=$s count=1 "
          "     conv=sync oflag=direct status=none || exit 1; done")
    for s in (1, 9, 17, 1001, 2049, 30001):
        page = s // 8
        raw = g.run(f"dd if=/dev/ramzswap0 bs=4096 skip={page} count=1 iflag=direct "
                    f"status=none | od -An -v -tx1").stdout.split()
        data = bytes(int(x, 16) for x in raw)
        off = (s % 8) * 512
        want = f"sector {s:05d}".encode().ljust(512, b"\0")
        assert len(data) == PAGE and data[off:off + 512] == want, (s, data[off:off + 16])
        assert data[:off] + data[off + 512:] == bytes(PAGE - 512), f"stale bytes in page {page}"
    say("no stale data: reset, discard, write-zeroes, hot_remove+hot_add, swap then raw, "
        "512-byte sectors: all zero where nothing was written")


# ---------------------------------------------------------------------------
# 2. soak

SOAK_GIB = 20
SOAK_HOGS = 3
SOAK_HOG_MIB = 200
SOAK_BUDGET_S = 4 * 3600


@pytest.mark.long
def test_soak_swap(hz: Rzs, guest: Guest) -> None:
    """20 GiB swapped out and back in through ramzswap by three hogs with
    different seeds, every page verified on every pass."""
    g = guest
    hz.insmod()
    g.run("swapoff -a")
    # swap more than half full: a page faulted back frees its slot
    # (vm_swap_full), so every pass writes every page again
    hz.init(0, f"{SOAK_HOGS * SOAK_HOG_MIB * 3 // 2}M")
    g.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    v0 = vmstat(g)
    t0 = time.monotonic()
    rounds, pages, mismatches = 0, 0, 0
    target = SOAK_GIB * GiB // PAGE
    out_p = in_p = 0
    while time.monotonic() - t0 < SOAK_BUDGET_S:
        rounds += 1
        g.run(f"for s in $(seq {SOAK_HOGS}); do "
              f"  {g.hog} --mib {SOAK_HOG_MIB} --kind mixed --seed $((s + 10 * {rounds})) "
              f"  --pageout --passes 6 --json --quiet > {HZ}/soak.$s.json 2>/dev/null & "
              f"pids=\"$pids $!\"; done; {wait_each()}", timeout=7200)
        for s in range(1, SOAK_HOGS + 1):
            res = last_json(g.cat(f"{HZ}/soak.{s}.json"))
            mismatches += res["mismatches"]
            pages += res["pages"]
        v = vmstat(g)
        out_p, in_p = v["pswpout"] - v0["pswpout"], v["pswpin"] - v0["pswpin"]
        el = time.monotonic() - t0
        say(f"soak round {rounds}: out {out_p * PAGE / GiB:.2f} GiB, in "
            f"{in_p * PAGE / GiB:.2f} GiB, {(out_p + in_p) * PAGE / MiB / el:.1f} MiB/s, "
            f"mismatches {mismatches}")
        if out_p >= target and in_p >= target:
            break
    el = time.monotonic() - t0
    io = hz.io_stat(0)
    say(f"soak: {out_p * PAGE / GiB:.2f} GiB out, {in_p * PAGE / GiB:.2f} GiB in through "
        f"ramzswap in {el / 60:.1f} min ({(out_p + in_p) * PAGE / MiB / el:.1f} MiB/s both "
        f"ways), {rounds} rounds of {SOAK_HOGS} hogs x {SOAK_HOG_MIB} MiB x 6 passes, "
        f"{mismatches} mismatched pages; io_stat {io}")
    assert mismatches == 0
    assert out_p >= target and in_p >= target, (out_p, in_p)
    assert io["failed_writes"] == 0 and io["failed_reads"] == 0, io
    g.run("swapoff /dev/ramzswap0", timeout=1800)
    mm, _ = hz.check_accounting(0)
    assert mm["orig_data_size"] // PAGE <= 1 + hz.debug_stat(0)["miss_free"], mm
