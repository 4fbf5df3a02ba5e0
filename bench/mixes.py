"""Swap mixes: memory for the same swapped-out data, ramzswap vs zram, on hogs
with a given share of incompressible pages ("mixes" in the results).

For each share P in ``random_pcts`` and each device in turn, a hog of
``mib`` MiB (hog --kind mixed --random-pct P: P% random pages, the others
in the default mix's proportions) writes its pages, pages them all out
(MADV_PAGEOUT) and holds them there (hog --hold).  While it holds them the
device's mm_stat is read: everything the hog has is in swap, so that is the
peak, read exactly rather than sampled.  Then the hog reads every page back
and checks it.  Figures per run:

- memory per byte stored = mem_used_total / orig_data_size;
- allocator overhead = mem_used_total / compr_data_size (pages the allocator
  holds over the bytes it was asked to keep).

The report compares ramzswap with zram on both at each share.  The same seed
for both devices: the same pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.device import Device
from vm.guest import Guest
from vm.step import say
from vm.testing import swap

MiB = 1 << 20
KINDS = ("ramzswap", "zram")
SEED = 17


@dataclass(frozen=True)
class MixPlan:
    mib: int                               # hog size per run (0: no run)
    random_pcts: tuple[int, ...] = (20, 25, 100)


def run_one(g: Guest, kind: str, mib: int, pct: int) -> dict[str, Any]:
    d = Device(g, kind)
    g.run("swapoff -a", timeout=900)
    g.run("sync; echo 3 > /proc/sys/vm/drop_caches", timeout=300)
    d.setup(2 * mib * MiB + 64 * MiB)
    try:
        g.run(f"mkswap {d.path} >/dev/null && swapon {d.path}")
        with swap.hog_held_out(g, mib, seed=SEED, random_pct=pct) as held:
            mm = d.mm_stat()
            xv = d.xv_stat()
            mem = g.meminfo()
        g.run(f"swapoff {d.path}", timeout=900)
    finally:
        d.teardown()
    if mm is None:
        raise RuntimeError(f"{kind} has no mm_stat")
    if held.result is None or held.result.mismatches:
        raise RuntimeError(f"{kind}: the {pct}% random hog read back wrong: {held.result}")
    return {
        "kind": kind, "random_pct": pct, "mib": mib, "mm_stat": mm, "xv_stat": xv,
        "swap_used_kib": mem["SwapTotal"] - mem["SwapFree"],
        "kind_counts": held.result.raw.get("kind_counts"),
        "mismatches": held.result.mismatches,
        "mem_per_stored": mm["mem_used_total"] / mm["orig_data_size"]
        if mm["orig_data_size"] else None,
        "overhead": mm["mem_used_total"] / mm["compr_data_size"]
        if mm["compr_data_size"] else None,
    }


def run(g: Guest, plan: MixPlan) -> list[dict[str, Any]]:
    if not plan.mib:
        return []
    res = []
    for pct in plan.random_pcts:
        for kind in KINDS:
            say(f"bench mixes {kind}: hog {plan.mib} MiB, {pct}% incompressible, held paged out")
            res.append(run_one(g, kind, plan.mib, pct))
    return res
