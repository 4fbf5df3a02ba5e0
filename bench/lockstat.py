"""Lock contention of ramzswap's I/O path, from lockdep's /proc/lock_stat.

Needs a kernel with CONFIG_LOCK_STAT (the debug flavour).  One boot; for each
variant of the modules (e.g. "before" built from an older commit and "after"
from the work tree) the same two workloads run with lock statistics cleared
before and switched off after:

    write  ``corpusio io /dev/ramzswap0 CORPUS write rand 2 SECONDS``: two jobs of
           4 KiB O_DIRECT random writes of corpus pages (as in bench/device.py)
    swap   two page-integrity hogs at once (``--pageout``), the device the only
           swap: swap-out and swap-in from both vCPUs

The rows kept are the lock classes of the device, its streams and its pool
(names matching CLASS_RE) and the most contended classes overall.  Lockdep's
own bookkeeping slows every lock operation: compare variants with each other,
never with a kernel without lockdep.

Run: ``python -m bench.lockstat --before DIR`` (DIR: a kernel/ tree of an older
commit, built against the debug kernel with ``make M=DIR``); writes
results/lockstat-<time>.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import corpus, guestprog
from vm import klog, paths
from vm.guest import Guest
from vm.step import say

FIELDS = ("con_bounces", "contentions", "waittime_min", "waittime_max", "waittime_total",
          "waittime_avg", "acq_bounces", "acquisitions", "holdtime_min", "holdtime_max",
          "holdtime_total", "holdtime_avg")
# "<class name>: <12 numbers>"; times are in microseconds
ROW_RE = re.compile(r"^\s*(\S.*?):\s+((?:[\d.]+\s+){11}[\d.]+)\s*$")
CLASS_RE = re.compile(r"rzs|ramzswap|strm|comp|write_lock|xv|pool|swap")
DEV = "/dev/ramzswap0"
SYSFS = "/sys/block/ramzswap0"


@dataclass(frozen=True)
class LockRow:
    name: str
    con_bounces: int
    contentions: int
    waittime_min: float
    waittime_max: float
    waittime_total: float
    waittime_avg: float
    acq_bounces: int
    acquisitions: int
    holdtime_min: float
    holdtime_max: float
    holdtime_total: float
    holdtime_avg: float


def parse(text: str) -> list[LockRow]:
    """/proc/lock_stat -> one row per lock class (the class lines only, not the
    contention-point lines under them)."""
    rows = []
    for line in text.splitlines():
        m = ROW_RE.match(line)
        if not m:
            continue
        vals = m.group(2).split()
        kw: dict[str, Any] = {}
        for f, v in zip(FIELDS, vals, strict=True):
            kw[f] = float(v) if "time" in f else int(float(v))
        rows.append(LockRow(m.group(1).strip(), **kw))
    return rows


def select(rows: list[LockRow], top: int = 5) -> list[LockRow]:
    """Our classes (CLASS_RE) plus the *top* most contended of all."""
    ours = [r for r in rows if CLASS_RE.search(r.name)]
    busiest = sorted(rows, key=lambda r: r.contentions, reverse=True)[:top]
    out = {r.name: r for r in ours + [r for r in busiest if r.contentions]}
    return sorted(out.values(), key=lambda r: (-r.contentions, -r.acquisitions))


def _measure(g: Guest, what: str, cmd: str, timeout: float) -> dict[str, Any]:
    g.run("echo 0 > /proc/lock_stat && echo 1 > /proc/sys/kernel/lock_stat")
    t0 = time.monotonic()
    try:
        r = g.run(cmd, timeout=timeout, check=False)
    finally:
        g.run("echo 0 > /proc/sys/kernel/lock_stat")
    secs = time.monotonic() - t0
    if r.status != 0:
        raise RuntimeError(f"lockstat {what}: {r.describe()}")
    rows = parse(g.cat("/proc/lock_stat", timeout=300))
    if not rows:
        raise RuntimeError("lockstat: /proc/lock_stat has no rows (CONFIG_LOCK_STAT?)")
    return {"seconds": secs, "output": r.stdout.strip().splitlines()[-3:],
            "rows": [asdict(x) for x in select(rows)]}


def run_variant(g: Guest, name: str, kos: dict[str, str], tool: str,
                write_seconds: float, hog_mib: int) -> dict[str, Any]:
    """Load *kos* (remote paths of xvmalloc.ko and ramzswap.ko), measure, unload."""
    g.run(f"insmod {kos['xvmalloc']} && insmod {kos['ramzswap']} && "
          f"echo lzo-rle > {SYSFS}/comp_algorithm && echo 512M > {SYSFS}/disksize")
    out: dict[str, Any] = {"variant": name}
    try:
        say(f"lockstat {name}: 2-job 4 KiB random write, {write_seconds:g}s")
        out["write"] = _measure(g, "write", f"{tool} io {DEV} {corpus.CORPUS_PATH} write rand "
                                f"2 {write_seconds:g}", write_seconds * 6 + 300)
        g.run(f"echo 1 > {SYSFS}/reset && echo 512M > {SYSFS}/disksize && "
              f"mkswap {DEV} >/dev/null && swapon {DEV}")
        say(f"lockstat {name}: two swap hogs of {hog_mib} MiB")
        hogs = " ".join(f"{g.hog} --mib {hog_mib} --kind mixed --seed {s} --pageout "
                        f"--passes 2 --json --quiet > /root/bench/hog{s}.json & p{s}=$!;"
                        for s in (1, 2))
        out["swap"] = _measure(g, "swap", f"{hogs} wait $p1 && wait $p2 && "
                               "cat /root/bench/hog1.json /root/bench/hog2.json", 3600)
        for line in out["swap"]["output"][-2:]:
            if json.loads(line).get("mismatches"):
                raise RuntimeError(f"lockstat {name}: the hog found mismatches: {line}")
    finally:
        g.run(f"swapoff {DEV} 2>/dev/null; echo 1 > {SYSFS}/reset; rmmod ramzswap; "
              "rmmod xvmalloc", timeout=900, check=False)
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [f"# lock_stat: ramzswap I/O path ({res['started']})", "",
             f"Debug kernel (lockdep, LOCK_STAT), {res['cpus']} vCPUs, TCG; host load "
             f"{res['load_at_start'][0]:.2f} at start, {res['load_at_end'][0]:.2f} at end. "
             "Times in microseconds.", ""]
    for v in res["variants"]:
        for wl in ("write", "swap"):
            m = v[wl]
            lines += [f"## {v['variant']}: {wl} ({m['seconds']:.0f} s)", "",
                      "| class | contentions | wait total us | wait max us | acquisitions "
                      "| hold total us |", "|---|---:|---:|---:|---:|---:|"]
            lines += [f"| `{r['name']}` | {r['contentions']} | {r['waittime_total']:.0f} | "
                      f"{r['waittime_max']:.0f} | {r['acquisitions']} | "
                      f"{r['holdtime_total']:.0f} |" for r in m["rows"]]
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from vm import guest, pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, help="kernel/ tree of an older commit, built")
    ap.add_argument("--write-seconds", type=float, default=20)
    ap.add_argument("--hog-mib", type=int, default=64)
    args = ap.parse_args(argv)

    built = pipeline.build(("debug",))["debug"]
    g = guest.boot(built.kernel, built.image, built.modules.kos, built.programs,
                   tag="lockstat")
    res: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "load_at_start": list(os.getloadavg()),
                           "variants": []}
    try:
        res["cpus"] = int(g.run("nproc").stdout.strip())
        mark = g.klog_mark()
        tool = guestprog.install(g)
        corpus.build(g, tool, 64)
        variants: dict[str, dict[str, str]] = {}
        if args.before:
            g.run("mkdir -p /root/before")
            for m in ("xvmalloc", "ramzswap"):
                ko = next(args.before.rglob(f"{m}.ko"))
                g.put(ko, f"/root/before/{m}.ko")
            variants["before"] = {m: f"/root/before/{m}.ko" for m in ("xvmalloc", "ramzswap")}
        variants["after"] = {m: f"{g.modules_dir}/{m}.ko" for m in ("xvmalloc", "ramzswap")}
        for name, kos in variants.items():
            res["variants"].append(run_variant(g, name, kos, tool, args.write_seconds,
                                               args.hog_mib))
        res["kernel_log_problems"] = [f"[{p.kind}] {p.line}"
                                      for p in klog.find_problems(g.klog_since(mark))]
    finally:
        g.stop()
    res["load_at_end"] = list(os.getloadavg())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = paths.ensure(paths.RESULTS) / f"lockstat-{stamp}"
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res)
    out.with_suffix(".md").write_text(md + "\n")
    print(md)
    if res["kernel_log_problems"]:
        print("kernel log problems:", *res["kernel_log_problems"][:5], sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
