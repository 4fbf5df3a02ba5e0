"""ramzswap's I/O path in the debug guest: synchronous swap-in (rw_page), slots
freed on swap-in, writers on both vCPUs, CPU hotplug during I/O, and a
filesystem writer under memory pressure.

Each test starts and ends with no ramzswap device in use and neither module
loaded (the `rzs` fixture)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from vm.guest import Guest
from vm.testing.rzs import PAGE, MiB, Rzs, make_mixed_file
from vm.testing.swap import deflate_balloon, inflate_balloon, vmstat

pytestmark = pytest.mark.vm

WORK = "/tmp/iopath"


@pytest.fixture
def rzs(guest: Guest) -> Iterator[Rzs]:
    r = Rzs(guest)
    r.cleanup()          # a previous test may have died half-way
    guest.run(f"rm -rf {WORK}; mkdir -p {WORK}; swapoff -a")
    try:
        yield r
    finally:
        guest.run("pkill -KILL -x hog; pkill -KILL -x fio; "
                  "echo 1 > /sys/devices/system/cpu/cpu1/online", check=False)
        deflate_balloon(guest)
        guest.run(f"rm -rf {WORK}", check=False)
        r.cleanup()
        assert not r.loaded()


def _swapon(g: Guest, rzs: Rzs, dev: int, size: str) -> None:
    rzs.init(dev, size)
    g.run(f"mkswap /dev/ramzswap{dev} >/dev/null && swapon /dev/ramzswap{dev}")


def _hog_json(g: Guest, path: str) -> dict[str, Any]:
    out = g.run(f"cat {path}").stdout.strip().splitlines()
    assert out and out[-1].startswith("{"), f"no hog JSON in {path}: {out[-5:]}"
    res: dict[str, Any] = json.loads(out[-1])
    return res


def _debug_locks(g: Guest) -> int:
    """lockdep's debug_locks: 1 while lockdep runs; a lockdep report turns it off."""
    text = g.run("cat /proc/lockdep_stats").stdout
    m = re.search(r"debug_locks:\s+(\d+)", text)
    assert m, f"no debug_locks in /proc/lockdep_stats: {text[-300:]}"
    return int(m.group(1))


def _fio(dev: str, options: str, jobs: str) -> str:
    """fio writing and verifying: global *options*, then the *jobs* (--name=...)."""
    return (f"fio --thread --filename={dev} --direct=1 --ioengine=psync --verify=crc32c "
            f"--do_verify=1 --verify_fatal=1 --randrepeat=0 --output-format=terse "
            f"{options} {jobs}")


# ---------------------------------------------------------------------------
# synchronous swap-in

SAMPLER_SH = r"""
# sample PID MM_STAT OUT: "rss_pages stored_pages" every 0.1 s while PID lives
while kill -0 "$1" 2>/dev/null; do
  r=$(cut -d' ' -f2 /proc/$1/statm 2>/dev/null) || break
  s=$(cut -c1-9 "$2" 2>/dev/null)
  echo "$r $((s / 4096))"
  sleep 0.1
done > "$3"
"""


def test_swapin_synchronous_and_slot_freed(rzs: Rzs, guest: Guest) -> None:
    """With rw_page, swap uses ramzswap with SWP_SYNCHRONOUS_IO: a swap-in
    skips the swap cache and readahead (no swap_ra events), and the slot of a
    page read back is freed at once (notify_free), so what ramzswap stores
    falls while the hog reads its pages back, and the next page-out writes
    every page again (a page kept in the swap cache would be dropped, clean,
    without a write)."""
    g = guest
    mib, passes = 64, 2
    pages = mib * 256
    rzs.insmod()
    _swapon(g, rzs, 0, "256M")
    g.run("echo 3 > /proc/sys/vm/page-cluster")
    g.run(f"cat > {WORK}/sample.sh << 'EOF'\n{SAMPLER_SH}\nEOF")
    vm0, io0 = vmstat(g), rzs.io_stat(0)
    g.run(f"{g.hog} --mib {mib} --kind mixed --seed 5 --pageout --passes {passes} "
          f"--json --quiet > {WORK}/hog.json 2> {WORK}/hog.err & hp=$!; "
          f"sh {WORK}/sample.sh $hp /sys/block/ramzswap0/mm_stat {WORK}/samples; "
          f"wait $hp", timeout=1800, check=False)
    vm1, io1 = vmstat(g), rzs.io_stat(0)
    hog = _hog_json(g, f"{WORK}/hog.json")
    assert hog["mismatches"] == 0 and hog["pages"] == pages, hog

    d = {k: vm1.get(k, 0) - vm0.get(k, 0) for k in ("pswpin", "pswpout", "swap_ra",
                                                    "swap_ra_hit")}
    freed = io1["notify_free"] - io0["notify_free"]
    samples = [tuple(int(x) for x in ln.split())
               for ln in g.run(f"cat {WORK}/samples").stdout.splitlines() if ln.strip()]
    # once (most of) the hog was paged out, reading back while the stored pages
    # go: resident high and stored low at once (a swap cache would keep them)
    first = next((i for i, s in enumerate(samples) if s[1] >= 0.7 * pages), len(samples))
    both = [s for s in samples[first:] if s[0] >= 0.6 * pages and s[1] <= 0.4 * pages]
    peak = max((s[1] for s in samples), default=0)
    print(f"iopath: vmstat deltas {d}, notify_free +{freed}, {len(samples)} samples, "
          f"peak stored {peak} pages, {len(both)} samples resident>=70% & stored<=30%")
    assert "swap_ra" in vm1, "no swap_ra in /proc/vmstat"
    assert d["swap_ra"] == 0 and d["swap_ra_hit"] == 0, d
    # MADV_PAGEOUT leaves a few pages resident; through the swap cache the
    # second pass would write (and free) about half of these
    assert d["pswpin"] >= 0.8 * passes * pages, d
    # every pass wrote every page again: its slot went at swap-in
    assert d["pswpout"] >= 0.8 * passes * pages, d
    # swap frees slots in batches of up to 64 per CPU (swap_slots cache)
    assert freed >= 0.8 * passes * pages, (freed, d)
    assert peak >= 0.7 * pages, peak
    assert both, f"stored pages never fell as the hog read back: {samples[::10]}"
    g.run("swapoff /dev/ramzswap0", timeout=600)
    mm, _ = rzs.check_accounting(0)
    assert mm["orig_data_size"] // PAGE <= 1 + rzs.debug_stat(0)["miss_free"], mm


# ---------------------------------------------------------------------------
# concurrency: both vCPUs, CPU hotplug


def test_concurrent_writers_two_cpus(rzs: Rzs, guest: Guest) -> None:
    """Writers pinned to CPU 0 and CPU 1 at the same time: fio (4 KiB random
    writes with verification) on the raw device, then 512-byte sector writers
    sharing every page (read-modify-write of the same pages from both CPUs),
    then two swap hogs.  No mismatch, no failed I/O, lockdep still on."""
    g = guest
    assert g.run("nproc").stdout.strip() == "2"
    assert _debug_locks(g) == 1
    rzs.insmod()
    rzs.init(0, "128M")
    jobs = " ".join(f"--name=w{c} --cpus_allowed={c} --offset={c * 32}M" for c in (0, 1))
    r = g.run(_fio("/dev/ramzswap0", "--rw=randwrite --bs=4k --size=32M", jobs),
              timeout=1800, check=False)
    assert r.status == 0, r.describe()
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    rzs.check_accounting(0)
    g.run("swapoff -a; echo 1 > /sys/block/ramzswap0/reset; rmmod ramzswap")

    # sector k of every page of 4 MiB: job k, on CPU k % 2
    rzs.insmod("logical_block_size=512")
    rzs.init(0, "16M")
    jobs = " ".join(f"--name=s{k} --cpus_allowed={k % 2} --offset={k * 512}"
                    for k in range(4))
    r = g.run(_fio("/dev/ramzswap0", "--rw=write:3584 --bs=512 --size=4M", jobs),
              timeout=1800, check=False)
    assert r.status == 0, r.describe()
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    assert rzs.debug_stat(0)["num_writes"] >= 4 * 1024
    rzs.check_accounting(0)
    g.run("echo 1 > /sys/block/ramzswap0/reset; rmmod ramzswap")

    rzs.insmod()
    _swapon(g, rzs, 0, "256M")
    g.run(" ".join(f"taskset -c {c} {g.hog} --mib 48 --kind mixed --seed {c + 7} --pageout "
                   f"--passes 3 --json --quiet > {WORK}/hog{c}.json 2>&1 &" for c in (0, 1))
          + " wait", timeout=1800, check=False)
    for c in (0, 1):
        hog = _hog_json(g, f"{WORK}/hog{c}.json")
        assert hog["mismatches"] == 0 and hog["pages"] == 48 * 256, (c, hog)
    g.run("swapoff /dev/ramzswap0", timeout=600)
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    assert _debug_locks(g) == 1, "lockdep turned itself off: it reported something"


CPU1 = "/sys/devices/system/cpu/cpu1/online"


def test_cpu_offline_online_during_io(rzs: Rzs, guest: Guest) -> None:
    """CPU 1 goes offline and online again and again while a swap hog and a
    verifying fio writer run: each CPU's stream is freed when it goes and set
    up when it comes back, a task that held the stream of the CPU going down
    finishes with it.  No mismatch, no failed I/O."""
    g = guest
    g.run(f"test -w {CPU1}")
    rzs.insmod("num_devices=2")
    _swapon(g, rzs, 0, "256M")
    rzs.init(1, "64M")
    script = f"""
        {g.hog} --mib 48 --kind mixed --seed 9 --pageout --passes 4 --json --quiet \
            > {WORK}/hog.json 2>&1 & hp=$!
        {_fio("/dev/ramzswap1", "--rw=randwrite --bs=4k --size=48M --loops=2", "--name=h")} \
            > {WORK}/fio.out 2>&1 & fp=$!
        n=0
        while kill -0 $hp 2>/dev/null || kill -0 $fp 2>/dev/null; do
            echo 0 > {CPU1} || exit 3
            sleep 0.5
            echo 1 > {CPU1} || exit 4
            n=$((n + 1))
            sleep 0.5
        done
        wait $hp; echo "hog rc $?"
        wait $fp; echo "fio rc $?"
        echo "cycles $n"
    """
    r = g.run(script, timeout=2400, check=False)
    assert r.status == 0, r.describe()
    out = r.stdout
    print(f"iopath hotplug: {' '.join(out.split()[-6:])}")
    assert "hog rc 0" in out and "fio rc 0" in out, (out, g.run(f"cat {WORK}/fio.out").stdout)
    cycles = int(out.split()[-1])
    assert cycles >= 3, out
    hog = _hog_json(g, f"{WORK}/hog.json")
    assert hog["mismatches"] == 0, hog
    assert g.run(f"cat {CPU1}").stdout.strip() == "1"
    g.run("swapoff /dev/ramzswap0", timeout=600)
    for d in (0, 1):
        io = rzs.io_stat(d)
        assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, (d, io)
        rzs.check_accounting(d)


# ---------------------------------------------------------------------------
# filesystem writer under memory pressure


def test_fs_writer_under_memory_pressure(rzs: Rzs, guest: Guest) -> None:
    """ext4 on ramzswap1 written through the page cache (and fsynced) while a
    hog larger than the free memory swaps to ramzswap0: writeback and swap-out
    both need the device while memory is short.  The hung-task detector runs
    with a 120 s limit (the kernel default; the TCG boot line raises it to
    600 s); no task may be reported, and the file is intact."""
    g = guest
    hung = g.run("cat /proc/sys/kernel/hung_task_timeout_secs").stdout.strip()
    g.run("echo 120 > /proc/sys/kernel/hung_task_timeout_secs")
    mark = g.klog_mark()
    try:
        rzs.insmod("num_devices=2")
        _swapon(g, rzs, 0, "512M")
        rzs.init(1, "256M")
        g.run("mkfs.ext4 -q /dev/ramzswap1 && mkdir -p /mnt/iop && mount /dev/ramzswap1 /mnt/iop")
        # sized so that the debug kernel (page poisoning on every free) gets
        # through reclaim in minutes under TCG: 1.5x these sizes starved its
        # vCPUs into RCU stall reports on a host at load 10
        make_mixed_file(g, f"{WORK}/src", 8)             # 32 MiB
        inflate_balloon(g, 160)
        r = g.run(f"""
            {g.hog} --mib 144 --kind mixed --seed 3 --pageout --passes 1 --json --quiet \
                > {WORK}/hog.json 2>&1 & hp=$!
            for i in 1 2; do
                dd if={WORK}/src of=/mnt/iop/f$i bs=1M conv=fsync status=none || exit 5
            done
            wait $hp; echo "hog rc $?"
            """, timeout=2400, check=False)
        assert r.status == 0 and "hog rc 0" in r.stdout, r.describe()
        hog = _hog_json(g, f"{WORK}/hog.json")
        assert hog["mismatches"] == 0, hog
        deflate_balloon(g)
        g.run("umount /mnt/iop && e2fsck -fn /dev/ramzswap1 >/dev/null && "
              f"mount /dev/ramzswap1 /mnt/iop && cmp {WORK}/src /mnt/iop/f1 && "
              f"cmp {WORK}/src /mnt/iop/f2 && umount /mnt/iop", timeout=900)
        g.run("swapoff /dev/ramzswap0", timeout=600)
        io = [rzs.io_stat(d) for d in (0, 1)]
        assert all(i["failed_reads"] == i["failed_writes"] == 0 for i in io), io
        log = g.klog_since(mark)
        assert "blocked for more than" not in log, log[-3000:]
    finally:
        g.run("umount /mnt/iop 2>/dev/null; "
              f"echo {shlex.quote(hung)} > /proc/sys/kernel/hung_task_timeout_secs", check=False)
    print(f"iopath fs: swapped {vmstat(g)['pswpout'] * PAGE // MiB} MiB out in all")
