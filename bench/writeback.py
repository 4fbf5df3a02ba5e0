"""Writeback runs: ramzswap vs zram writing their idle pages to the same
backing device ("writeback" in the results).

Each device in turn gets a loop device on a file of the guest's root disk as
its backing_dev, then ``writeback_mib`` MiB of the corpus (dd, 1 MiB
O_DIRECT).  After ``echo all > idle``, ``echo idle > writeback`` is timed:
write MiB/s = pages written (bd_stat bd_writes) x 4 KiB / its seconds.  The
device's mm_stat before and after shows the RAM it gave back.  Then the
whole range is read back with O_DIRECT (every written-back page from the
backing device) and compared with the corpus: read MiB/s over that dd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.device import Device, elapsed, uptime_cmd
from vm import stats
from vm.guest import Guest
from vm.step import say
from vm.testing import loopdev

BACKING_FILE = "/var/tmp/bench-backing.img"
MiB = 1 << 20
KINDS = ("ramzswap", "zram")


@dataclass(frozen=True)
class WritebackPlan:
    mib: int      # corpus MiB written to the device, then written back (0: no run)


def run_one(g: Guest, kind: str, mib: int, corpus_path: str) -> dict[str, Any]:
    loop = loopdev.make(g, BACKING_FILE, 2 * mib, filled=True)
    d = Device(g, kind)
    try:
        d.setup(2 * mib * MiB, backing=loop)
        g.run(f"dd if={corpus_path} of={d.path} bs=1M count={mib} iflag=direct "
              f"oflag=direct status=none && sync && echo 3 > /proc/sys/vm/drop_caches",
              timeout=1800)
        before = d.mm_stat()
        g.run(f"echo all > {d.sysfs}/idle")
        secs = elapsed(g.run(uptime_cmd(f"echo idle > {d.sysfs}/writeback"),
                              timeout=1800).stdout)
        after = d.mm_stat()
        bd = stats.parse_bd_stat(g.cat(f"{d.sysfs}/bd_stat"))
        out = g.run(uptime_cmd(f"dd if={d.path} bs=1M count={mib} iflag=direct status=none"
                                f" | cmp -n {mib * MiB} - {corpus_path}"), timeout=1800,
                    check=False)
        read_s = elapsed(out.stdout)
        bd_end = stats.parse_bd_stat(g.cat(f"{d.sysfs}/bd_stat"))
    finally:
        d.teardown()
        g.run(f"losetup -d {loop}; rm -f {BACKING_FILE}", check=False)
    written = bd["bd_writes"] * 4096
    read = (bd_end["bd_reads"] - bd["bd_reads"]) * 4096
    return {
        "kind": kind, "mib": mib, "seconds": secs, "read_seconds": read_s,
        "pages_written": written // 4096, "bytes_read_back": read,
        "mib_s": written / MiB / secs if secs > 0 else None,
        "read_mib_s": mib / read_s if read_s > 0 else None,
        "mm_stat_before": before, "mm_stat_after": after, "bd_stat": bd,
        "bd_stat_after_read": bd_end, "read_back_equal": out.status == 0,
    }


def run(g: Guest, plan: WritebackPlan, corpus_path: str) -> list[dict[str, Any]]:
    if not plan.mib:
        return []
    res = []
    for kind in KINDS:
        say(f"bench writeback {kind}: {plan.mib} MiB of the corpus, idle pages to a loop device")
        r = run_one(g, kind, plan.mib, corpus_path)
        if not r["read_back_equal"]:
            raise RuntimeError(f"{kind}: the corpus read back after writeback differs")
        res.append(r)
    return res
