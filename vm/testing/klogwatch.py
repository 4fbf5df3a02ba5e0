"""The kernel log of one test: what the guest printed between two points.

    w = Watch.start(guest)        # before the test: dmesg mark, console offset
    w.check(allow, log_path)      # after it: KernelLogError if a report is in dmesg
    w.explain(exc, log_path)      # after it failed: the error to show instead
                                  # (the Oops from the serial console when the
                                  # guest died or stopped answering)

The serial console log is a file QEMU appends to and never wraps, so the
part of it after the test's start offset holds every console line of the
test even when the guest can no longer be asked for its dmesg.

kmemleak reports count only when a backtrace runs through our modules
(vm.kmemleak): the test then fails with those reports; a leak elsewhere in
the kernel is shown (say) and cleared, never blamed on the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vm import klog, kmemleak
from vm.guest import Guest, console_since, console_size
from vm.ssh import SshError
from vm.step import say

KMEMLEAK = kmemleak.PATH


class GuestFailure(AssertionError):
    """The guest died or stopped answering during a test."""


@dataclass
class Watch:
    guest: Guest
    dmesg_mark: str
    console_offset: int

    @classmethod
    def start(cls, g: Guest) -> Watch:
        return cls(g, g.klog_mark(), console_size(g.console_log))

    def restart(self) -> None:
        """Move both marks to now (e.g. after the test body was checked)."""
        self.dmesg_mark = self.guest.klog_mark()
        self.console_offset = console_size(self.guest.console_log)

    def check(self, allow: Sequence[str], log_path: Path) -> None:
        """Raise KernelLogError if the guest's kernel log since the start holds
        a report no *allow* pattern matches; save that log to *log_path*."""
        text = self.guest.klog_since(self.dmesg_mark)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(text + "\n")
        problems = klog.find_problems(text, allow=allow)
        leaks = [p for p in problems if p.kind == "kmemleak"]
        if leaks:
            ours = self._kmemleak_ours(log_path)
            problems = [p for p in problems if p.kind != "kmemleak"]
            if ours:
                raise klog.KernelLogError(
                    f"kmemleak reports {len(ours)} leak(s) whose backtrace runs through our "
                    f"modules (log: {log_path}):\n" + "\n\n".join(lk.text for lk in ours),
                    leaks, str(log_path))
        if problems:
            raise klog.error(text, problems, str(log_path))

    def _kmemleak_ours(self, log_path: Path) -> list[kmemleak.Leak]:
        report = self.guest.cat(KMEMLEAK)
        log_path.with_suffix(".kmemleak.log").write_text(report)
        self.guest.run(f"echo clear > {KMEMLEAK}")
        leaks = kmemleak.parse(report)
        ours = [lk for lk in leaks if lk.ours]
        if len(ours) < len(leaks):
            say(f"kmemleak: {len(leaks) - len(ours)} leak(s) outside our modules, not this "
                f"test's failure (reports: {log_path.with_suffix('.kmemleak.log')})")
        return ours

    def explain(self, exc: BaseException, log_path: Path) -> BaseException | None:
        """After the test raised *exc*: an error naming the kernel's reports,
        or None when the log adds nothing.  A guest that died or stopped
        answering is explained from its serial console; a live one from dmesg."""
        g = self.guest
        dead = not g.machine.alive()
        if not dead and not isinstance(exc, SshError):
            try:
                text = g.klog_since(self.dmesg_mark)
            except (SshError, AssertionError):
                text = None
            if text is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(text + "\n")
                problems = klog.find_problems(text)
                if problems:
                    return klog.error(text, problems, str(log_path),
                                      "the test failed, and the kernel log reports")
                return None
        text = console_since(g.console_log, self.console_offset)
        problems = klog.find_problems(text)
        what = "the guest died" if dead else "the guest stopped answering"
        where = f"console log: {g.console_log} (from byte {self.console_offset})"
        if not problems:
            return GuestFailure(f"{what} during the test; its console shows no kernel report; "
                                f"{where}; last console lines:\n"
                                + "\n".join(text.splitlines()[-15:]))
        err = klog.error(text, problems, str(g.console_log), f"{what} during the test; its "
                         "serial console reports")
        return GuestFailure(f"{err}\n({where})")
