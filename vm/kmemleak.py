"""kmemleak reports (/sys/kernel/debug/kmemleak) and which of them are ours.

A report is ours when its backtrace runs through one of our modules: a frame
tagged with the module ("[xvmalloc]") or a function of ours.  The object's hex
dump does not count: a leak in the module loader may hold our module's name
without being our bug (seen: kobject_add_internal failing for xvmalloc under
fault injection).  Leaks outside our code are the kernel's, not our test's."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from vm.klog import OUR_FRAME

PATH = "/sys/kernel/debug/kmemleak"

_HEAD = re.compile(r"(?m)^\s*unreferenced object 0x[0-9a-f]+")
_SIZE = re.compile(r"^\s*unreferenced object 0x[0-9a-f]+ \(size (\d+)\):")
_COMM = re.compile(r'(?m)^\s*comm "([^"]*)", pid')


@dataclass(frozen=True)
class Leak:
    text: str

    @property
    def backtrace(self) -> list[str]:
        lines = self.text.splitlines()
        for i, ln in enumerate(lines):
            if ln.strip().startswith("backtrace"):
                return [x.strip() for x in lines[i + 1:] if x.strip()]
        return []

    @property
    def size(self) -> int | None:
        """The object's size in bytes, from the report's first line."""
        m = _SIZE.match(self.text)
        return int(m.group(1)) if m else None

    @property
    def comm(self) -> str | None:
        """The task that allocated the object."""
        m = _COMM.search(self.text)
        return m.group(1) if m else None

    @property
    def ours(self) -> bool:
        """Does the backtrace run through our modules?"""
        return any(OUR_FRAME.search(ln) for ln in self.backtrace)


def parse(report: str) -> list[Leak]:
    """The reports in the text of /sys/kernel/debug/kmemleak."""
    starts = [m.start() for m in _HEAD.finditer(report)] + [len(report)]
    return [Leak(report[a:b].strip()) for a, b in itertools.pairwise(starts)]


def ours(report: str) -> list[Leak]:
    return [lk for lk in parse(report) if lk.ours]
