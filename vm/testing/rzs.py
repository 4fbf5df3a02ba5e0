"""ramzswap in a guest, for tests: load/unload, sysfs access, stats.

Everything here talks to the guest through `guest.run()`; nothing assumes
more than a POSIX shell, coreutils, util-linux and kmod in the guest."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass

from vm import stats
from vm.guest import Guest
from vm.ssh import Result
from vm.testing import swap

PAGE = 4096
MiB = 1 << 20

# errno -> the text the guest's shell prints for a failed write
ERRNO_TEXT = {
    "EINVAL": "Invalid argument",
    "EBUSY": "Device or resource busy",
    "ENODEV": "No such device",
    "ENOSPC": "No space left on device",
    "EACCES": "Permission denied",
    "ENOMEM": "Cannot allocate memory",
    "ENOENT": "No such file or directory",
    "ENOTBLK": "Block device required",
    "EROFS": "Read-only file system",
    "EOPNOTSUPP": "Operation not supported",
    "EIO": "Input/output error",
}

CLEANUP_SH = r"""
for d in $(awk '$1 ~ /ramzswap/ {print $1}' /proc/swaps); do swapoff "$d" || exit 1; done
for m in $(awk '$1 ~ /ramzswap/ {print $2}' /proc/mounts); do umount "$m" || exit 1; done
if grep -q '^ramzswap ' /proc/modules; then rmmod ramzswap || exit 1; fi
if grep -q '^xvmalloc ' /proc/modules; then rmmod xvmalloc || exit 1; fi
exit 0
"""


@dataclass
class WriteResult:
    status: int
    stderr: str

    def failed_with(self, errno: str) -> bool:
        return self.status != 0 and ERRNO_TEXT[errno] in self.stderr


class Rzs:
    """ramzswap in one guest: module control and per-device sysfs."""

    def __init__(self, guest: Guest) -> None:
        self.g = guest

    # -- module -------------------------------------------------------------
    def ko(self, name: str) -> str:
        return f"{self.g.modules_dir}/{name}.ko"

    def insmod(self, params: str = "", check: bool = True) -> Result:
        """Load xvmalloc (if needed) and ramzswap with *params*."""
        self.g.run(f"grep -q '^xvmalloc ' /proc/modules || insmod {self.ko('xvmalloc')}")
        return self.g.run(f"insmod {self.ko('ramzswap')} {params}", check=check)

    def loaded(self) -> bool:
        return self.g.run("grep -q '^ramzswap ' /proc/modules", check=False).status == 0

    def cleanup(self) -> None:
        """swapoff, umount and unload everything of ours; raise if that fails."""
        r = self.g.run(CLEANUP_SH, timeout=600, check=False)
        assert r.status == 0, f"cleanup failed (a device still in use?):\n{r.describe()}"

    # -- sysfs ----------------------------------------------------------------
    @staticmethod
    def path(dev: int, attr: str) -> str:
        return f"/sys/block/ramzswap{dev}/{attr}"

    def read(self, dev: int, attr: str) -> str:
        return str(self.g.run(f"cat {self.path(dev, attr)}").stdout.strip())

    def write_path(self, path: str, value: str, newline: bool = True) -> WriteResult:
        # coreutils printf: its write error names the errno ("Invalid argument").
        fmt = "%s\\n" if newline else "%s"
        r = self.g.run(f"/usr/bin/printf '{fmt}' {shlex.quote(value)} > {path}", check=False)
        return WriteResult(r.status, r.stderr)

    def run_err(self, cmd: str) -> WriteResult:
        """Run *cmd* where its error message matters."""
        r = self.g.run(cmd, check=False)
        return WriteResult(r.status, r.stderr)

    def write(self, dev: int, attr: str, value: str, newline: bool = True) -> WriteResult:
        return self.write_path(self.path(dev, attr), value, newline)

    def write_each(self, writes: Sequence[tuple[str, str]],
                   probe: str) -> list[tuple[WriteResult, str]]:
        """Each (sysfs path, value) of *writes* in turn as write_path() does it,
        and after each the output of the shell command *probe*: one guest round
        trip for them all (a bad-input table of dozens of writes otherwise costs
        minutes under TCG).  Returns, per write, its result and the probe's
        output."""
        steps = [f"{{ /usr/bin/printf '%s\\n' {shlex.quote(value)} > {path}; }} "
                 f"2>/tmp/rzs-write-err; echo \"@@status $?\"; "
                 f"sed 's/^/@@err /' /tmp/rzs-write-err; ({probe}) | sed 's/^/@@out /'"
                 for path, value in writes]
        out = self.g.run("\n".join(steps), timeout=60 + 5 * len(steps)).stdout
        done: list[tuple[WriteResult, str]] = []
        status = -1
        err: list[str] = []
        probed: list[str] = []
        for line in out.splitlines():
            tag, _, rest = line.partition(" ")
            if tag == "@@status":
                if status >= 0:
                    done.append((WriteResult(status, "\n".join(err)), "\n".join(probed)))
                status, err, probed = int(rest), [], []
            elif tag == "@@err":
                err.append(rest)
            elif tag == "@@out":
                probed.append(rest)
        if status >= 0:
            done.append((WriteResult(status, "\n".join(err)), "\n".join(probed)))
        assert len(done) == len(writes), f"{len(writes)} writes, {len(done)} results:\n{out}"
        return done

    def set(self, dev: int, attr: str, value: str) -> None:
        r = self.write(dev, attr, value)
        assert r.status == 0, f"writing {value!r} to {attr} of ramzswap{dev} failed: {r.stderr}"

    def init(self, dev: int, size: str, comp: str | None = None) -> None:
        if comp is not None:
            self.set(dev, "comp_algorithm", comp)
        self.set(dev, "disksize", size)
        self.g.run(f"udevadm settle 2>/dev/null; test -b /dev/ramzswap{dev}")

    def reset(self, dev: int) -> None:
        self.set(dev, "reset", "1")

    def mm_stat(self, dev: int) -> dict[str, int]:
        return stats.parse_mm_stat(self.read(dev, "mm_stat"))

    def io_stat(self, dev: int) -> dict[str, int]:
        return stats.parse_io_stat(self.read(dev, "io_stat"))

    def bd_stat(self, dev: int) -> dict[str, int]:
        return stats.parse_bd_stat(self.read(dev, "bd_stat"))

    def xv_stat(self, dev: int) -> dict[str, int]:
        return stats.parse_xv_stat(self.read(dev, "xv_stat"))

    def debug_stat(self, dev: int) -> dict[str, int]:
        return stats.parse_debug_stat(self.read(dev, "debug_stat"))

    def algorithms(self, dev: int = 0) -> tuple[list[str], str]:
        """(all listed algorithms, the current one)."""
        text = self.read(dev, "comp_algorithm")
        names, current = [], ""
        for word in text.split():
            if word.startswith("[") and word.endswith("]"):
                word = word[1:-1]
                current = word
            names.append(word)
        assert current, f"no current algorithm in {text!r}"
        return names, current

    def quiet_stats(self, dev: int, tries: int = 30) -> tuple[dict[str, int], dict[str, int]]:
        """mm_stat and xv_stat once two reads a second apart agree (no I/O)."""
        prev = None
        for _ in range(tries):
            cur = (self.read(dev, "mm_stat"), self.read(dev, "xv_stat"))
            if cur == prev:
                return stats.parse_mm_stat(cur[0]), stats.parse_xv_stat(cur[1])
            prev = cur
            time.sleep(1)
        raise AssertionError(f"ramzswap{dev} stats never settled; last: {prev}")

    def check_accounting(self, dev: int) -> tuple[dict[str, int], dict[str, int]]:
        """Invariants that hold whenever no I/O is in flight."""
        mm, xv = self.quiet_stats(dev)
        stored = mm["orig_data_size"] // PAGE
        assert mm["orig_data_size"] % PAGE == 0, mm
        assert mm["same_pages"] <= stored, mm
        # one xvmalloc object per stored page neither same-filled nor written back
        on_disk = self.bd_stat(dev)["bd_count"] * 4096 // PAGE
        assert xv["objects"] == stored - mm["same_pages"] - on_disk, (mm, xv, on_disk)
        assert xv["bytes_requested"] == mm["compr_data_size"], (mm, xv)
        assert mm["mem_used_total"] == xv["bytes_in_pool"], (mm, xv)
        assert xv["bytes_in_pool"] == xv["pages_total"] * PAGE, xv
        assert mm["compr_data_size"] <= mm["mem_used_total"], mm
        assert mm["huge_pages"] * PAGE <= mm["compr_data_size"], mm
        assert mm["huge_pages_since"] >= mm["huge_pages"], mm
        assert mm["mem_used_max"] >= mm["mem_used_total"], mm
        return mm, xv

    def hog_under(self, loop: str, seed: int) -> swap.SwapRun:
        """ramzswap0 (initialised) as the only swap while the shell command
        *loop* runs in the background and a hog of 1.5x the available memory
        goes through it: every page verified, swap really used, no I/O error,
        the books balanced after swapoff and nothing left stored."""
        self.g.run("swapoff -a; mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
        try:
            with swap.background(self.g, loop):
                run = swap.hog_through_swap(self.g, 96, 1.5, seed=seed)
            print(f"hog {run.hog.mib} MiB ({run.free_mib} MiB available): out "
                  f"{run.out_mib:.0f} MiB, in {run.in_mib:.0f} MiB")
            assert run.hog.mismatches == 0, run.hog.raw
            assert run.out_mib > run.free_mib, run
        finally:
            self.g.run("swapoff /dev/ramzswap0", timeout=900, check=False)
        io = self.io_stat(0)
        assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
        mm, _ = self.check_accounting(0)
        assert mm["orig_data_size"] // PAGE <= 1 + self.debug_stat(0)["miss_free"], mm
        return run


def kernel_zeros(guest: Guest, dev: int, offset_mib: int, length_mib: int) -> None:
    """Assert a range of the device reads as zeros, bypassing the page cache."""
    guest.run(f"dd if=/dev/ramzswap{dev} bs=1M skip={offset_mib} count={length_mib} "
              f"iflag=direct status=none | cmp -n {length_mib * MiB} - /dev/zero")


def make_mixed_file(guest: Guest, path: str, mib_each: int) -> None:
    """A file of zero, random, text and binary (ELF) parts of *mib_each* MiB."""
    n = mib_each * MiB
    guest.run(
        f"{{ head -c {n} /dev/zero; head -c {n} /dev/urandom; "
        f"yes 'ramzswap line of text 0123456789 abcdefghij' | head -c {n}; "
        f"cat /usr/bin/* /usr/lib/i386-linux-gnu/*.so* 2>/dev/null | head -c {n}; }} > {path}"
        f" && test $(stat -c %s {path}) -eq {4 * n}")
