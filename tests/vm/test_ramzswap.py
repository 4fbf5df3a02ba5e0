"""ramzswap.ko in the debug guest: swap, filesystems, discard, compressors,
devices, sysfs input checking, and that every path frees what it takes.

Each test starts and ends with no ramzswap device in use and neither
module loaded (the `rzs` fixture), whatever happens in between."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from vm import kmemleak
from vm.testing import swap
from vm.testing.rzs import (
    PAGE,
    MiB,
    Rzs,
    kernel_zeros,
    make_mixed_file,
)
from vm.testing.shell import wait_each
from vm.testing.swap import vmstat

pytestmark = pytest.mark.vm

# CONFIG_CRYPTO_LZO (lzo, lzo-rle), CONFIG_CRYPTO_LZ4, CONFIG_CRYPTO_ZSTD
EXPECTED_COMPRESSORS = ("lzo", "lzo-rle", "lz4", "lz4hc", "zstd")


def _zero_stats(r: Rzs, dev: int) -> None:
    mm = r.mm_stat(dev)
    assert all(v == 0 for k, v in mm.items() if k != "mem_limit"), mm
    assert all(v == 0 for v in r.xv_stat(dev).values()), r.xv_stat(dev)
    assert r.read(dev, "initstate") == "0"
    assert r.read(dev, "disksize") == "0"


# ---------------------------------------------------------------------------
# loading, queue limits, defaults


def test_load_defaults_and_queue_limits(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    guest.run("test -d /sys/block/ramzswap0 && test ! -e /sys/block/ramzswap1")
    guest.run("test -f /sys/class/ramzswap-control/hot_add "
              "&& test -f /sys/class/ramzswap-control/hot_remove")
    _zero_stats(rzs, 0)
    assert rzs.io_stat(0) == dict.fromkeys(rzs.io_stat(0), 0)
    names, current = rzs.algorithms()
    assert current == "lzo-rle"
    assert {"lzo", "lzo-rle"} <= set(names), names
    q = {a: rzs.read(0, f"queue/{a}") for a in (
        "logical_block_size", "physical_block_size", "minimum_io_size", "rotational",
        "discard_granularity", "discard_max_bytes", "write_zeroes_max_bytes")}
    assert q["logical_block_size"] == q["physical_block_size"] == str(PAGE), q
    assert q["minimum_io_size"] == str(PAGE), q
    assert q["rotational"] == "0", q
    assert q["discard_granularity"] == str(PAGE), q
    assert int(q["discard_max_bytes"]) > 0 and int(q["write_zeroes_max_bytes"]) > 0, q
    # zram's old knob: old scripts write it; streams are per CPU, so it reads
    # the online CPUs and a write changes nothing
    cpus = guest.run("nproc").stdout.strip()
    assert rzs.read(0, "max_comp_streams") == cpus
    assert rzs.write(0, "max_comp_streams", "8").status == 0
    assert rzs.read(0, "max_comp_streams") == cpus
    rzs.init(0, "16M")
    assert rzs.read(0, "initstate") == "1"
    assert guest.run("blockdev --getsize64 /dev/ramzswap0").stdout.strip() == str(16 * MiB)


# ---------------------------------------------------------------------------
# zeros: never written, discarded, reset


def test_never_written_and_reset_read_zeros(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    rzs.init(0, "64M")
    kernel_zeros(guest, 0, 0, 64)
    guest.run("cmp -n $((64 << 20)) /dev/ramzswap0 /dev/zero")     # through the page cache
    assert rzs.mm_stat(0)["orig_data_size"] == 0

    guest.run("head -c 32M /dev/urandom > /tmp/rzs/r.bin && "
              "dd if=/tmp/rzs/r.bin of=/dev/ramzswap0 bs=1M oflag=direct status=none && "
              "dd if=/dev/ramzswap0 bs=1M count=32 iflag=direct status=none "
              "| cmp - /tmp/rzs/r.bin")
    assert rzs.mm_stat(0)["orig_data_size"] == 32 * MiB
    rzs.check_accounting(0)

    rzs.reset(0)
    _zero_stats(rzs, 0)
    assert rzs.io_stat(0) == dict.fromkeys(rzs.io_stat(0), 0)
    rzs.init(0, "64M")
    kernel_zeros(guest, 0, 0, 64)
    guest.run("cmp -n $((64 << 20)) /dev/ramzswap0 /dev/zero")
    assert rzs.mm_stat(0)["orig_data_size"] == 0


# ---------------------------------------------------------------------------
# swap


def _hog_json(guest: Any, out: str) -> dict[str, Any]:
    text = guest.run(f"cat {out}").stdout.strip()
    assert text, f"the hog printed nothing to {out}"
    return dict(json.loads(text.splitlines()[-1]))


def _swap_used_kib(guest: Any) -> int:
    return int(guest.run("awk '$1 ~ /ramzswap0/ {print $4}' /proc/swaps").stdout.strip())


def _stop_hogs_once_swapped(guest: Any, min_kib: int, timeout: float) -> int:
    """Wait until ramzswap0 holds *min_kib* of swap, SIGSTOP every hog and
    return the swap then in use (KiB); fail, saying why, if the hogs ended first."""
    r = guest.run(
        f"end=$(( $(date +%s) + {int(timeout)} )); "
        f"while [ $(date +%s) -lt $end ]; do "
        f"  used=$(awk '$1 ~ /ramzswap0/ {{print $4}}' /proc/swaps); "
        f"  [ \"${{used:-0}}\" -ge {min_kib} ] && break; "
        f"  pgrep -x hog >/dev/null || {{ echo \"hogs gone, swap used ${{used:-0}} KiB\"; "
        f"                                 exit 1; }}; "
        f"  sleep 0.5; done; "
        f"pkill -STOP -x hog || {{ echo 'no hog to stop'; exit 1; }}; "
        f"awk '$1 ~ /ramzswap0/ {{print $4}}' /proc/swaps", timeout=timeout + 60, check=False)
    assert r.status == 0, r.describe()
    return int(r.stdout.split()[-1])


def _page_out_stopped_hog(guest: Any, min_kib: int, timeout: float) -> int:
    """Wait until the hog has written its memory, SIGSTOP it and page it out
    (process_madvise, rzstool) until ramzswap0 holds *min_kib* of swap; return
    the swap then in use (KiB).  The hog is stopped first because ramzswap
    swaps synchronously (rw_page): a page the hog reads back frees its slot
    at once, so a running hog's swap use falls between its page-outs."""
    tool = guest.programs["rzstool"]
    r = guest.run(
        f"end=$(( $(date +%s) + {int(timeout)} )); p=; "
        f"while [ -z \"$p\" ] && [ $(date +%s) -lt $end ]; do "
        f"  p=$(pgrep -x hog | head -n 1); sleep 0.2; done; "
        f"[ -n \"$p\" ] || {{ echo 'no hog'; exit 1; }}; "
        f"while [ $(date +%s) -lt $end ]; do "
        f"  rss=$(awk '/^VmRSS/ {{print $2}}' /proc/$p/status); "
        f"  [ \"${{rss:-0}}\" -ge {min_kib} ] && break; sleep 0.5; done; "
        f"kill -STOP $p || exit 1; "
        f"while [ $(date +%s) -lt $end ]; do "
        f"  {tool} pageout $p 2 >/dev/null || exit 1; "
        f"  used=$(awk '$1 ~ /ramzswap0/ {{print $4}}' /proc/swaps); "
        f"  [ \"${{used:-0}}\" -ge {min_kib} ] && break; done; "
        f"awk '$1 ~ /ramzswap0/ {{print $4}}' /proc/swaps", timeout=timeout + 60, check=False)
    assert r.status == 0, r.describe()
    return int(r.stdout.split()[-1])


@contextlib.contextmanager
def _paged_out_hog(guest: Any, mib: int, kind: str, seed: int, min_kib: int) -> Iterator[int]:
    """A hog of *mib* MiB of *kind* pages, stopped and paged out to ramzswap0
    until it holds *min_kib* of swap (yields the swap in use, KiB); killed,
    and waited for, on leaving."""
    # many verify passes: the hog is still there when stopped
    guest.run(f"( {guest.hog} --mib {mib} --kind {kind} --seed {seed} "
              f"--passes 100000 --quiet ) >/dev/null 2>&1 </dev/null &")
    try:
        yield _page_out_stopped_hog(guest, min_kib, 600)
    finally:
        guest.run("pkill -KILL -x hog; while pgrep -x hog >/dev/null; do sleep 0.2; done",
                  timeout=600, check=False)


def test_swap_pageout_accounting(rzs: Rzs, guest: Any) -> None:
    """The hog pages its own memory out (MADV_PAGEOUT) to ramzswap.  While the
    pages sit in swap, mm_stat and xv_stat agree with each other and with what
    was swapped: zero/same pages take no pool memory, random ones are stored
    raw; when the hog goes, swap frees its slots and ramzswap its pages."""
    rzs.insmod()
    guest.run("swapoff -a")
    rzs.init(0, "512M")
    guest.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    try:
        for kind in ("zero", "same", "random", "mixed"):
            zero0 = vmstat(guest).get("swpout_zero", 0)
            with _paged_out_hog(guest, 64, kind, 3, 60000):
                mm, _xv = rzs.check_accounting(0)
                used_kib = _swap_used_kib(guest)      # reclaim may go on after the stop
                # Linux 6.12 keeps zero-filled pages in the swap core's zeromap and
                # never writes them to the device (mm/page_io.c, vmstat
                # swpout_zero); 6.1 has no such counter: 0.
                core_zero = (vmstat(guest).get("swpout_zero", 0) - zero0) * PAGE
                # stored: the slots in use, mkswap's header page, and slots whose
                # free notification found the entry busy
                miss = rzs.debug_stat(0)["miss_free"]
                assert mm["orig_data_size"] // PAGE <= used_kib // 4 + 1 + miss, (mm, used_kib)
                assert mm["orig_data_size"] + core_zero >= 60000 * 1024, (kind, core_zero, mm)
                if kind in ("zero", "same"):
                    assert mm["same_pages"] * PAGE + core_zero >= 60 * MiB, (kind, core_zero, mm)
                    # nothing compressed but the swap header
                    assert mm["compr_data_size"] < PAGE, (kind, mm)
                elif kind == "random":
                    assert mm["huge_pages"] * PAGE >= 60 * MiB, (kind, mm)
                    assert mm["compr_data_size"] >= 60 * MiB, (kind, mm)
                else:
                    assert mm["same_pages"] > 0 and mm["huge_pages"] > 0, (kind, mm)
                    # the hog's pages (with the zero ones 6.12 keeps) compress
                    # to under half
                    assert mm["compr_data_size"] < (mm["orig_data_size"] + core_zero) // 2, (
                        kind, core_zero, mm)
            # the hog is gone: swap freed its slots and told us.  Slots of pages
            # still in the swap cache stay in use (and stored) until reclaim.
            mm, _xv = rzs.check_accounting(0)
            used_kib = _swap_used_kib(guest)
            assert used_kib < 60000, used_kib
            assert mm["orig_data_size"] // PAGE <= used_kib // 4 + 1 + rzs.debug_stat(0)[
                "miss_free"], (kind, mm, used_kib)

        # and every kind comes back intact after being paged out
        for kind in ("zero", "same", "text", "binary", "random", "mixed"):
            hog = swap.run_hog(guest, 32, kind, seed=11, pageout=True, timeout=900)
            assert hog.mismatches == 0 and hog.raw["pages"] == 32 * 256, hog.raw
    finally:
        guest.run("pkill -KILL -x hog; swapoff /dev/ramzswap0", timeout=600, check=False)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    assert io["notify_free"] >= 4 * 60 * 256, io
    rzs.reset(0)
    _zero_stats(rzs, 0)


def test_incompressible_pages_cost_one_page_each(rzs: Rzs, guest: Any) -> None:
    """Random pages swapped out are stored raw, each as one xvmalloc
    whole-page object: the pool holds one page per stored page, not the 1.33
    that a 4096-byte object with a 4-byte header cost when packed (issue 13),
    and the pages come back intact."""
    rzs.insmod()
    guest.run("swapoff -a")
    rzs.init(0, "256M")
    guest.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    try:
        with _paged_out_hog(guest, 48, "random", 5, 45000):
            mm, xv = rzs.check_accounting(0)
        stored = mm["orig_data_size"] // PAGE - mm["same_pages"]
        print(f"stored {stored} pages ({mm['huge_pages']} raw): mem_used_total "
              f"{mm['mem_used_total']} = {mm['mem_used_total'] / (stored * PAGE):.4f} "
              f"x the pages; xv_stat {xv}")
        assert mm["huge_pages"] * PAGE >= 44 * MiB, mm
        # one page per raw page; the rest (swap header, other processes'
        # pages) compress; 16 pages of slack for areas they leave part-used
        assert mm["mem_used_total"] <= 1.01 * stored * PAGE + 16 * PAGE, (mm, xv)
        assert mm["mem_used_total"] >= mm["huge_pages"] * PAGE, (mm, xv)

        hog = swap.run_hog(guest, 16, "random", seed=6, passes=2, pageout=True, timeout=900)
        assert hog.mismatches == 0 and hog.raw["pages"] == 16 * 256, hog.raw
    finally:
        guest.run("pkill -KILL -x hog; swapoff /dev/ramzswap0", timeout=600, check=False)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    # huge_pages_since (zram's 9th field) counts raw pages ever stored: the
    # hogs' pages are freed, the count stays
    after = rzs.mm_stat(0)
    assert after["huge_pages"] < mm["huge_pages"] <= after["huge_pages_since"], (mm, after)
    rzs.reset(0)
    _zero_stats(rzs, 0)


# About 15 minutes on a quiet host under TCG (36 with four guests sharing two
# cores): too long for every CI run; `invoke test-vm --long` runs it.
@pytest.mark.long
def test_swap_hog_twice_memavailable(rzs: Rzs, guest: Any) -> None:
    """ramzswap as the only swap; two hogs together store 2x MemAvailable of
    mixed pages (two processes: one i386 process cannot map that much)."""
    rzs.insmod()
    guest.run("swapoff -a")
    assert guest.run("awk 'NR > 1' /proc/swaps").stdout.strip() == ""
    # The hog's mixed pages compress to about half with lzo-rle: then 2x
    # MemAvailable cannot fit in RAM at all.  zstd gets well under half.
    names, _ = rzs.algorithms()
    assert "zstd" in names, f"zstd (CONFIG_CRYPTO_ZSTD=y) missing from {names}"
    comp = "zstd"
    rzs.init(0, "3584M", comp=comp)   # ~3.4 GiB of slots for ~3.7 GiB of hog data
    guest.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    avail_mib = guest.meminfo()["MemAvailable"] // 1024
    each = avail_mib          # two hogs of MemAvailable each
    out0 = vmstat(guest)["pswpout"]
    try:
        guest.run(
            f"for s in 1 2; do ( {guest.hog} --mib {each} --kind mixed --seed $s --json "
            f"--quiet > /tmp/rzs/hog$s.json; echo $? > /tmp/rzs/hog$s.rc ) "
            f">/dev/null 2>&1 </dev/null & done", timeout=60)
        # while the hogs run, pause them once swap is well used and check the books
        _stop_hogs_once_swapped(guest, avail_mib * 1024 // 2, 3000)
        try:
            # reclaim goes on writing the stopped hogs' pages out: read swap use
            # once ramzswap's counters have settled
            mm, xv = rzs.check_accounting(0)
            used_kib = _swap_used_kib(guest)
            print(f"hogs stopped: swap used {used_kib} KiB, mm_stat {mm}, xv_stat {xv}, "
                  f"meminfo {guest.meminfo()}")
            assert mm["orig_data_size"] > 0 and used_kib > 0, (mm, used_kib)
            miss = rzs.debug_stat(0)["miss_free"]
            assert mm["orig_data_size"] // PAGE <= used_kib // 4 + 1 + miss, (mm, used_kib)
            assert mm["same_pages"] > 0, mm
            assert mm["huge_pages"] > 0, mm
            assert mm["compr_data_size"] < mm["orig_data_size"], mm
            assert xv["pages_highmem"] > 0, xv
        finally:
            guest.run("pkill -CONT -x hog; true")
        guest.run("while pgrep -x hog >/dev/null; do sleep 2; done", timeout=3300)
        for s in (1, 2):
            res = _hog_json(guest, f"/tmp/rzs/hog{s}.json")
            rc = guest.run(f"cat /tmp/rzs/hog{s}.rc").stdout.strip()
            assert res["mismatches"] == 0 and rc == "0", (rc, res)
            assert res["mib"] == each, res
            assert res["kind_counts"]["zero"] + res["kind_counts"]["same"] > 0, res
        # 2x MemAvailable of live pages: at least one MemAvailable's worth
        # (more, as the pool itself takes RAM) went out to swap
        out_mib = (vmstat(guest)["pswpout"] - out0) * PAGE // MiB
        print(f"swapped out {out_mib} MiB for 2 x {each} MiB of hogs")
        assert out_mib >= each, (out_mib, each)
    finally:
        guest.run("pkill -CONT -x hog; pkill -x hog; "
                  "while pgrep -x hog >/dev/null; do sleep 1; done; "
                  "swapoff /dev/ramzswap0", timeout=1800, check=False)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    mm, xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] // PAGE <= 1 + rzs.debug_stat(0)["miss_free"], mm
    rzs.reset(0)
    _zero_stats(rzs, 0)
    # a fresh pool after reset starts empty
    rzs.init(0, "1G")
    mm, xv = rzs.check_accounting(0)
    assert mm["mem_used_total"] == 0 and xv["pages_total"] == 0, (mm, xv)


# ---------------------------------------------------------------------------
# filesystem and raw-device I/O


def test_ext4_files_survive_remount_and_fsck(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    rzs.init(0, "256M")
    guest.run("mkfs.ext4 -q /dev/ramzswap0 && mkdir -p /mnt/rzs && mount /dev/ramzswap0 /mnt/rzs")
    try:
        make_mixed_file(guest, "/tmp/rzs/mixed.bin", 4)
        guest.run(
            "cd /mnt/rzs && mkdir -p a/b/c d && "
            "for i in $(seq 1 20); do head -c $((i * 37 * 1024 + i)) /dev/urandom > a/r$i; done && "
            "for i in $(seq 1 10); do cp /tmp/rzs/mixed.bin a/b/m$i; done && "
            "yes 'some text for ext4' | head -c 3M > a/b/c/text && "
            "head -c 5M /dev/zero > d/zeros && cp -a /usr/bin d/bin && "
            "find . -type f -print0 | sort -z | xargs -0 sha256sum > /tmp/rzs/sums && sync",
            timeout=600)
        guest.run("umount /mnt/rzs && echo 3 > /proc/sys/vm/drop_caches && "
                  "mount /dev/ramzswap0 /mnt/rzs && cd /mnt/rzs && "
                  "sha256sum --quiet -c /tmp/rzs/sums",
                  timeout=600)
        mm = rzs.mm_stat(0)
        assert mm["orig_data_size"] > 60 * MiB, mm
        assert mm["compr_data_size"] < mm["orig_data_size"], mm
    finally:
        guest.run("umount /mnt/rzs", check=False)
    guest.run("e2fsck -fn /dev/ramzswap0", timeout=600)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    rzs.check_accounting(0)


@pytest.mark.parametrize(("lbs", "bs", "offset"), [
    (4096, "4k", 0),
    (4096, "512", 0),      # buffered: the page cache does 4 KiB I/O
    (512, "512", 0),       # direct: partial-page reads and read-modify-writes
    (512, "4k", 512),      # direct: every 4 KiB request straddles two pages
])
def test_fio_verify_raw_device(rzs: Rzs, guest: Any, lbs: int, bs: str, offset: int) -> None:
    rzs.insmod(f"logical_block_size={lbs}")
    assert rzs.read(0, "queue/logical_block_size") == str(lbs)
    rzs.init(0, "64M")
    direct = 1 if lbs == 512 or bs == "4k" else 0
    engine = "--ioengine=libaio --iodepth=16" if direct else "--ioengine=psync"
    # 512-byte requests: 4 MiB is 8192 of them (each a read-modify-write when
    # direct), enough to cross every page many times; 16 MiB took 10 minutes
    size_mib = 16 if bs == "4k" else 4
    for rw in ("randwrite", "write"):
        job = (f"fio --name=v --filename=/dev/ramzswap0 --rw={rw} --bs={bs} --offset={offset} "
               f"--size={size_mib}M --direct={direct} {engine} --verify=crc32c --verify_fatal=1 "
               f"--output-format=terse")
        # write (and verify at once), then verify again from the device alone
        guest.run(f"{job} --do_verify=1", timeout=900)
        guest.run("blockdev --flushbufs /dev/ramzswap0 && echo 3 > /proc/sys/vm/drop_caches")
        guest.run(f"{job} --verify_only", timeout=900)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    mm, _ = rzs.check_accounting(0)
    assert mm["orig_data_size"] >= size_mib * MiB, mm


def test_partial_write_zeroes_and_unaligned_io(rzs: Rzs, guest: Any) -> None:
    """With 512-byte logical blocks: write-zeroes on part of a page zeroes just
    those sectors; single-sector writes change only their sector."""
    rzs.insmod("logical_block_size=512")
    rzs.init(0, "8M")
    guest.run("head -c 1M /dev/urandom > /tmp/rzs/a && "
              "dd if=/tmp/rzs/a of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    # zero sectors 9..11 (bytes 4608..6143: inside page 1)
    guest.run("blkdiscard -z -o 4608 -l 1536 /dev/ramzswap0")
    guest.run("cp /tmp/rzs/a /tmp/rzs/b && "
              "dd if=/dev/zero of=/tmp/rzs/b bs=512 seek=9 count=3 conv=notrunc status=none && "
              "dd if=/dev/ramzswap0 bs=1M count=1 iflag=direct status=none | cmp - /tmp/rzs/b")
    # one sector of new data in the middle of page 3
    guest.run("head -c 512 /dev/urandom > /tmp/rzs/s && "
              "dd if=/tmp/rzs/s of=/dev/ramzswap0 bs=512 seek=27 oflag=direct status=none && "
              "dd if=/tmp/rzs/s of=/tmp/rzs/b bs=512 seek=27 conv=notrunc status=none && "
              "dd if=/dev/ramzswap0 bs=1M count=1 iflag=direct status=none | cmp - /tmp/rzs/b")
    # a partial discard is a hint: data stays; whole pages in it are freed
    before = rzs.mm_stat(0)["orig_data_size"]
    guest.run("blkdiscard -o 512 -l $((3 * 4096)) /dev/ramzswap0")   # frees pages 1, 2
    assert rzs.mm_stat(0)["orig_data_size"] == before - 2 * PAGE
    guest.run("dd if=/dev/ramzswap0 bs=512 count=1 iflag=direct status=none "
              "| cmp -n 512 - /tmp/rzs/b")
    kernel_zeros_sectors = "dd if=/dev/ramzswap0 bs=4096 skip=1 count=2 iflag=direct status=none"
    guest.run(f"{kernel_zeros_sectors} | cmp -n 8192 - /dev/zero")
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    rzs.check_accounting(0)


def test_concurrent_sector_writers_same_pages(rzs: Rzs, guest: Any) -> None:
    """Eight writers each own one sector of every page of a 1 MiB range and
    write them at the same time: each write is a read-modify-write of a page
    another writer is modifying too.  No update may be lost."""
    rzs.insmod("logical_block_size=512")
    rzs.init(0, "8M")
    guest.run("head -c 1M /dev/urandom > /tmp/rzs/src")
    guest.run("for k in 0 1 2 3 4 5 6 7; do ( for p in $(seq 0 255); do "
              "  s=$((p * 8 + k)); "
              "  dd if=/tmp/rzs/src of=/dev/ramzswap0 bs=512 skip=$s seek=$s count=1 "
              "     oflag=direct status=none || exit 1; "
              f"done ) & pids=\"$pids $!\"; done; {wait_each()}", timeout=900)
    guest.run("dd if=/dev/ramzswap0 bs=1M count=1 iflag=direct status=none | cmp - /tmp/rzs/src")
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    mm, _ = rzs.check_accounting(0)
    assert mm["orig_data_size"] == MiB, mm
    assert rzs.debug_stat(0)["num_writes"] >= 8 * 256


# ---------------------------------------------------------------------------
# compaction (the `compact` attribute and the shrinker)

COMPACT_DEV_MIB = 64


def _device_md5(guest: Any, dev: int = 0) -> str:
    """The device's content, read past the page cache."""
    return str(guest.run(f"dd if=/dev/ramzswap{dev} bs=1M iflag=direct status=none "
                         f"| md5sum", timeout=600).stdout.split()[0])


def _fill_and_thin(guest: Any, seed: int) -> None:
    """Fill the device with half-compressible pages, then rewrite 3 pages in
    4, chosen at random, with zeros (same-filled: their objects are freed),
    so that the pool is left sparse."""
    dev = f"--filename=/dev/ramzswap0 --bs=4k --direct=1 --size={COMPACT_DEV_MIB}M"
    guest.run(f"fio --name=fill {dev} --rw=write --buffer_compress_percentage=50 "
              f"--refill_buffers --randseed={seed} >/dev/null", timeout=900)
    guest.run(f"fio --name=thin {dev} --rw=randwrite --io_size={COMPACT_DEV_MIB * 3 // 4}M "
              f"--zero_buffers --randseed={seed} >/dev/null", timeout=900)


def _pool_over_ideal(xv: dict[str, int]) -> float:
    """Pool pages over the pages the stored bytes fill end to end."""
    return float(xv["pages_total"]) / -(-xv["bytes_requested"] // PAGE)


def test_compact_gives_back_sparse_pages(rzs: Rzs, guest: Any) -> None:
    """A pool left sparse by freeing 3 objects in 4 at random: a write to
    `compact` (as zram's) moves what is left together, gives the pages back,
    counts them in pages_compacted and changes no byte of the device; then
    the shrinker does the same on its own, called by the kernel's
    shrink_slab() (drop_caches, which reclaim under pressure also calls)."""
    rzs.insmod()
    rzs.init(0, f"{COMPACT_DEV_MIB}M")
    _fill_and_thin(guest, 5)
    mm0, xv0 = rzs.check_accounting(0)
    before = _device_md5(guest)
    assert rzs.write(0, "compact", "1").status == 0
    mm1, xv1 = rzs.check_accounting(0)
    print(f"compact: {xv0['pages_total']} -> {xv1['pages_total']} pages "
          f"({_pool_over_ideal(xv0):.3f} -> {_pool_over_ideal(xv1):.3f} of ideal), "
          f"pages_compacted {mm1['pages_compacted']}")
    assert _device_md5(guest) == before
    assert mm1["orig_data_size"] == mm0["orig_data_size"], (mm0, mm1)
    assert xv1["objects"] == xv0["objects"], (xv0, xv1)
    # the pages given back are what pages_compacted says, and they are many
    gained = mm1["pages_compacted"] - mm0["pages_compacted"]
    assert gained > 0, (mm0, mm1)
    assert xv0["pages_total"] - xv1["pages_total"] == gained, (xv0, xv1, mm0, mm1)
    assert _pool_over_ideal(xv0) > 1.5, xv0          # the thinning left it sparse
    assert _pool_over_ideal(xv1) <= 1.15, xv1

    # again sparse; now the kernel's shrinker machinery calls ours
    _fill_and_thin(guest, 6)
    mm2, xv2 = rzs.check_accounting(0)
    before = _device_md5(guest)
    assert _pool_over_ideal(xv2) > 1.5, xv2
    guest.run("echo 2 > /proc/sys/vm/drop_caches")
    mm3, xv3 = rzs.check_accounting(0)
    print(f"shrinker: {xv2['pages_total']} -> {xv3['pages_total']} pages, pages_compacted "
          f"{mm2['pages_compacted']} -> {mm3['pages_compacted']}")
    assert _device_md5(guest) == before
    assert mm3["pages_compacted"] > mm2["pages_compacted"], (mm2, mm3)
    assert xv3["pages_total"] < xv2["pages_total"], (xv2, xv3)
    assert _pool_over_ideal(xv3) <= 1.15, xv3


def test_shrinker_compacts_under_memory_pressure(rzs: Rzs, guest: Any) -> None:
    """No swap, a sparse pool, and a hog asking for a few MiB more than
    MemAvailable: reclaim runs short of page cache to drop and calls the
    shrinkers, ours among them, which compacts the pool (pages_compacted
    grows) and the hog gets its memory without an OOM kill."""
    rzs.insmod()
    guest.run("swapoff -a")
    rzs.init(0, f"{COMPACT_DEV_MIB}M")
    _fill_and_thin(guest, 7)
    mm0, xv0 = rzs.check_accounting(0)
    before = _device_md5(guest)
    assert _pool_over_ideal(xv0) > 1.5, xv0
    swap.inflate_balloon(guest, 48)
    try:
        mib = swap.mem_available_mib(guest) + 4
        hog = swap.run_hog(guest, mib, "random", seed=3, timeout=900)
    finally:
        swap.deflate_balloon(guest)
    mm1, xv1 = rzs.check_accounting(0)
    print(f"hog {mib} MiB: mismatches {hog.mismatches}; pool {xv0['pages_total']} -> "
          f"{xv1['pages_total']} pages, pages_compacted {mm0['pages_compacted']} -> "
          f"{mm1['pages_compacted']}")
    assert hog.mismatches == 0, hog.raw
    assert mm1["pages_compacted"] > mm0["pages_compacted"], (mm0, mm1)
    assert xv1["pages_total"] < xv0["pages_total"], (xv0, xv1)
    assert _device_md5(guest) == before


def test_compact_under_swap_load(rzs: Rzs, guest: Any) -> None:
    """zram users' `echo 1 > compact` five times a second while a hog of
    1.5x the available memory goes through ramzswap as swap: every page of
    the hog verified, nothing read wrong, the books balanced after."""
    rzs.insmod()
    rzs.init(0, "1G")
    rzs.hog_under("while :; do echo 1 > /sys/block/ramzswap0/compact; sleep 0.2; done",
                  seed=13)
    print(f"pages_compacted {rzs.mm_stat(0)['pages_compacted']}")


def test_pool_metadata_lowmem_while_swap_holds_a_hog(rzs: Rzs, guest: Any) -> None:
    """A 256 MiB hog paged out through ramzswap (MADV_PAGEOUT) and held
    there: the pool's pages are in highmem, and the lowmem its metadata takes
    (xv_stat meta_bytes: free-block nodes, area table) is under 0.5% of the
    pool's bytes; the hog then reads every page back right.  No balloon: a
    balloon would take the highmem the pool is meant to use."""
    rzs.insmod()
    rzs.init(0, "1G")
    guest.run("swapoff -a; mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    mib = 256
    try:
        with swap.hog_held_out(guest, mib, seed=29) as hog:
            _, xv = rzs.check_accounting(0)
    finally:
        guest.run("swapoff /dev/ramzswap0", timeout=900, check=False)
    ratio = xv["meta_bytes"] / xv["bytes_in_pool"]
    print(f"held hog {mib} MiB: {xv['objects']} objects, pool {xv['pages_total']} pages "
          f"({xv['pages_highmem']} highmem, {xv['pages_stashed']} stashed), meta_bytes "
          f"{xv['meta_bytes']} = {ratio:.3%} of the pool")
    assert hog.result is not None and hog.result.mismatches == 0, hog.result
    assert xv["objects"] > 30000 and xv["pages_highmem"] > 0.9 * xv["pages_total"], xv
    assert 0 < ratio <= 0.005, xv
    assert xv["pages_stashed"] <= 8, xv


# ---------------------------------------------------------------------------
# discard


def test_discard_frees_memory(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    rzs.init(0, "128M")
    guest.run("head -c 32M /dev/urandom > /tmp/rzs/r && "
              "dd if=/tmp/rzs/r of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    mm, xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] == 32 * MiB and xv["objects"] == 32 * 256, (mm, xv)
    guest.run("blkdiscard -o 0 -l 16M /dev/ramzswap0")
    mm, xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] == 16 * MiB and xv["objects"] == 16 * 256, (mm, xv)
    assert rzs.io_stat(0)["notify_free"] >= 16 * 256
    kernel_zeros(guest, 0, 0, 16)
    guest.run("dd if=/dev/ramzswap0 bs=1M skip=16 count=16 iflag=direct status=none "
              "| cmp -i 0:$((16 << 20)) - /tmp/rzs/r")
    guest.run("blkdiscard -z -o 16M -l 8M /dev/ramzswap0")      # write zeroes, whole pages
    mm, xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] == 8 * MiB, mm
    kernel_zeros(guest, 0, 16, 8)
    guest.run("blkdiscard /dev/ramzswap0")
    mm, xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] == 0 and xv["objects"] == 0 and mm["compr_data_size"] == 0

    # fstrim on a mounted filesystem gives deleted files' pages back
    guest.run("mkfs.ext4 -q /dev/ramzswap0 && mkdir -p /mnt/rzs && mount /dev/ramzswap0 /mnt/rzs")
    try:
        guest.run("head -c 48M /dev/urandom > /mnt/rzs/big && sync", timeout=300)
        full = rzs.mm_stat(0)["orig_data_size"]
        assert full >= 48 * MiB
        guest.run("rm /mnt/rzs/big && sync && fstrim /mnt/rzs")
        trimmed = rzs.mm_stat(0)["orig_data_size"]
        assert full - trimmed >= 47 * MiB, (full, trimmed)
    finally:
        guest.run("umount /mnt/rzs", check=False)
    rzs.check_accounting(0)


# ---------------------------------------------------------------------------
# compressors, devices, resets, module cycles


def test_every_compressor(rzs: Rzs, guest: Any) -> None:
    rzs.insmod("num_devices=1")
    names, _ = rzs.algorithms()
    # every compressor the kernel configs build (vm/configs/base.config): one
    # that is missing fails here rather than being left out of the loop
    assert sorted(names) == sorted(EXPECTED_COMPRESSORS), names
    make_mixed_file(guest, "/tmp/rzs/mixed.bin", 4)
    for name in names:
        rzs.init(0, "32M", comp=name)
        assert rzs.algorithms()[1] == name
        guest.run("dd if=/tmp/rzs/mixed.bin of=/dev/ramzswap0 bs=1M oflag=direct status=none && "
                  "dd if=/dev/ramzswap0 bs=1M count=16 iflag=direct status=none "
                  "| cmp - /tmp/rzs/mixed.bin")
        mm, _xv = rzs.check_accounting(0)
        assert mm["orig_data_size"] == 16 * MiB, (name, mm)
        assert mm["same_pages"] >= 256, (name, mm)          # the zero MiB
        assert mm["huge_pages"] >= 250, (name, mm)          # the random MiB
        # text and ELF compress: well under their 8 MiB plus the raw random MiB
        assert mm["compr_data_size"] < 12 * MiB, (name, mm)
        rzs.reset(0)
        _zero_stats(rzs, 0)


def test_multiple_devices(rzs: Rzs, guest: Any) -> None:
    rzs.insmod("num_devices=3")
    guest.run("test -d /sys/block/ramzswap2 && test ! -e /sys/block/ramzswap3")
    names, _ = rzs.algorithms()
    for dev in range(3):
        rzs.init(dev, f"{16 * (dev + 1)}M", comp=names[dev % len(names)])
        guest.run(f"head -c {4 * (dev + 1)}M /dev/urandom > /tmp/rzs/d{dev}")
    # write all three at once, then check each device holds its own data
    guest.run("for d in 0 1 2; do dd if=/tmp/rzs/d$d of=/dev/ramzswap$d bs=1M oflag=direct "
              f"status=none & pids=\"$pids $!\"; done; {wait_each()}")
    for dev in range(3):
        n = 4 * (dev + 1)
        guest.run(f"dd if=/dev/ramzswap{dev} bs=1M count={n} iflag=direct status=none "
                  f"| cmp - /tmp/rzs/d{dev}")
        mm, _ = rzs.check_accounting(dev)
        assert mm["orig_data_size"] == n * MiB, (dev, mm)
    rzs.reset(1)
    _zero_stats(rzs, 1)
    for dev in (0, 2):
        assert rzs.mm_stat(dev)["orig_data_size"] == 4 * (dev + 1) * MiB


def test_hot_add_hot_remove_and_busy(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    ctl = "/sys/class/ramzswap-control"
    new = int(guest.run(f"cat {ctl}/hot_add").stdout.strip())
    assert new == 1
    guest.run("test -d /sys/block/ramzswap1")
    rzs.init(1, "8M")
    guest.run("head -c 1M /dev/urandom | dd of=/dev/ramzswap1 bs=1M oflag=direct status=none")
    # hold the device open: reset, hot_remove and rmmod must all refuse
    guest.run("sleep 600 < /dev/ramzswap1 > /dev/null 2>&1 & echo $! > /tmp/rzs/holder")
    try:
        assert rzs.write(1, "reset", "1").failed_with("EBUSY")
        assert rzs.write_path(f"{ctl}/hot_remove", "1").failed_with("EBUSY")
        assert guest.run("rmmod ramzswap", check=False).status != 0
        assert rzs.read(1, "initstate") == "1"
        assert rzs.mm_stat(1)["orig_data_size"] == MiB
    finally:
        guest.run("kill $(cat /tmp/rzs/holder); sleep 0.5", check=False)
    assert rzs.write_path(f"{ctl}/hot_remove", "1").status == 0
    guest.run("test ! -e /sys/block/ramzswap1 && test ! -e /dev/ramzswap1")
    assert rzs.write_path(f"{ctl}/hot_remove", "1").failed_with("ENODEV")
    # ids are reused, and there is a limit of 32 devices
    ids = [int(guest.run(f"cat {ctl}/hot_add").stdout.strip()) for _ in range(31)]
    assert sorted(ids) == list(range(1, 32)), ids
    assert rzs.run_err(f"cat {ctl}/hot_add").failed_with("ENOSPC")
    for i in ids:
        assert rzs.write_path(f"{ctl}/hot_remove", str(i)).status == 0
    guest.run("test ! -e /sys/block/ramzswap1 && test -d /sys/block/ramzswap0")


def test_rmmod_refused_while_swapping(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    guest.run("swapoff -a")
    rzs.init(0, "64M")
    guest.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    try:
        assert guest.run("rmmod ramzswap", check=False).status != 0
        assert guest.run("rmmod xvmalloc", check=False).status != 0
        assert rzs.write(0, "reset", "1").failed_with("EBUSY")
        assert rzs.write(0, "disksize", "128M").failed_with("EBUSY")
        assert rzs.write(0, "comp_algorithm", "lzo").failed_with("EBUSY")
        assert rzs.read(0, "disksize") == str(64 * MiB)
    finally:
        guest.run("swapoff /dev/ramzswap0", check=False)


def test_reset_cycles(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    names, _ = rzs.algorithms()
    guest.run("head -c 8M /dev/urandom > /tmp/rzs/r")
    for i in range(6):
        rzs.init(0, "32M", comp=names[i % len(names)])
        kernel_zeros(guest, 0, 0, 32)
        guest.run("dd if=/tmp/rzs/r of=/dev/ramzswap0 bs=1M seek=4 oflag=direct status=none && "
                  "dd if=/dev/ramzswap0 bs=1M skip=4 count=8 iflag=direct status=none "
                  "| cmp - /tmp/rzs/r")
        rzs.check_accounting(0)
        rzs.reset(0)
        _zero_stats(rzs, 0)
        assert rzs.read(0, "mem_limit") == "0"


def test_insmod_rmmod_cycles_no_leaks(rzs: Rzs, guest: Any) -> None:
    kml = kmemleak.PATH
    have_kmemleak = guest.run(f"echo clear > {kml}", check=False).status == 0
    if guest.flavour == "debug":
        assert have_kmemleak, "the debug kernel should have kmemleak"
    for i in range(4):
        rzs.insmod(f"num_devices={1 + i % 3}")
        for dev in range(1 + i % 3):
            rzs.init(dev, "16M")
            guest.run(f"head -c 2M /dev/urandom | dd of=/dev/ramzswap{dev} bs=1M "
                      f"oflag=direct status=none")
        if i % 2:
            for dev in range(1 + i % 3):
                rzs.reset(dev)
        guest.run("rmmod ramzswap && rmmod xvmalloc")
        assert not rzs.loaded()
    # load once more and leave a used device for the scan to see our symbols
    rzs.insmod()
    rzs.init(0, "16M")
    guest.run("head -c 4M /dev/urandom | dd of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    rzs.reset(0)
    if have_kmemleak:
        ours = kmemleak.ours(guest.kmemleak_scan())
        assert not ours, "kmemleak reports leaks through our modules:\n" + \
            "\n\n".join(lk.text for lk in ours)


# ---------------------------------------------------------------------------
# limits and failures


def test_mem_limit_fails_writes_cleanly(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    rzs.init(0, "64M")
    rzs.set(0, "mem_limit", "1M")
    assert rzs.read(0, "mem_limit") == str(MiB)
    guest.run("head -c 8M /dev/urandom > /tmp/rzs/r")
    r = guest.run("dd if=/tmp/rzs/r of=/dev/ramzswap0 bs=1M oflag=direct status=none",
                  check=False)
    assert r.status != 0, "writing 8 MiB of random data under a 1 MiB limit succeeded"
    io = rzs.io_stat(0)
    assert io["failed_writes"] > 0, io
    mm, _xv = rzs.check_accounting(0)
    assert mm["mem_used_total"] <= MiB + 64 * 1024, mm
    assert mm["orig_data_size"] < 2 * MiB, mm
    # same-filled pages need no memory: they still go in
    guest.run("dd if=/dev/zero of=/dev/ramzswap0 bs=1M seek=32 count=8 oflag=direct status=none")
    # lift the limit: the device works again, nothing was lost or leaked
    rzs.set(0, "mem_limit", "0")
    guest.run("dd if=/tmp/rzs/r of=/dev/ramzswap0 bs=1M oflag=direct status=none && "
              "dd if=/dev/ramzswap0 bs=1M count=8 iflag=direct status=none | cmp - /tmp/rzs/r")
    mm, _xv = rzs.check_accounting(0)
    assert mm["orig_data_size"] == 16 * MiB and mm["same_pages"] == 8 * 256, mm
    assert mm["mem_used_max"] >= mm["mem_used_total"] > MiB, mm
    # mem_used_max: "0" brings it down to the current use
    guest.run("dd if=/dev/zero of=/dev/ramzswap0 bs=1M count=8 oflag=direct status=none")
    rzs.set(0, "mem_used_max", "0")
    mm, _ = rzs.check_accounting(0)
    assert mm["mem_used_max"] == mm["mem_used_total"], mm


# ---------------------------------------------------------------------------
# bad input: every writable attribute, and the module parameters

_OVERFLOW = "99999999999999999999999"

# (attribute, value, errno) -- the device is uninitialised (disksize 0) here
BAD_UNINIT = [
    ("disksize", "0", "EINVAL"),
    ("disksize", "abc", "EINVAL"),
    ("disksize", "-1", "EINVAL"),
    ("disksize", "-1G", "EINVAL"),
    ("disksize", "+1G", "EINVAL"),
    ("disksize", "1X", "EINVAL"),
    ("disksize", "1G junk", "EINVAL"),
    ("disksize", " 1G", "EINVAL"),
    ("disksize", "1GG", "EINVAL"),
    ("disksize", "G", "EINVAL"),
    ("disksize", _OVERFLOW, "EINVAL"),
    ("disksize", "16E", "EINVAL"),
    ("disksize", "1.5G", "EINVAL"),
    ("disksize", "1G\n\n", "EINVAL"),
    ("disksize", "2T", "EINVAL"),            # a table of more than half the i386 space
    ("disksize", "16T", "EINVAL"),
    ("disksize", "512G", "ENOMEM"),          # a 1 GiB table: no vmalloc space for it
    ("disksize", "4096G", "EINVAL"),
    ("compact", "1", "EINVAL"),              # not initialised, as zram
    ("compact", "abc", "EINVAL"),
    ("max_comp_streams", "-1", "EINVAL"),
    ("max_comp_streams", "", "EINVAL"),
    ("comp_algorithm", "nosuchalg", "EINVAL"),
    ("comp_algorithm", "", "EINVAL"),
    ("comp_algorithm", "LZO", "EINVAL"),
    ("comp_algorithm", "lzo junk", "EINVAL"),
    ("comp_algorithm", " lzo", "EINVAL"),
    ("comp_algorithm", "x" * 300, "EINVAL"),
    ("comp_algorithm", "deflate", "EINVAL"),
    ("mem_limit", "abc", "EINVAL"),
    ("mem_limit", "-1", "EINVAL"),
    ("mem_limit", "1Q", "EINVAL"),
    ("mem_limit", _OVERFLOW, "EINVAL"),
    ("mem_limit", "16E", "EINVAL"),
    ("mem_limit", "17T", "EINVAL"),         # more pages than an i386 unsigned long
    ("mem_limit", "", "EINVAL"),
    ("mem_used_max", "1", "EINVAL"),
    ("mem_used_max", "00", "EINVAL"),
    ("mem_used_max", "-0", "EINVAL"),
    ("mem_used_max", "abc", "EINVAL"),
    ("mem_used_max", "", "EINVAL"),
    ("reset", "0", "EINVAL"),
    ("reset", "-1", "EINVAL"),
    ("reset", "abc", "EINVAL"),
    ("reset", "99999999999", "EINVAL"),
    ("reset", "1x", "EINVAL"),
    ("reset", "", "EINVAL"),
]

READ_ONLY = ["initstate", "mm_stat", "io_stat", "xv_stat", "debug_stat"]

BAD_PARAMS = ["num_devices=0", "num_devices=33", "num_devices=-1", "num_devices=abc",
              f"num_devices={_OVERFLOW}", "logical_block_size=1024",
              "logical_block_size=0", "logical_block_size=8192", "logical_block_size=x"]


def _snapshot_sh(dev: int) -> str:
    """A shell command printing everything readable about a device's state."""
    attrs = "disksize initstate comp_algorithm mem_limit mm_stat io_stat xv_stat"
    return f"cd /sys/block/ramzswap{dev} && for a in {attrs}; do echo \"$a: $(cat $a)\"; done"


def _snapshot(r: Rzs, dev: int) -> str:
    """Everything readable about a device's state, in one guest round trip."""
    return str(r.g.run(_snapshot_sh(dev)).stdout).rstrip("\n")


def _refused_unchanged(rzs: Rzs, dev: int, cases: list[tuple[str, str, str]],
                       before: str) -> list[str]:
    """Write each (attribute, value, errno) of *cases*; what was not refused
    with that errno, or changed the device's state, as failure lines."""
    writes = [(rzs.path(dev, attr), value) for attr, value, _ in cases]
    failures = []
    for (attr, value, errno), (res, after) in zip(
            cases, rzs.write_each(writes, _snapshot_sh(dev)), strict=True):
        if not res.failed_with(errno):
            failures.append(f"{attr} <- {value!r}: status {res.status}, {res.stderr.strip()!r}")
        elif after != before:
            failures.append(f"{attr} <- {value!r} changed the state: {after}")
    return failures


def test_bad_input_rejected_state_unchanged(rzs: Rzs, guest: Any) -> None:
    rzs.insmod()
    rzs.set(0, "mem_limit", "64M")
    rzs.set(0, "comp_algorithm", "lzo")
    before = _snapshot(rzs, 0)
    failures = _refused_unchanged(rzs, 0, BAD_UNINIT, before)
    ro = rzs.write_each([(rzs.path(0, attr), "1") for attr in READ_ONLY], "true")
    failures += [f"read-only {attr} accepted a write"
                 for attr, (res, _) in zip(READ_ONLY, ro, strict=True) if res.status == 0]
    assert not failures, "\n".join(failures)
    assert _snapshot(rzs, 0) == before

    # good values, as memparse reads them; the device takes whole pages
    for value, expect in (("4097", 8192), ("0x100000", MiB), ("512M", 512 * MiB),
                          ("1G", 1 << 30), ("2g", 2 << 30)):
        rzs.set(0, "disksize", value)
        assert rzs.read(0, "disksize") == str(expect), value
        rzs.reset(0)
    for value, expect in (("1k", 4096), ("4097", 8192), ("0", 0), ("1T", 1 << 40)):
        rzs.set(0, "mem_limit", value)
        assert rzs.read(0, "mem_limit") == str(expect), value

    # initialised: configuration is refused with EBUSY, garbage still EINVAL
    rzs.set(0, "mem_limit", "64M")
    rzs.init(0, "32M")
    before = _snapshot(rzs, 0)
    failures = _refused_unchanged(rzs, 0, [
        ("disksize", "64M", "EBUSY"), ("disksize", "abc", "EINVAL"),
        ("comp_algorithm", "lz4", "EBUSY"), ("comp_algorithm", "nosuch", "EINVAL"),
        ("mem_limit", "-5", "EINVAL"), ("mem_used_max", "7", "EINVAL"),
        ("reset", "-1", "EINVAL"), ("compact", "0", "EINVAL"), ("compact", "-1", "EINVAL"),
        ("compact", "now", "EINVAL"), ("max_comp_streams", "0", "EINVAL"),
        ("max_comp_streams", "two", "EINVAL")], before)
    assert not failures, "\n".join(failures)

    ctl = "/sys/class/ramzswap-control/hot_remove"
    cases = [("abc", "EINVAL"), ("-1", "EINVAL"), (_OVERFLOW, "EINVAL"),
             ("", "EINVAL"), ("7", "ENODEV"), ("1x", "EINVAL")]
    done = rzs.write_each([(ctl, value) for value, _ in cases], "true")
    for (value, errno), (res, _) in zip(cases, done, strict=True):
        assert res.failed_with(errno), (value, res)
    guest.run("test -d /sys/block/ramzswap0 && test ! -e /sys/block/ramzswap1")

    guest.run("rmmod ramzswap")
    for params in BAD_PARAMS:
        r = rzs.insmod(params, check=False)
        assert r.status != 0, f"insmod ramzswap {params} succeeded"
        assert not rzs.loaded(), params
    log = guest.run("dmesg | tail -n 60").stdout
    assert "num_devices=0 is out of range" in log, log
    assert "num_devices=33 is out of range" in log, log
    assert "logical_block_size=1024 must be 512 or 4096" in log, log
