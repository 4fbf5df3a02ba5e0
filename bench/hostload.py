"""How busy the host is while a benchmark runs.

The 1-minute load average (/proc/loadavg) is taken when the run starts and
when it ends.  At the end it also counts the benchmark's own guest (a TCG
guest keeps up to one host CPU per vCPU busy), so the CPU time of the QEMU
process over the run is measured too (/proc/<pid>/stat) and the rest of the
host's busy time (/proc/stat) is what everything else used.

A run is valid for speed ratios when the load at the start is at most
MAX_LOAD and the load at the end, less the CPUs the guest itself used on
average, is at most MAX_LOAD (2 cores here)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

MAX_LOAD = 1.5


def loadavg(path: Path = Path("/proc/loadavg")) -> tuple[float, float, float]:
    f = path.read_text().split()
    return float(f[0]), float(f[1]), float(f[2])


def host_busy_seconds(path: Path = Path("/proc/stat")) -> float:
    """CPU seconds the host spent not idle (all CPUs), from the `cpu` line."""
    for line in path.read_text().splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            idle = v[3] + (v[4] if len(v) > 4 else 0)        # idle + iowait
            return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    raise ValueError(f"no cpu line in {path}")


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSnapshot:
    wall: float
    host_busy: float
    guest: float

    @classmethod
    def take(cls, guest_pid: int | None) -> CpuSnapshot:
        g = proc_cpu_seconds(guest_pid) if guest_pid else 0.0
        return cls(time.monotonic(), host_busy_seconds(), g)


def usage(a: CpuSnapshot, b: CpuSnapshot) -> dict[str, float]:
    """Average CPUs used between two snapshots: by the guest, by everything else."""
    wall = max(b.wall - a.wall, 1e-3)
    guest = (b.guest - a.guest) / wall
    return {"seconds": wall, "guest_cpus": guest,
            "others_cpus": max(0.0, (b.host_busy - a.host_busy) / wall - guest)}


def verdict(load_start: float, load_end: float, guest_cpus: float | None) -> tuple[bool, str]:
    """(valid for speed ratios, why) under the rule in the module docstring."""
    end_others = load_end - (guest_cpus or 0.0)
    if load_start > MAX_LOAD:
        return False, f"host load {load_start:.2f} at the start (> {MAX_LOAD})"
    if end_others > MAX_LOAD:
        return False, (f"host load {load_end:.2f} at the end, {end_others:.2f} without the "
                       f"guest's own {guest_cpus or 0:.2f} CPUs (> {MAX_LOAD})")
    return True, (f"host load {load_start:.2f} at the start, {load_end:.2f} at the end "
                  f"(guest {guest_cpus or 0:.2f} CPUs)")
