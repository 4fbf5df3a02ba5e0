"""Device runs: ramzswap vs zram (both lzo-rle) vs brd (uncompressed RAM disk),
in the guest, one device at a time.

Block I/O (each device sized to the corpus):
    1. ``dd`` writes the corpus onto the device (1 MiB O_DIRECT writes, read from
       the corpus with O_DIRECT so the page cache does not grow): "prefill" MiB/s,
       and the memory the device then holds (mm_stat for ramzswap and zram; brd
       keeps one page per page written) and the drop of MemFree/LowFree.
    2. ``corpusio io DEV CORPUS read seq|rand J S`` reads the corpus back: 4 KiB
       O_DIRECT reads, 1 and 2 jobs (each job its own slice), time based;
    3. ``corpusio io DEV CORPUS write seq|rand J S`` writes 4 KiB corpus pages
       with O_DIRECT: seq puts corpus page d on device page d, rand writes random
       corpus pages to random device pages; 1 and 2 jobs;
    4. fio on the raw device, rows of their own ("fio" in the results): read and
       randread of what the device then holds, then write and randwrite of fio's
       own buffers (``--buffer_compress_percentage=50 --refill_buffers``: about
       2x compressible), 4 KiB, O_DIRECT, psync, ``--numjobs`` 1 and 2 (each job
       its own slice), time based; MiB/s and the p50/p99 completion latency of
       one 4 KiB op.  fio needs SysV shared memory (CONFIG_SYSVIPC) even with
       --thread; if it does not run, "fio_problem" says why and the rows are
       missing.

Swap (the device is the guest's only swap):
    The page-integrity hog (vm/guest/hog.c) allocates ``hog_mib`` MiB of its mixed
    pages, writes them, and ``hog_passes`` times asks the kernel to page all of it
    out (MADV_PAGEOUT) and reads every page back, checking it.  The hog fits in
    memory, so brd (which needs a page per page stored) can take part too; every
    swapped page goes through the device because of the explicit page-out.  A
    sampler records /proc/vmstat pswpin/pswpout, /proc/meminfo and the device's
    mm_stat (and ramzswap's xv_stat) every ``sample_s`` seconds.
    - out MiB/s = pswpout bytes / (hog wall time - its write and verify times),
      i.e. over the page-out calls; in MiB/s = pswpin bytes / the hog's verify
      time (which includes regenerating and comparing each page: the same work
      for every device).
    - at the sample with the most swap in use ("stored"): the device's memory
      (mm_stat mem_used_total; brd: stored, by construction) and the drop of
      LowFree since before the hog, both per GiB stored.
    Each device runs the hog ``swap_rounds`` times, the devices taking turns in
    an order reversed every round (ramzswap, zram, brd, then brd, zram,
    ramzswap, ...), so that neither the first hog after boot (the slowest on
    any device) nor a drift of the host favours one device.  The MiB/s are the
    median over the rounds (a single page-out of 128 MiB lasts about 3 s under
    TCG, and one in six such runs was off by half: 2026-12-04, 6.12); the
    memory figures are the first round's; every round is kept in "rounds".

Swap larger than RAM (ramzswap and zram; "big_swap" in the results):
    A ramfs balloon (never swapped) leaves ``big_ram_mib`` MiB available ("RAM"
    below); the swap device gets ``disk_factor`` x RAM for each of
    ``big_disk_factors``; the hog allocates ``big_hog_factor`` x RAM, writes it
    (the kernel swaps the excess out) and reads every page back once, checking it
    (no explicit page-out).  The sampler records mm_stat throughout: the peak
    orig_data_size shows what the device still holds of pages already read back
    (a page read through the swap cache keeps its slot, and its compressed copy,
    until swap is half full).  out MiB/s = pswpout / the hog's write time, in
    MiB/s = pswpin / its verify time.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vm import stats
from vm.guest import Guest
from vm.step import say
from vm.testing import swap

DEVICES = ("ramzswap", "zram", "brd")
COMPRESSOR = "lzo-rle"
BENCH_DIR = "/root/bench"
SWAPRUN = f"{BENCH_DIR}/swaprun.sh"
SAMPLES = f"{BENCH_DIR}/samples.txt"
MiB = 1 << 20

MEMINFO_KEYS = ("MemFree", "MemAvailable", "LowFree", "HighFree", "SwapTotal", "SwapFree",
                "SwapCached", "Slab", "PageTables")

SWAPRUN_SH = r"""#!/bin/sh
# swaprun.sh MM_STAT|- XV_STAT|- SAMPLES INTERVAL HOG [ARGS...]
# Samples vmstat/meminfo/device stats while the hog runs; prints one line
# "swaprun t0=.. t1=.. rc=.." and the hog's JSON line.
mm=$1; xv=$2; out=$3; iv=$4; shift 4
sample() {
	m=-; [ "$mm" = - ] || m=$(echo $(cat "$mm") | tr ' ' ',')
	x=-; [ "$xv" = - ] || x=$(echo $(cat "$xv") | tr ' ' ',')
	awk -v u="$(cut -d' ' -f1 /proc/uptime)" -v m="$m" -v x="$x" '
	FILENAME == "/proc/vmstat" { if ($1 == "pswpin" || $1 == "pswpout") v[$1] = $2; next }
	{ k = $1; sub(":", "", k) }
	k ~ /^(MemFree|MemAvailable|LowFree|HighFree)$/ { v[k] = $2 }
	k ~ /^(SwapTotal|SwapFree|SwapCached|Slab|PageTables)$/ { v[k] = $2 }
	END { printf "t=%s", u; for (k in v) printf " %s=%s", k, v[k]; printf " mm=%s xv=%s\n", m, x }
	' /proc/vmstat /proc/meminfo
}
sample > "$out"
( while :; do sleep "$iv"; sample; done ) >> "$out" &
s=$!
t0=$(cut -d' ' -f1 /proc/uptime)
"$@" > "$out.hog" 2> "$out.hogerr"
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
kill "$s" 2>/dev/null
wait "$s" 2>/dev/null
sample >> "$out"
echo "swaprun t0=$t0 t1=$t1 rc=$rc"
tail -n 1 "$out.hog"
"""


BIG_DEVICES = ("ramzswap", "zram")


@dataclass(frozen=True)
class DevicePlan:
    io_seconds: float            # each fio / corpusio run
    jobs: tuple[int, ...]
    hog_mib: int
    hog_passes: int
    sample_s: float = 0.25
    big_ram_mib: int = 0         # 0: no swap-larger-than-RAM section
    big_hog_factor: float = 1.5
    big_disk_factors: tuple[int, ...] = (2, 4)
    swap_rounds: int = 3         # swap runs per device, in alternating order


# ---- one device ----------------------------------------------------------------

class Device:
    """Set up / tear down one device of a kind, and read its stats."""

    def __init__(self, g: Guest, kind: str) -> None:
        self.g = g
        self.kind = kind
        self.loaded_xvmalloc = False
        self.path = {"ramzswap": "/dev/ramzswap0", "zram": "/dev/zram0",
                     "brd": "/dev/ram0"}[kind]
        sysfs = f"/sys/block/{self.path.rsplit('/', 1)[1]}"
        self.sysfs = sysfs
        self.mm_stat_path = f"{sysfs}/mm_stat" if kind != "brd" else None
        self.xv_stat_path = f"{sysfs}/xv_stat" if kind == "ramzswap" else None

    def setup(self, size_bytes: int, backing: str | None = None) -> None:
        """Load and initialise the device; *backing* (ramzswap, zram) becomes
        its backing_dev before disksize."""
        g = self.g
        if self.kind == "ramzswap":
            if g.run("grep -q '^xvmalloc ' /proc/modules", check=False).status != 0:
                g.run(f"insmod {g.modules_dir}/xvmalloc.ko")
                self.loaded_xvmalloc = True
            g.run(f"insmod {g.modules_dir}/ramzswap.ko num_devices=1")
        elif self.kind == "zram":
            g.run("modprobe zram && test -d /sys/block/zram0")
            g.run(f"echo 1 > {self.sysfs}/reset")
        else:
            kib = -(-size_bytes // 1024)
            g.run(f"modprobe brd rd_nr=1 rd_size={kib} max_part=0")
        if backing is not None:
            g.run(f"echo {backing} > {self.sysfs}/backing_dev")
        if self.kind != "brd":
            g.run(f"echo {COMPRESSOR} > {self.sysfs}/comp_algorithm && "
                  f"echo {size_bytes} > {self.sysfs}/disksize")
        g.run(f"for i in $(seq 50); do test -b {self.path} && break; sleep 0.1; done; "
              f"test -b {self.path}")

    def teardown(self) -> None:
        g = self.g
        g.run(f"swapoff {self.path} 2>/dev/null; true", timeout=900, check=False)
        if self.kind == "ramzswap":
            g.run(f"test -e {self.sysfs}/reset && echo 1 > {self.sysfs}/reset; "
                  "! grep -q '^ramzswap ' /proc/modules || rmmod ramzswap", check=False)
            if self.loaded_xvmalloc:
                g.run("grep -q '^xvbench ' /proc/modules || rmmod xvmalloc", check=False)
                self.loaded_xvmalloc = False
        elif self.kind == "zram":
            g.run(f"echo 1 > {self.sysfs}/reset", check=False)
        else:
            g.run("! grep -q '^brd ' /proc/modules || rmmod brd", check=False)

    def mm_stat(self) -> dict[str, int] | None:
        if self.mm_stat_path is None:
            return None
        return stats.parse_mm_stat(self.g.cat(self.mm_stat_path))

    def xv_stat(self) -> dict[str, int] | None:
        if self.xv_stat_path is None:
            return None
        return stats.parse_xv_stat(self.g.cat(self.xv_stat_path))


# ---- block I/O ---------------------------------------------------------------------

def uptime_cmd(cmd: str) -> str:
    """Shell that prints the seconds *cmd* took (from /proc/uptime) on its last line."""
    return (f"t0=$(cut -d' ' -f1 /proc/uptime); {cmd}; rc=$?; "
            f"t1=$(cut -d' ' -f1 /proc/uptime); echo \"elapsed $t0 $t1\"; exit $rc")


def elapsed(stdout: str) -> float:
    for line in reversed(stdout.splitlines()):
        if line.startswith("elapsed "):
            _, t0, t1 = line.split()
            return float(t1) - float(t0)
    raise ValueError(f"no elapsed line in {stdout!r}")


def fio_cmd(dev: str, size_bytes: int, rw: str, jobs: int, seconds: float) -> str:
    """fio command line of one raw-device run (4 KiB, O_DIRECT, psync, one slice
    per job, time based, JSON output)."""
    part_mib = size_bytes // jobs // MiB
    cmd = (f"fio --name=bench --thread --filename={dev} --direct=1 --ioengine=psync "
           f"--rw={rw} --bs=4k --numjobs={jobs} --size={part_mib}M "
           f"--offset_increment={part_mib}M --norandommap --randrepeat=1 "
           f"--runtime={seconds:g} --time_based --group_reporting --output-format=json")
    if "write" in rw:
        cmd += " --buffer_compress_percentage=50 --refill_buffers"
    return cmd


def parse_fio(text: str, rw: str, jobs: int, seconds: float) -> dict[str, Any]:
    """fio's JSON output (anything printed before its first '{' is skipped) ->
    one summary dict for the read or write direction of *rw*."""
    start = text.find("{")
    if start < 0:
        raise ValueError(f"no JSON in fio's output: {text[-300:]!r}")
    data = json.loads(text[start:])
    job = data["jobs"][0]
    if job.get("error"):
        raise ValueError(f"fio job error {job['error']}")
    d = job["write" if "write" in rw else "read"]
    clat = d.get("clat_ns", {})
    pct = clat.get("percentile", {})
    return {"tool": "fio", "rw": rw, "jobs": jobs, "bs": 4096, "seconds": seconds,
            "mib_s": d["bw_bytes"] / MiB, "iops": d["iops"], "ops": d["total_ios"],
            "clat_median_ns": pct.get("50.000000"), "clat_p99_ns": pct.get("99.000000"),
            "clat_mean_ns": clat.get("mean"), "fio_version": data.get("fio version")}


def fio_run(g: Guest, dev: str, size_bytes: int, rw: str, jobs: int,
            seconds: float) -> dict[str, Any]:
    """One fio run on the raw device; its summary."""
    g.run(f"{fio_cmd(dev, size_bytes, rw, jobs, seconds)} > {BENCH_DIR}/fio.json",
          timeout=seconds * 4 + 300)
    return parse_fio(g.cat(f"{BENCH_DIR}/fio.json"), rw, jobs, seconds)


def corpus_io(g: Guest, tool: str, dev: str, corpus_path: str, rw: str, pattern: str,
              jobs: int, seconds: float) -> dict[str, Any]:
    out = g.run(f"{tool} io {dev} {corpus_path} {rw} {pattern} {jobs} {seconds:g}",
                timeout=seconds * 4 + 300).stdout
    res: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    res["tool"] = "corpusio"
    res["rw"] = ("" if pattern == "seq" else "rand") + rw
    return res


def fio_works(g: Guest) -> str | None:
    """None if fio runs in this guest, else why not (fio needs SysV shared memory,
    CONFIG_SYSVIPC, even with --thread)."""
    r = g.run("fio --name=probe --thread --filename=/dev/zero --size=4k --rw=read "
              "--output-format=terse", check=False, timeout=120)
    return None if r.status == 0 else (r.stderr.strip() or r.stdout.strip())[-300:]


def fio_rows(g: Guest, dev: str, size_bytes: int, plan: DevicePlan,
             fio_problem: str | None) -> list[dict[str, Any]]:
    """fio's rows: reads of what the device holds first, then its writes."""
    if fio_problem is not None:
        return []
    return [fio_run(g, dev, size_bytes, rw, j, plan.io_seconds)
            for rw in ("read", "randread", "write", "randwrite") for j in plan.jobs]


def block_run(g: Guest, kind: str, plan: DevicePlan, tool: str, corpus_path: str,
              corpus_bytes: int, fio_problem: str | None) -> dict[str, Any]:
    d = Device(g, kind)
    g.run("sync; echo 3 > /proc/sys/vm/drop_caches", timeout=300)
    before = g.meminfo()
    d.setup(corpus_bytes)
    try:
        out = g.run(uptime_cmd(f"dd if={corpus_path} of={d.path} bs=1M iflag=direct "
                                f"oflag=direct status=none"), timeout=1800).stdout
        secs = elapsed(out)
        after = g.meminfo()
        prefill = {
            "seconds": secs, "mib_s": corpus_bytes / MiB / secs if secs > 0 else None,
            "bytes": corpus_bytes, "mm_stat": d.mm_stat(), "xv_stat": d.xv_stat(),
            "memfree_drop_kib": before["MemFree"] - after["MemFree"],
            "lowfree_drop_kib": before["LowFree"] - after["LowFree"],
        }
        rd = [corpus_io(g, tool, d.path, corpus_path, "read", p, j, plan.io_seconds)
              for p in ("seq", "rand") for j in plan.jobs]
        wr = [corpus_io(g, tool, d.path, corpus_path, "write", p, j, plan.io_seconds)
              for p in ("seq", "rand") for j in plan.jobs]
        after_writes = {"mm_stat": d.mm_stat(), "xv_stat": d.xv_stat()}
        fio = fio_rows(g, d.path, corpus_bytes, plan, fio_problem)
    finally:
        d.teardown()
    return {"prefill": prefill, "reads": rd, "writes": wr, "after_writes": after_writes,
            "fio": fio}


# ---- swap ------------------------------------------------------------------------------

def parse_samples(text: str) -> list[dict[str, Any]]:
    """Sampler lines "t=.. key=value .. mm=a,b,.. xv=.." -> dicts (mm/xv: int lists or None)."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.startswith("t="):
            continue
        s: dict[str, Any] = {}
        for item in line.split():
            k, _, v = item.partition("=")
            if k in ("mm", "xv"):
                s[k] = None if v in ("-", "") else [int(x) for x in v.split(",") if x]
            elif k == "t":
                s[k] = float(v)
            else:
                s[k] = int(v)
        out.append(s)
    return out


def swap_metrics(samples: list[dict[str, Any]], hog: dict[str, Any], t0: float,
                 t1: float, kind: str) -> dict[str, Any]:
    """The swap figures from the sampler's lines and the hog's JSON (pure)."""
    if len(samples) < 2:
        raise ValueError("fewer than two samples")
    base, last = samples[0], samples[-1]
    out_b = (last["pswpout"] - base["pswpout"]) * 4096
    in_b = (last["pswpin"] - base["pswpin"]) * 4096
    wall = t1 - t0
    pageout_s = max(wall - float(hog["write_seconds"]) - float(hog["verify_seconds"]), 1e-3)
    verify_s = max(float(hog["verify_seconds"]), 1e-3)
    peak = max(samples, key=lambda s: s["SwapTotal"] - s["SwapFree"])
    stored_kib = peak["SwapTotal"] - peak["SwapFree"]
    mem_used = None
    orig = stored_kib * 1024
    if peak.get("mm"):
        mem_used = peak["mm"][2]
        orig = peak["mm"][0] or orig   # what the device holds: orig_data_size
    elif kind == "brd":
        mem_used = orig  # one page per page stored
    low_drop = base["LowFree"] - peak["LowFree"]
    gib = stored_kib / (1 << 20)
    pool_low = None
    if peak.get("xv"):
        pool_low = peak["xv"][3] - peak["xv"][4]
    return {
        "wall_seconds": wall, "pageout_seconds": pageout_s, "verify_seconds": verify_s,
        "pswpout_mib": out_b / MiB, "pswpin_mib": in_b / MiB,
        "out_mib_s": out_b / MiB / pageout_s, "in_mib_s": in_b / MiB / verify_s,
        "peak": {
            "t": peak["t"] - base["t"], "stored_kib": stored_kib,
            "mem_used_bytes": mem_used,
            "orig_data_bytes": orig,
            "mem_used_per_gib_stored": (mem_used / orig
                                        if mem_used is not None and orig else None),
            "mem_used_source": "mm_stat" if peak.get("mm") else "stored (brd, uncompressed)",
            "lowfree_drop_kib": low_drop,
            "lowfree_drop_per_gib_stored": low_drop / (gib * (1 << 20)) if gib else None,
            "memfree_drop_kib": base["MemFree"] - peak["MemFree"],
            "pool_lowmem_pages": pool_low,
        },
        "samples": len(samples),
    }


def _sampled_hog(g: Guest, d: Device, hog_cmd: str,
                 sample_s: float) -> tuple[dict[str, Any], list[dict[str, Any]], float, float]:
    """Run *hog_cmd* under the sampler; (hog JSON, samples, t0, t1).  Raises if
    the hog failed or found a mismatch."""
    res = g.run(f"sh {SWAPRUN} {d.mm_stat_path or '-'} {d.xv_stat_path or '-'} "
                f"{SAMPLES} {sample_s:g} {hog_cmd}", timeout=3600)
    lines = res.stdout.strip().splitlines()
    head = next(ln for ln in lines if ln.startswith("swaprun "))
    meta = dict(item.split("=", 1) for item in head.split()[1:])
    if not lines[-1].startswith("{"):
        oom = g.run("dmesg | grep -E 'Out of memory|oom-kill' | tail -n 2", check=False).stdout
        raise AssertionError(f"hog through {d.kind} died without a result (rc {meta['rc']}): "
                             f"{g.run(f'cat {SAMPLES}.hogerr', check=False).stdout.strip()}"
                             f"\n{oom.strip() or 'no OOM kill in the kernel log'}")
    hog: dict[str, Any] = json.loads(lines[-1])
    if int(meta["rc"]) != 0 or hog.get("mismatches"):
        raise AssertionError(f"hog through {d.kind} failed (rc {meta['rc']}): "
                             f"{lines[-1]}\n{g.run(f'cat {SAMPLES}.hogerr').stdout}")
    samples = parse_samples(g.cat(SAMPLES))
    return hog, samples, float(meta["t0"]), float(meta["t1"])


def swap_order(kinds: tuple[str, ...], rounds: int) -> list[tuple[int, str]]:
    """(round, device) in run order: every device once per round, the order
    reversed every other round."""
    return [(r, k) for r in range(rounds) for k in (kinds if r % 2 == 0 else kinds[::-1])]


SWAP_RATES = ("out_mib_s", "in_mib_s", "pageout_seconds", "verify_seconds")


def swap_rounds_merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One device's swap figures over its rounds (pure): the first round's,
    with the rates and times replaced by their medians over all rounds."""
    if not runs:
        raise ValueError("no swap rounds")
    out = {**runs[0], "rounds": [{k: r[k] for k in SWAP_RATES} for r in runs]}
    for k in SWAP_RATES:
        out[k] = statistics.median(float(r[k]) for r in runs)
    return out


def swap_run(g: Guest, kind: str, plan: DevicePlan) -> dict[str, Any]:
    d = Device(g, kind)
    g.run("swapoff -a", timeout=900)
    g.run("sync; echo 3 > /proc/sys/vm/drop_caches", timeout=300)
    d.setup((plan.hog_mib + 64) * MiB if kind == "brd" else 2 * plan.hog_mib * MiB + 64 * MiB)
    try:
        g.run(f"mkswap {d.path} >/dev/null && swapon {d.path}")
        hog_cmd = (f"{g.hog} --mib {plan.hog_mib} --kind mixed --seed 11 "
                   f"--passes {plan.hog_passes} --pageout --json --quiet")
        hog, samples, t0, t1 = _sampled_hog(g, d, hog_cmd, plan.sample_s)
        metrics = swap_metrics(samples, hog, t0, t1, kind)
        final = {"mm_stat": d.mm_stat(), "xv_stat": d.xv_stat()}
        g.run(f"swapoff {d.path}", timeout=900)
    finally:
        d.teardown()
    return {"hog": hog, **metrics, "final": final}


def _at(samples: list[dict[str, Any]], t: float) -> dict[str, Any]:
    """The last sample taken at or before uptime *t* (the first if none)."""
    before = [s for s in samples if s["t"] <= t]
    return before[-1] if before else samples[0]


def big_metrics(samples: list[dict[str, Any]], hog: dict[str, Any], t0: float,
                t1: float) -> dict[str, Any]:
    """Figures of a swap-larger-than-RAM run (pure): MiB/s of the write phase
    (swap-out) and of the read-back (swap-in), and the peaks of mm_stat."""
    if len(samples) < 2:
        raise ValueError("fewer than two samples")
    base, last = samples[0], samples[-1]
    write_s = max(float(hog["write_seconds"]), 1e-3)
    verify_s = max(float(hog["verify_seconds"]), 1e-3)
    written = _at(samples, t0 + write_s)
    out_b = (written["pswpout"] - base["pswpout"]) * 4096
    in_b = (last["pswpin"] - base["pswpin"]) * 4096
    mm = [s["mm"] for s in samples if s.get("mm")]
    peak_orig = max((m[0] for m in mm), default=None)
    peak_used = max((m[2] for m in mm), default=None)
    orig_at_write_end = written["mm"][0] if written.get("mm") else None
    return {
        "wall_seconds": t1 - t0, "write_seconds": write_s, "verify_seconds": verify_s,
        "pswpout_mib": (last["pswpout"] - base["pswpout"]) * 4096 / MiB,
        "pswpin_mib": in_b / MiB,
        "out_mib_s": out_b / MiB / write_s, "in_mib_s": in_b / MiB / verify_s,
        "peak_orig_data_bytes": peak_orig, "peak_mem_used_bytes": peak_used,
        "orig_data_bytes_at_write_end": orig_at_write_end,
        "peak_swap_used_kib": max(s["SwapTotal"] - s["SwapFree"] for s in samples),
        "samples": len(samples),
    }


def big_swap_run(g: Guest, kind: str, plan: DevicePlan, disk_factor: int) -> dict[str, Any]:
    """The hog of big_hog_factor x RAM through a device of disk_factor x RAM."""
    ram = plan.big_ram_mib
    hog_mib = int(plan.big_hog_factor * ram)
    d = Device(g, kind)
    g.run("swapoff -a", timeout=900)
    d.setup(disk_factor * ram * MiB)
    try:
        g.run(f"mkswap {d.path} >/dev/null && swapon {d.path}")
        g.run("sync; echo 3 > /proc/sys/vm/drop_caches", timeout=300)
        balloon = swap.inflate_balloon(g, ram)
        avail = g.meminfo()["MemAvailable"] // 1024
        hog_cmd = (f"{g.hog} --mib {hog_mib} --kind mixed --seed 13 --passes 1 "
                   f"--json --quiet")
        hog, samples, t0, t1 = _sampled_hog(g, d, hog_cmd, plan.sample_s)
        metrics = big_metrics(samples, hog, t0, t1)
        g.run(f"swapoff {d.path}", timeout=900)
    finally:
        swap.deflate_balloon(g)
        d.teardown()
    return {"kind": kind, "disk_factor": disk_factor, "ram_mib": ram, "hog_mib": hog_mib,
            "balloon_mib": balloon, "mem_available_mib": avail, "hog": hog, **metrics}


def big_swap(g: Guest, plan: DevicePlan) -> list[dict[str, Any]]:
    """Every disk factor, ramzswap and zram in turn at each."""
    out = []
    for f in plan.big_disk_factors:
        for kind in BIG_DEVICES:
            say(f"bench device {kind}: swap larger than RAM, hog "
                f"{int(plan.big_hog_factor * plan.big_ram_mib)} MiB, RAM "
                f"{plan.big_ram_mib} MiB, disksize {f}x RAM")
            out.append(big_swap_run(g, kind, plan, f))
    return out


def run(g: Guest, plan: DevicePlan, tool: str, corpus_path: str,
        corpus_bytes: int) -> dict[str, Any]:
    """Every device: block I/O with the corpus, then swap with the hog."""
    avail = g.meminfo()["MemAvailable"] * 1024
    if plan.hog_mib * MiB > 0.6 * avail:
        raise ValueError(f"hog of {plan.hog_mib} MiB does not leave room for brd's copy "
                         f"(MemAvailable {avail // MiB} MiB)")
    g.run(f"mkdir -p {BENCH_DIR}")
    with tempfile.TemporaryDirectory() as td:
        script = Path(td) / "swaprun.sh"
        script.write_text(SWAPRUN_SH)
        g.put(script, SWAPRUN, mode=0o755)
    fio_problem = fio_works(g)
    if fio_problem:
        say(f"bench device: fio does not run in this guest ({fio_problem.splitlines()[-1]}); "
            "no fio rows")
    out: dict[str, Any] = {"plan": asdict(plan), "compressor": COMPRESSOR,
                           "fio_problem": fio_problem, "devices": {}}
    for kind in DEVICES:
        say(f"bench device {kind}: corpus I/O ({corpus_bytes // MiB} MiB)")
        out["devices"][kind] = block_run(g, kind, plan, tool, corpus_path, corpus_bytes,
                                         fio_problem)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DEVICES}
    for r, kind in swap_order(DEVICES, plan.swap_rounds):
        say(f"bench device {kind}: swap round {r + 1}/{plan.swap_rounds}, "
            f"hog of {plan.hog_mib} MiB x {plan.hog_passes}")
        runs[kind].append(swap_run(g, kind, plan))
    for kind in DEVICES:
        out["devices"][kind]["swap"] = swap_rounds_merge(runs[kind])
    out["big_swap"] = big_swap(g, plan) if plan.big_ram_mib else []
    return out
