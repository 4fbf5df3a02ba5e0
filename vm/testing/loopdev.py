"""A loop device on a file of the guest's root disk (a backing device for
writeback).

Where write speed is compared, the file is written whole first (zeros,
fsync'd; *filled*), not made sparse with truncate: the first writer to a
sparse file also pays for ext4's block allocation, so whichever device wrote
back first ran at a third of the second's rate (perf kernel, 64 MiB:
ramzswap first 24.6 vs zram 75.7 MiB/s; zram first 38.5 vs ramzswap 36.2).
Elsewhere it stays sparse: the root disk has no room for several full
1 GiB files."""

from __future__ import annotations

from vm.guest import Guest


def make(g: Guest, path: str, mib: int, ro: bool = False, filled: bool = False) -> str:
    """A loop device on *path* (*mib* MiB; *filled*: every block written
    first); its name."""
    if filled:
        g.run(f"rm -f {path} && dd if=/dev/zero of={path} bs=1M count={mib} conv=fsync "
              f"status=none", timeout=600)
    else:
        g.run(f"rm -f {path} && truncate -s {mib}M {path}")
    dev = str(g.run(f"losetup -f --show {'-r ' if ro else ''}{path}").stdout.strip())
    if not dev.startswith("/dev/loop"):
        raise RuntimeError(f"losetup gave {dev!r} for {path}")
    return dev
