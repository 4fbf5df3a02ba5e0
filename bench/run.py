"""`invoke bench`: one perf guest, every contender, one report.

Plans: QUICK (a few minutes under QEMU TCG; every field of the full run, smaller)
and FULL (about 20-30 minutes under TCG)."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import alloc, corpus, device, guestprog, hostload, mixes, report, writeback
from vm import klog, paths
from vm.guest import Guest
from vm.step import say, stage

MiB_KIB = 1024


@dataclass(frozen=True)
class Plan:
    name: str
    corpus_mib: int
    alloc: alloc.AllocPlan
    device: device.DevicePlan
    mixes: mixes.MixPlan
    writeback: writeback.WritebackPlan


QUICK = Plan(
    name="quick",
    corpus_mib=48,
    alloc=alloc.AllocPlan(kib=16 * MiB_KIB, churn=2, dists=alloc.DISTS, maps=(False, True),
                          ladder_kib=(16 * MiB_KIB, 64 * MiB_KIB, 256 * MiB_KIB),
                          ladder_churn=2, repeat=2, thin=75),
    device=device.DevicePlan(io_seconds=4, jobs=(1, 2), hog_mib=128, hog_passes=1,
                             big_ram_mib=192, big_disk_factors=(2, 4)),
    mixes=mixes.MixPlan(mib=96),
    writeback=writeback.WritebackPlan(mib=32),
)

# About 32 minutes on this 2-core host under load 5-7 with the ladder run twice
# (results/20261125-083930-full); with ladder_repeat=1, about 6 minutes less.
FULL = Plan(
    name="full",
    corpus_mib=256,
    alloc=alloc.AllocPlan(kib=64 * MiB_KIB, churn=10, dists=alloc.DISTS, maps=(False, True),
                          ladder_kib=(16 * MiB_KIB, 64 * MiB_KIB, 256 * MiB_KIB,
                                      1024 * MiB_KIB),
                          ladder_churn=10, repeat=2, ladder_repeat=1, thin=75),
    device=device.DevicePlan(io_seconds=10, jobs=(1, 2), hog_mib=512, hog_passes=2,
                             big_ram_mib=512, big_disk_factors=(2, 4)),
    mixes=mixes.MixPlan(mib=384),
    writeback=writeback.WritebackPlan(mib=128),
)
# No 1x: a hog of 1.5x RAM cannot fit in RAM plus a device of RAM's size, since
# the compressed pages take RAM too (768 MiB over 512 MiB and a 512 MiB device:
# the OOM killer took the hog, 2026-12-03).

# The test's plan: the quick plan's shape, smaller still (the debug kernel is slow).
SMOKE = replace(
    QUICK, name="smoke", corpus_mib=16,
    alloc=replace(QUICK.alloc, kib=4 * MiB_KIB, churn=1,
                  ladder_kib=(4 * MiB_KIB, 16 * MiB_KIB), ladder_churn=1, repeat=1),
    # no swap-larger-than-RAM section (7 minutes on the debug kernel under
    # TCG); `invoke bench --quick` runs it
    device=replace(QUICK.device, io_seconds=2, hog_mib=48, big_ram_mib=0,
                   big_disk_factors=(), swap_rounds=1),
    mixes=mixes.MixPlan(mib=16),
    writeback=writeback.WritebackPlan(mib=8))


def guest_facts(g: Guest) -> dict[str, Any]:
    def cat(path: str) -> str:
        return g.run(f"cat {path} 2>/dev/null || true").stdout.strip()
    return {
        "flavour": g.flavour, "release": g.release, "accel": g.machine.accel,
        "cpus": int(g.run("nproc").stdout.strip()),
        "clocksource": cat("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "meminfo_kib": g.meminfo(),
        "fio": g.run("fio --version", check=False).stdout.strip(),
    }


def run_in_guest(g: Guest, plan: Plan) -> dict[str, Any]:
    """Everything in one booted guest; returns the results document (report.SCHEMA)."""
    t0 = time.monotonic()
    mark = g.klog_mark()
    res: dict[str, Any] = {
        "schema": report.SCHEMA_VERSION, "plan": plan.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "plan_detail": asdict(plan),
        "host": {"machine": platform.machine(), "python": platform.python_version(),
                 "kernel": platform.release(), "cpus": os.cpu_count(),
                 "load_at_start": hostload.loadavg()},
        "guest": guest_facts(g),
    }
    tool = guestprog.install(g)
    try:
        with stage(f"bench: corpus of {plan.corpus_mib} MiB"):
            res["corpus"] = corpus.build(g, tool, plan.corpus_mib)
        with stage("bench: allocators (xvbench.ko)"):
            res["allocator"] = alloc.run(g, plan.alloc, corpus.CORPUS_PATH)
        with stage("bench: devices (ramzswap, zram, brd)"):
            res["device"] = device.run(g, plan.device, tool, corpus.CORPUS_PATH,
                                       plan.corpus_mib << 20)
        with stage("bench: swap mixes (ramzswap, zram)"):
            res["mixes"] = mixes.run(g, plan.mixes)
        with stage("bench: writeback (ramzswap, zram)"):
            res["writeback"] = writeback.run(g, plan.writeback, corpus.CORPUS_PATH)
    finally:
        corpus.remove(g)
    log = g.klog_since(mark)
    problems = klog.find_problems(log)
    res["kernel_log"] = {"problems": [f"[{p.kind}] {p.line}" for p in problems]}
    res["host"]["load_at_end"] = hostload.loadavg()
    res["seconds"] = time.monotonic() - t0
    return res


def run(quick: bool = False, out_root: Path = paths.RESULTS,
        kernel: str = paths.DEFAULT_KERNEL) -> Path:
    """Build (cached) and boot the perf kernel of series *kernel*, run the plan,
    write the report.  Returns the results directory."""
    from vm import guest, pipeline

    plan = QUICK if quick else FULL
    built = pipeline.build(("perf",), series=kernel)["perf"]
    if "xvbench" not in built.modules.kos:
        raise RuntimeError("xvbench.ko was not built: is `obj-m += bench/` in kernel/Kbuild?")
    load_start = hostload.loadavg()
    say(f"bench: host load {load_start[0]:.2f} before the guest boots")
    g = guest.boot(built.kernel, built.image, built.modules.kos, built.programs, tag="bench")
    pid = g.machine.proc.pid if g.machine.proc is not None else None
    try:
        cpu0 = hostload.CpuSnapshot.take(pid)
        res = run_in_guest(g, plan)
        use = hostload.usage(cpu0, hostload.CpuSnapshot.take(pid))
        res["guest"]["console_log"] = str(g.console_log)
    finally:
        g.stop()
    h = res["host"]
    h["load_before_boot"] = load_start
    h["cpu_use"] = use
    h["valid_for_speed"], h["validity"] = hostload.verdict(
        max(load_start[0], h["load_at_start"][0]), h["load_at_end"][0], use["guest_cpus"])
    out = report.write(res, out_root)
    say(f"bench: {plan.name} run done in {res['seconds']:.0f}s; report in {out}")
    if not h["valid_for_speed"]:
        say(f"bench: NOT valid for speed ratios ({h['validity']}); "
            f"results/{report.latest_name(plan.name)} left as it was")
    if res["kernel_log"]["problems"]:
        say("bench: the guest kernel log reported problems: "
            + "; ".join(res["kernel_log"]["problems"][:5]))
    return out
