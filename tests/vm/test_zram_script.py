"""Scripts carry over (issue 15 item 6): a zram user's set-up script, with the
device name and the control class changed, runs unmodified on ramzswap.

tests/vm/scripts/zram-setup.sh follows zram.rst's usage sections step by step
(6.1's, and 6.12's algorithm_params and recompression), written for zram and
parameterised only by DEV, CTL and MOD.  It runs first on the kernel's own
zram, the reference that makes it a real zram script, then on ramzswap, where
no step may be skipped and every step zram passed must pass."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vm.guest import Guest
from vm.testing.rzs import Rzs

pytestmark = pytest.mark.vm

SCRIPT = Path(__file__).parent / "scripts" / "zram-setup.sh"
REMOTE = "/var/tmp/zram-setup.sh"

ZRAM = {"DEV": "zram", "CTL": "zram-control", "MOD": "zram"}
RAMZSWAP = {"DEV": "ramzswap", "CTL": "ramzswap-control", "MOD": "ramzswap"}

# zram.rst's steps the script must pass on any zram of this harness's kernels
# (base.config: CONFIG_ZRAM_WRITEBACK, CONFIG_ZRAM_MEMORY_TRACKING, LZ4, ZSTD)
CORE_STEPS = (
    "module", "hot_add", "max_comp_streams", "comp_algorithm", "comp_algorithm lzo",
    "comp_algorithm lz4", "comp_algorithm zstd", "disksize 52428800", "disksize 256K",
    "disksize 512M", "disksize 1G", "reset after disksize 1G", "disksize 128M",
    "mem_limit 52428800", "mem_limit 1G", "mem_limit 0", "mkswap", "swapon", "mkfs.ext4",
    "mount", "write a file", "stat", "io_stat", "mm_stat", "debug_stat", "umount",
    "swapoff", "write pages", "compact", "mem_used_max", "reset", "hot_remove",
)
WRITEBACK_STEPS = (
    "backing_dev", "bd_stat", "idle all", "idle 86400", "writeback huge",
    "writeback huge_idle", "writeback_limit", "writeback idle", "writeback page_index",
    "writeback_limit_enable 0", "read back",
)
# zram 6.2 and later (CONFIG_ZRAM_MULTI_COMP; algorithm_params: 6.12): absent
# from 6.1's zram, which skips them (the skip line's name: its steps); ramzswap
# has them on every kernel
NEWER = {
    "recomp_algorithm": ("recomp_algorithm",),
    "algorithm_params": ("algorithm_params",),
    "recompress": ("recompress type=idle", "recompress type=huge", "recompress threshold=3000",
                   "recompress type=huge_idle max_pages=42", "read back recompressed"),
}
NEWER_STEPS = tuple(s for steps in NEWER.values() for s in steps)

CLEANUP_SH = r"""
W=/var/tmp/$DEV-setup
rc=0
for d in $(awk -v p="^/dev/$DEV[1-9]" '$1 ~ p {print $1}' /proc/swaps); do
    swapoff "$d" || rc=1
done
for m in $(awk -v p="^/dev/$DEV[1-9]" '$1 ~ p {print $2}' /proc/mounts); do
    umount "$m" || rc=1
done
if [ -d "/sys/class/$CTL" ]; then
    for s in /sys/block/$DEV[1-9]*; do
        [ -e "$s" ] || continue
        echo 1 > "$s/reset" || rc=1
        echo "${s#/sys/block/$DEV}" > "/sys/class/$CTL/hot_remove" || rc=1
    done
fi
if [ -e "$W/backing.img" ]; then
    for l in $(losetup -n -O NAME -j "$W/backing.img"); do losetup -d "$l" || rc=1; done
fi
rm -rf "$W"
exit $rc
"""


@dataclass
class ScriptRun:
    status: int
    stdout: str
    stderr: str

    def lines(self, tag: str) -> list[str]:
        """The steps of the `<tag> <step>` lines, in order."""
        return [ln[len(tag) + 1:] for ln in self.stdout.splitlines()
                if ln.startswith(tag + " ")]

    @property
    def passed(self) -> list[str]:
        return self.lines("ok")

    @property
    def skipped(self) -> dict[str, str]:
        """{step: missing attribute} of the `skip <step> (no <attr>)` lines."""
        out: dict[str, str] = {}
        for rest in self.lines("skip"):
            m = re.fullmatch(r"(.+) \(no (.+)\)", rest)
            assert m, f"malformed skip line: skip {rest}"
            out[m.group(1)] = m.group(2)
        return out

    def describe(self) -> str:
        return f"exit {self.status}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def _env(names: dict[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in names.items())


def _cleanup(g: Guest, names: dict[str, str]) -> None:
    r = g.run(f"{_env(names)} sh -c {shlex.quote(CLEANUP_SH)}", timeout=600, check=False)
    assert r.status == 0, f"cleanup of {names['DEV']} failed:\n{r.describe()}"
    left = g.run(f"losetup -n -O NAME,BACK-FILE | grep -F /var/tmp/{names['DEV']}-setup; "
                 f"ls -d /sys/block/{names['DEV']}[1-9]* 2>/dev/null", check=False).stdout
    assert not left.strip(), f"left over after the cleanup of {names['DEV']}: {left}"


def _run(g: Guest, names: dict[str, str]) -> ScriptRun:
    r = g.run(f"{_env(names)} sh {REMOTE}", timeout=1800, check=False)
    run = ScriptRun(r.status, r.stdout, r.stderr)
    print(f"zram-setup.sh on {names['DEV']}: {run.describe()}")
    return run


@pytest.fixture
def script(guest: Guest) -> Iterator[str]:
    """The script in the guest; zram's and ramzswap's devices of a run that
    died half-way (swap, mounts, the loop device, files) cleaned up after."""
    for names in (ZRAM, RAMZSWAP):
        _cleanup(guest, names)
    guest.put(SCRIPT, REMOTE, mode=0o755)
    try:
        yield REMOTE
    finally:
        try:
            for names in (ZRAM, RAMZSWAP):
                _cleanup(guest, names)
        finally:
            guest.run(f"rm -f {REMOTE}", check=False)


def _check_reference(run: ScriptRun) -> None:
    """The script passed on zram: it is a zram script, every step it has checked."""
    assert run.status == 0, f"zram-setup.sh failed on zram:\n{run.describe()}"
    assert "FAIL" not in run.stderr, run.describe()
    assert run.stdout.rstrip().endswith("done"), run.describe()
    missing = [s for s in (*CORE_STEPS, *WRITEBACK_STEPS) if s not in run.passed]
    assert not missing, f"zram passed no {missing}:\n{run.describe()}"
    unexpected = set(run.skipped) - set(NEWER)
    assert not unexpected, f"zram skipped {sorted(unexpected)}:\n{run.describe()}"
    for skip, steps in NEWER.items():
        done = [s for s in steps if s in run.passed]
        # a feature zram has passes all its steps; one it lacks, none
        want = [] if skip in run.skipped else list(steps)
        assert done == want, f"{skip}: passed {done}, expected {want}:\n{run.describe()}"


def test_zram_script_on_zram(script: str, guest: Guest) -> None:
    """The reference: the script passes on the kernel's zram; and its failure
    names the step (a module that is not there)."""
    _check_reference(_run(guest, ZRAM))
    bad = _run(guest, {**ZRAM, "MOD": "nosuchmod"})
    assert bad.status != 0 and bad.passed == [], bad.describe()
    assert bad.stderr.strip() == ("FAIL module: module nosuchmod is neither loaded nor built "
                                  "in (modprobe nosuchmod num_devices=4)"), bad.describe()


def test_zram_script_on_ramzswap(rzs: Rzs, script: str, guest: Guest) -> None:
    """The same script with DEV=ramzswap CTL=ramzswap-control MOD=ramzswap:
    every step zram passed passes, none is skipped, and the steps 6.1's zram
    lacks (recompression, algorithm_params) pass too."""
    ref = _run(guest, ZRAM)
    _check_reference(ref)
    rzs.insmod("num_devices=4")          # zram.rst: modprobe zram num_devices=4
    assert guest.run("ls -d /sys/block/ramzswap*").stdout.split() == [
        f"/sys/block/ramzswap{i}" for i in range(4)]
    run = _run(guest, RAMZSWAP)
    assert run.status == 0, f"zram-setup.sh failed on ramzswap:\n{run.describe()}"
    assert run.stdout.rstrip().endswith("done"), run.describe()
    assert not run.skipped, f"ramzswap skipped {run.skipped}:\n{run.describe()}"
    missing = [s for s in ref.passed if s not in run.passed]
    assert not missing, f"ramzswap did not pass {missing}, which zram passed:\n{run.describe()}"
    newer = [s for s in NEWER_STEPS if s not in run.passed]
    assert not newer, f"ramzswap did not pass {newer}:\n{run.describe()}"
