"""Guest-side helpers shared by the swap tests: a memory balloon, swap set-up
and the page-integrity hog."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vm import stats
from vm.guest import Guest

BALLOON_DIR = "/mnt/balloon"


def mem_available_mib(g: Guest) -> int:
    return g.meminfo()["MemAvailable"] // 1024


def inflate_balloon(g: Guest, leave_mib: int) -> int:
    """Pin memory in a ramfs file (never swapped) so that about *leave_mib* MiB
    stay available: a 2 GiB guest then needs swap for a hog of a few times
    that, and runs it in minutes under TCG.  Returns the balloon's size."""
    size = mem_available_mib(g) - leave_mib
    if size <= 0:
        return 0
    g.run(f"mkdir -p {BALLOON_DIR} && (mountpoint -q {BALLOON_DIR} || "
          f"mount -t ramfs ramfs {BALLOON_DIR}) && "
          f"dd if=/dev/zero of={BALLOON_DIR}/fill bs=1M count={size} status=none")
    return size


def deflate_balloon(g: Guest) -> None:
    g.run(f"if mountpoint -q {BALLOON_DIR}; then rm -f {BALLOON_DIR}/fill; "
          f"umount {BALLOON_DIR}; fi", check=False)


def swapoff_all(g: Guest) -> None:
    g.run("swapoff -a", timeout=900)


def swaps(g: Guest) -> list[str]:
    return [ln.split()[0] for ln in g.run("cat /proc/swaps").stdout.splitlines()[1:]]


@dataclass(frozen=True)
class HogResult:
    raw: dict[str, Any]
    seconds: float

    @property
    def mismatches(self) -> int:
        return int(self.raw["mismatches"])

    @property
    def mib(self) -> int:
        return int(self.raw["mib"])


def run_hog(g: Guest, mib: int, kind: str = "mixed", seed: int = 1, passes: int = 1,
            pageout: bool = False, timeout: float = 1800.0) -> HogResult:
    """Run the hog; it exits 1 on mismatches, so its JSON is read either way.
    With *pageout* the hog asks the kernel to page all its memory out before
    each verify pass, so every page goes through swap on every pass."""
    t0 = time.monotonic()
    cmd = f"{g.hog} --mib {mib} --kind {kind} --seed {seed} --passes {passes} --json"
    res = g.run(cmd + (" --pageout" if pageout else ""), timeout=timeout, check=False)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"hog printed no JSON summary: {res.describe()}"
    raw = json.loads(lines[-1])
    assert res.status in (0, 1), f"hog failed to run: {res.describe()}"
    return HogResult(raw, time.monotonic() - t0)


def vmstat(g: Guest) -> dict[str, int]:
    return stats.parse_vmstat(g.run("cat /proc/vmstat").stdout)


def swapon_device(g: Guest, sysdir: str, dev: str, size: str = "3G",
                  comp: str = "lzo-rle") -> None:
    """Reset a zram-style device (zram or ramzswap) at *sysdir*, give it *comp*
    and *size*, and make *dev* a swap area in use."""
    g.run(f"echo 1 > {sysdir}/reset && echo {comp} > {sysdir}/comp_algorithm && "
          f"echo {size} > {sysdir}/disksize && mkswap {dev} >/dev/null && swapon {dev}")


@dataclass(frozen=True)
class SwapRun:
    """A hog run through swap: its result, the memory the balloon left
    available, and the MiB swapped out and in meanwhile."""
    hog: HogResult
    free_mib: int
    out_mib: float
    in_mib: float


def hog_through_swap(g: Guest, leave_mib: int, factor: float, seed: int,
                     passes: int = 2) -> SwapRun:
    """With a balloon leaving *leave_mib* MiB available, a mixed hog of
    *factor* times what is available, paged out before each verify pass."""
    inflate_balloon(g, leave_mib)
    try:
        free_mib = mem_available_mib(g)
        before = vmstat(g)
        hog = run_hog(g, int(factor * free_mib), "mixed", seed=seed, passes=passes,
                      pageout=True)
        after = vmstat(g)
    finally:
        deflate_balloon(g)
    page_mib = 4096 / 2**20
    return SwapRun(hog, free_mib, (after["pswpout"] - before["pswpout"]) * page_mib,
                   (after["pswpin"] - before["pswpin"]) * page_mib)


class HeldHog:
    """A hog holding its pages paged out (hog_held_out); its result once
    it has verified them."""

    def __init__(self, mib: int) -> None:
        self.mib = mib
        self.result: HogResult | None = None


@contextlib.contextmanager
def hog_held_out(g: Guest, mib: int, seed: int, timeout: float = 1800.0,
                 random_pct: int | None = None) -> Iterator[HeldHog]:
    """A mixed hog of *mib* MiB (*random_pct* % incompressible pages, hog's
    default if None) writes its pages, pages them all out and holds them for
    the duration of the block (hog --hold); after the block it verifies every
    page, and its result is in the yielded HeldHog."""
    d = g.run("mktemp -d /tmp/hog.XXXXXX").stdout.strip()
    go = f"{d}/go"
    mix = "" if random_pct is None else f" --random-pct {random_pct}"
    g.run(f"nohup {g.hog} --mib {mib} --kind mixed{mix} --seed {seed} --pageout --json "
          f"--quiet --hold {go} >{d}/out 2>{d}/err & echo $! >{d}/pid")
    waited = g.run(f"while ! test -e {go}.held; do kill -0 $(cat {d}/pid) 2>/dev/null || "
                   f"exit 1; sleep 0.2; done", timeout=timeout, check=False)
    held = HeldHog(mib)
    t0 = time.monotonic()
    try:
        assert waited.status == 0, \
            f"the hog exited before holding its pages: {g.run(f'cat {d}/err').stdout}"
        yield held
    finally:
        g.run(f"touch {go}")
        g.run(f"while kill -0 $(cat {d}/pid) 2>/dev/null; do sleep 0.2; done",
              timeout=timeout)
    out = g.run(f"cat {d}/out").stdout
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, f"hog printed no JSON summary; stderr: {g.run(f'cat {d}/err').stdout}"
    held.result = HogResult(json.loads(lines[-1]), time.monotonic() - t0)
    g.run(f"rm -rf {d}")


@contextlib.contextmanager
def background(g: Guest, loop: str) -> Iterator[None]:
    """Run the shell command *loop* in the guest in the background for the
    duration of the block; it is killed after."""
    pid = g.run(f"nohup sh -c '{loop}' >/dev/null 2>&1 & echo $!").stdout.strip()
    assert pid.isdigit(), pid
    try:
        yield
    finally:
        g.run(f"kill {pid}", check=False)
