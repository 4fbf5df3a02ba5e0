"""A booted guest: QEMU + SSH + our modules and programs copied in + kernel log.

`boot()` is what tests, `invoke shell` and `invoke bench` use."""

from __future__ import annotations

import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vm import klog, kmemleak, paths, qemu, stats
from vm.errors import StepError
from vm.image import Image
from vm.kernel import KernelBuild
from vm.ssh import Result, Ssh, SshError, wait_for_ssh
from vm.step import say, tail

# A bound only a hung boot breaks: boots to ssh take 30-40 s on an idle host,
# and were seen past 300 s with four TCG guests and kernel builds on 2 cores.
BOOT_DEADLINE_S = 900.0

# Kernel command-line additions per flavour.  page_poison=1 turns on
# CONFIG_PAGE_POISONING: freed pages (highmem too) are filled with a pattern
# that is checked when the page is handed out again, so a write to a page
# after it was freed is reported ("pagealloc: memory corruption").
FLAVOUR_APPEND = {"debug": "page_poison=1"}

# Commands allowed longer than this are watched for fatal kernel reports.
FAIL_FAST_AFTER_S = 150.0
_NOT_FATAL = tuple(k for k in klog.KINDS if k not in klog.FATAL_KINDS)


def console_size(path: Path) -> int:
    """Bytes in the serial console log so far (0 before QEMU made it)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def console_since(path: Path, offset: int, end: int | None = None) -> str:
    """The serial console log from byte *offset* on, up to byte *end* if
    given (QEMU only appends)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read() if end is None else f.read(max(0, end - offset))
            return data.decode(errors="replace").replace("\r", "")
    except OSError:
        return ""


class ConsoleWatch:
    """The serial console from now on, read as it grows: fatal() says why a
    command should be given up (a fatal kernel report, QEMU gone), or None."""

    def __init__(self, console_log: Path, alive: Callable[[], bool]) -> None:
        self.path = console_log
        self.alive = alive
        self.offset = console_size(console_log)
        self.partial = ""

    def fatal(self) -> str | None:
        if not self.alive():
            return f"QEMU exited (console: {self.path})"
        size = console_size(self.path)
        text = self.partial + console_since(self.path, self.offset, size)
        self.offset = size
        complete, _, self.partial = text.rpartition("\n")
        problems = klog.find_problems(complete, ignore=_NOT_FATAL)
        if not problems:
            return None
        return (f"the guest's console shows a fatal kernel report ({problems[0].kind}: "
                f"{problems[0].line.strip()}; console: {self.path})")


@dataclass
class Guest:
    flavour: str
    machine: qemu.Qemu
    ssh: Ssh
    console_log: Path
    release: str
    modules_dir: str = "/root/modules"
    bin_dir: str = "/root/bin"
    programs: dict[str, str] = field(default_factory=dict)
    boot_seconds: float = 0.0

    @property
    def hog(self) -> str:
        return self.programs["hog"]

    def run(self, cmd: str, timeout: float = 120.0, check: bool = True) -> Result:
        """Run *cmd* in the guest.  A command that may run long (*timeout*
        over FAIL_FAST_AFTER_S) is given up as soon as the serial console
        shows a fatal kernel report (klog.FATAL_KINDS) or QEMU exits: after
        an Oops the command may never finish, and its timeout would be
        spent waiting for nothing."""
        if not self.machine.alive():
            raise SshError(f"the guest is not running (it may have panicked); last console "
                           f"lines:\n{tail(self.console_log, 30)}", self.console_log)
        abort = (ConsoleWatch(self.console_log, self.machine.alive).fatal
                 if timeout > FAIL_FAST_AFTER_S else None)
        return self.ssh.run(cmd, timeout=timeout, check=check, abort=abort)

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        self.ssh.put(local, remote, mode)

    def get(self, remote: str, local: Path) -> None:
        self.ssh.get(remote, local)

    def cat(self, path: str, timeout: float = 60.0) -> str:
        """The content of a guest file (or several, space-separated)."""
        return self.run(f"cat {path}", timeout=timeout).stdout

    def kmemleak_scan(self) -> str:
        """Scan for leaks (twice, 5 s apart: kmemleak reports an object only
        once it looked unreferenced in two scans) and return the reports."""
        kml = kmemleak.PATH
        self.run(f"echo scan > {kml}; sleep 5; echo scan > {kml}", timeout=900)
        return self.cat(kml)

    def dmesg(self) -> str:
        return self.run("dmesg", timeout=60).stdout

    def klog_mark(self) -> str:
        """The kernel log as it is now; pass it to klog_since()."""
        return self.dmesg()

    def klog_since(self, mark: str) -> str:
        """Kernel log lines printed since *mark* (see vm.klog.since, which also
        copes with a wrapped ring buffer)."""
        return klog.since(mark, self.dmesg())

    def meminfo(self) -> dict[str, int]:
        """/proc/meminfo in KiB by field."""
        return stats.parse_meminfo(self.run("cat /proc/meminfo").stdout)

    def stop(self) -> None:
        try:
            self.ssh.close()
        finally:
            self.machine.stop()


def _modules_tarball(kb: KernelBuild, dest: Path) -> Path:
    """lib/modules/<release> of the kernel build (brd.ko, modules.builtin...)."""
    tar = dest / "lib-modules.tar"
    with tarfile.open(tar, "w") as t:
        t.add(kb.modules_root / "lib" / "modules" / kb.release,
              arcname=f"lib/modules/{kb.release}")
    return tar


def boot(kb: KernelBuild, image: Image, kos: dict[str, Path], programs: dict[str, Path],
         accel: str = "auto", memory_mib: int = 2048, cpus: int = 2, tag: str = "") -> Guest:
    """Boot *kb* on *image*, wait for ssh, copy modules and programs in."""
    logs = paths.ensure(paths.logs_dir())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # the build's name (6.12-debug is not debug) and the pid: two runs booting
    # the same flavour in the same second must not share a console log
    console = logs / f"console-{kb.name}{'-' + tag if tag else ''}-{stamp}-{os.getpid()}.log"
    cfg = qemu.QemuConfig(kb.bzimage, image.path, console, memory_mib, cpus,
                          extra_append=FLAVOUR_APPEND.get(kb.flavour, ""), accel=accel)
    t0 = time.monotonic()
    machine = qemu.start(cfg)
    try:
        ssh = wait_for_ssh("127.0.0.1", machine.ssh_port, image.ssh_key, BOOT_DEADLINE_S,
                           machine.alive, console)
    except SshError as e:
        alive = machine.alive()
        machine.stop()
        raise StepError("guest boot", f"{e} ({'still running' if alive else 'QEMU exited'})",
                        console, tail(console, 30)) from e
    g = Guest(kb.flavour, machine, ssh, console, kb.release,
              boot_seconds=time.monotonic() - t0)
    say(f"guest {kb.flavour}: ssh up after {g.boot_seconds:.1f}s ({machine.accel})")
    try:
        uname = g.run("uname -r").stdout.strip()
        if uname != kb.release:
            raise StepError("guest boot", f"guest runs {uname!r}, expected {kb.release!r}", console)
        g.run(f"mkdir -p {g.modules_dir} {g.bin_dir}")
        with tempfile.TemporaryDirectory() as td:
            tar = _modules_tarball(kb, Path(td))
            g.put(tar, "/tmp/lib-modules.tar")
        g.run("tar -C / -xf /tmp/lib-modules.tar && rm /tmp/lib-modules.tar && depmod -a")
        for name, ko in kos.items():
            g.put(ko, f"{g.modules_dir}/{name}.ko")
        for name, prog in programs.items():
            remote = f"{g.bin_dir}/{name}"
            g.put(prog, remote, mode=0o755)
            g.programs[name] = remote
    except BaseException:
        g.stop()
        raise
    return g
