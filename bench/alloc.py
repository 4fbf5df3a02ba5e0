"""Allocator runs: xvmalloc vs zsmalloc vs kmalloc vs kmem_caches through
kernel/bench/xvbench.ko (see the comment at the top of xvbench.c)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from vm.guest import Guest
from vm.step import say

DEBUGFS = "/sys/kernel/debug"
XVBENCH = f"{DEBUGFS}/xvbench"
ALLOCATORS = ("xvmalloc", "zsmalloc", "kmalloc", "kmem_cache")
SLAB_ALLOCATORS = ("kmalloc", "kmem_cache")  # lowmem only on i386
DISTS = ("corpus-lzo-rle", "corpus-lz4", "uniform", "n1400", "n2400")
LADDER_DIST = "corpus-lzo-rle"
MiB = 1024


@dataclass(frozen=True)
class AllocPlan:
    kib: int                      # bytes requested per run of the matrix, KiB
    churn: int                    # churn rounds (x objects) in the matrix
    dists: tuple[str, ...]
    maps: tuple[bool, ...]        # without / with the map + copy a caller needs
    ladder_kib: tuple[int, ...]   # pool sizes for the O(1) check (capped to what fits)
    ladder_churn: int
    repeat: int = 1               # rounds of the matrix; the report keeps the fastest
    ladder_repeat: int = 1        # rounds of the ladder (its 1 GiB points are the slow ones)
    seed: int = 1
    thin: int = 0                 # compaction runs: % of objects freed before compacting


def caps(meminfo: dict[str, int], ladder_kib: tuple[int, ...]) -> dict[str, Any]:
    """Largest ladder sizes that fit: slab allocators live in lowmem (about 860 MiB
    on this i386 guest, shared with everything else), xvmalloc and zsmalloc can use
    all of memory.  A size fits if 1.5x of it (allocator overhead plus slack) stays
    128 MiB (slab: LowFree) or 256 MiB (pools: MemAvailable) short of the free memory."""
    low = meminfo["LowFree"] - 128 * MiB
    avail = meminfo["MemAvailable"] - 256 * MiB
    slab = [k for k in ladder_kib if k * 3 // 2 <= low]
    pool = [k for k in ladder_kib if k * 3 // 2 <= avail]
    return {
        "slab_max_kib": max(slab, default=min(ladder_kib)),
        "pool_max_kib": max(pool, default=min(ladder_kib)),
        "LowFree_kib": meminfo["LowFree"],
        "MemAvailable_kib": meminfo["MemAvailable"],
        "rule": "a pool size fits if 1.5x it <= LowFree - 128 MiB (kmalloc, kmem_cache) "
                "or MemAvailable - 256 MiB (xvmalloc, zsmalloc)",
    }


COMPACTING = ("xvmalloc", "zsmalloc")


def command(alloc: str, dist: str, kib: int, churn: int, map_: bool, seed: int,
            thin: int = 0) -> str:
    cmd = f"alloc={alloc} dist={dist} kib={kib} churn={churn} map={int(map_)} seed={seed}"
    return cmd + (f" thin={thin}" if thin else "")


class XvBench:
    """xvbench.ko loaded in a guest (and xvmalloc.ko under it)."""

    def __init__(self, g: Guest) -> None:
        self.g = g
        self.loaded_xvmalloc = False

    def load(self) -> None:
        g = self.g
        g.run(f"mkdir -p /root/bench; mountpoint -q {DEBUGFS} || "
              f"mount -t debugfs none {DEBUGFS}")
        if g.run("grep -q '^xvmalloc ' /proc/modules", check=False).status != 0:
            g.run(f"insmod {g.modules_dir}/xvmalloc.ko")
            self.loaded_xvmalloc = True
        g.run(f"grep -q '^xvbench ' /proc/modules || insmod {g.modules_dir}/xvbench.ko")
        g.run(f"echo 1 > {XVBENCH}/reset")

    def unload(self) -> None:
        g = self.g
        g.run("! grep -q '^xvbench ' /proc/modules || rmmod xvbench", check=False)
        if self.loaded_xvmalloc:
            g.run("grep -q '^ramzswap ' /proc/modules || rmmod xvmalloc", check=False)

    def feed(self, corpus_path: str, timeout: float = 1800.0) -> None:
        self.g.run(f"dd if={corpus_path} of={XVBENCH}/corpus bs=64k status=none",
                   timeout=timeout)

    def run(self, cmd: str, timeout: float = 1800.0) -> None:
        self.g.run(f"echo '{cmd}' > {XVBENCH}/run", timeout=timeout)

    def results(self) -> dict[str, Any]:
        text = self.g.cat(f"{XVBENCH}/results")
        out: dict[str, Any] = json.loads(text)
        return out


def matrix(plan: AllocPlan, cap: dict[str, Any]) -> list[str]:
    """Every run command, in order: plan.repeat rounds of the matrix at plan.kib, then
    plan.ladder_repeat rounds of the pool-size ladder.  Allocators take turns within
    each cell, so a slow spell of the host (other guests share its CPUs) hits them
    alike."""
    return (_cells(plan) * plan.repeat + _ladder(plan, cap) * plan.ladder_repeat
            + _compaction(plan))


def _compaction(plan: AllocPlan) -> list[str]:
    """With plan.thin: the pool allocators at the matrix's size and churn, then
    plan.thin % of the objects freed at random and the pool compacted."""
    if not plan.thin:
        return []
    return [command(a, LADDER_DIST, plan.kib, plan.churn, False, plan.seed, plan.thin)
            for a in COMPACTING]


def _cells(plan: AllocPlan) -> list[str]:
    cmds: list[str] = []
    for dist in plan.dists:
        for map_ in plan.maps:
            for alloc in ALLOCATORS:
                cmds.append(command(alloc, dist, plan.kib, plan.churn, map_, plan.seed))
    return cmds


def _ladder(plan: AllocPlan, cap: dict[str, Any]) -> list[str]:
    cmds: list[str] = []
    in_matrix = (LADDER_DIST in plan.dists and False in plan.maps
                 and plan.churn == plan.ladder_churn)
    for alloc in ALLOCATORS:
        top = cap["slab_max_kib"] if alloc in SLAB_ALLOCATORS else cap["pool_max_kib"]
        for kib in plan.ladder_kib:
            if kib <= top and not (in_matrix and kib == plan.kib):
                cmds.append(command(alloc, LADDER_DIST, kib, plan.ladder_churn, False,
                                    plan.seed))
    return cmds


def run(g: Guest, plan: AllocPlan, corpus_path: str) -> dict[str, Any]:
    """Load xvbench, feed it the corpus, run the matrix and the ladder; unload."""
    cap = caps(g.meminfo(), plan.ladder_kib)
    xb = XvBench(g)
    xb.load()
    try:
        say(f"bench alloc: compressing the corpus in xvbench ({corpus_path})")
        xb.feed(corpus_path)
        cmds = matrix(plan, cap)
        loads = []
        for i, cmd in enumerate(cmds, 1):
            say(f"bench alloc [{i}/{len(cmds)}]: {cmd}")
            load1 = os.getloadavg()[0]
            t0 = time.monotonic()
            xb.run(cmd)
            loads.append({"cmd": cmd, "host_load1": load1,
                          "seconds": round(time.monotonic() - t0, 3)})
        res = xb.results()
    finally:
        xb.unload()
    return {"plan": {**asdict(plan), "ladder_dist": LADDER_DIST}, "caps": cap, "xvbench": res,
            "host": loads}
