"""Check a kernel log (dmesg, a serial console capture, the kmemleak file) for
the kernel's own reports of bugs.

Only the markers the kernel prints at the head of a report count, never loose
words: a clean 6.1 boot prints "...use "pci=nocrs" and report a bug" and
"Spectre V2 : WARNING: ..." lines, which must not fail a test.  The generic
markers ("BUG:", "WARNING:", "Oops", "UBSAN:", slab "BUG <cache> (...):") count
only at the start of a message, after any prefix a log may carry: a syslog
level "<4>", a "[   12.345678]" timestamp, a "[    T1]" caller id (or none, as on a
serial console).  Specific phrases ("possible circular locking dependency
detected", "blocked for more than N seconds", ...) count anywhere in a line.

    find_problems(text) -> [Problem(line_no, kind, line), ...]
    check_clean(text, log_path)   raises KernelLogError listing each problem
    since(before, after)          the part of a later dmesg that is new
    since_marker(text, marker)    the part after the last line holding marker
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Optional prefixes a kernel log line may carry, in any combination.
_PREFIX = re.compile(
    r"""^(?:
        \s+
      | <\d+>                                             # syslog level (dmesg -r)
      | \[\s*\d+\.\d+\]                                   # printk time
      | \[\s*[TC]\d+\]                                    # CONFIG_PRINTK_CALLER
      | \[[A-Z][a-z]{2}\ [A-Z][a-z]{2}\ [\ \d]\d\ [\d:]{8}\ \d{4}\]   # dmesg -T
      | (?:kern|user|daemon|syslog)\s*:\s*[a-z]+\s*:      # dmesg -x
      | [A-Z][a-z]{2}\ [\ \d]\d\ [\d:]{8}\ \S+\ kernel:   # journal / syslog file
    )*""",
    re.X,
)
# A printk timestamp in the middle of a line: console output interleaved with
# other output on the serial port.
_MID_TIMESTAMP = re.compile(r"\[\s*\d+\.\d+\] ")

# (kind, pattern), most specific first: a line gets the kind of its first match.
# Patterns starting with ^ must match at the start of the message; the others
# are specific enough to count anywhere (a console line may begin with other
# output, e.g. "login: BUG: kernel NULL pointer dereference, address: 00000004").
_RULES: tuple[tuple[str, str], ...] = (
    ("atomic sleep", r"sleeping function called from invalid context"
                     r"|BUG: scheduling while atomic"),
    ("bad page", r"\bBad page\b|BUG: Bad rss-counter"),
    ("kasan", r"BUG: KASAN: "),
    ("page fault", r"BUG: (?:unable to handle page fault|kernel NULL pointer dereference)"),
    ("soft lockup", r"BUG: soft lockup|Watchdog detected hard LOCKUP"),
    ("lockdep", r"possible circular locking dependency detected"
                r"|possible recursive locking detected"
                r"|inconsistent lock state"
                r"|possible irq lock inversion dependency"
                r"|\w+-safe -> \w+-unsafe lock order detected"
                r"|bad unlock balance detected"
                r"|held lock freed"
                r"|lock held when returning to user space"
                r"|INFO: trying to register non-static key"
                r"|Nested lock was not taken"
                r"|chain_key collision"
                # lockdep's bracketed headers: "[ BUG: Invalid wait context ]"
                r"|\[ BUG: [^\]]+ \]"),
    ("rcu", r"suspicious RCU usage"),
    # tree_stall.h, tree_exp.h (expedited) and tasks.h (rcu_tasks*) stall reports
    ("rcu stall", r"INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls?"),
    ("hung task", r"INFO: task \S.* blocked for more than \d+ seconds"),
    ("kmemleak", r"kmemleak: \d+ new suspected memory leaks|^unreferenced object 0x[0-9a-f]+"),
    # slab_bug(): "BUG <cache> (<print_tainted()>): <reason>"
    ("slab", r"(?:^|\s)BUG [\w.:-]+ \((?:Not tainted|Tainted: [^)]*)\): "),
    ("page poison", r"\bpagealloc: (?:memory corruption|single bit error)"),
    ("list corruption", r"\blist_(?:add|del) corruption\b"),
    ("ubsan", r"^UBSAN: "),
    # lib/bug.c: "kernel BUG at file:line!" or, without DEBUG_BUGVERBOSE,
    # "Kernel BUG at func+0x../0x.. [verbose debug info unavailable]"
    ("kernel BUG", r"\b[Kk]ernel BUG at "),
    # mm/swapfile.c and mm/page_io.c
    ("swap entry", r"\b(?:Bad|Unused) swap (?:file|offset) entry\b"),
    ("swap I/O error", r"\b(?:Read|Write)-error on swap-device\b"),
    # fs/ext4 ext4_error(), fs/ext2 ext2_error(), fs/buffer.c, fs/super.c
    ("fs error", r"\bEXT4-fs error\b|\bEXT2-fs \([^)]*\): error: "),
    ("buffer I/O error", r"\bBuffer I/O error on dev(?:ice)? "),
    ("busy inodes", r"\bVFS: Busy inodes after unmount\b"),
    # zram: "Decompression failed! err=.."; ours: "<disk>: decompression of page N failed"
    ("decompression", r"\b(?:zram|ramzswap): (?:\S+: )?(?:[Dd]ecompression|compression)"
                      r"(?: of page \d+)? failed"),
    # xvmalloc's own consistency check (xv_check)
    ("xvmalloc check", r"\bxvmalloc: pool \S+: (?:area \d+ offset \d+: |\d+ more problems)"),
    ("panic", r"Kernel panic - not syncing|\bPANIC: double fault"),
    ("user gpf", r"^traps: \S+\[\d+\] general protection"),
    ("gpf", r"general protection"),
    ("oops", r"^Oops\b|\b[A-Za-z][\w ,.-]*: [0-9a-f]{4} \[#\d+\]"),
    ("bug", r"^BUG: "),
    ("warning", r"^WARNING: "),
)
_COMPILED = tuple((kind, re.compile(pattern)) for kind, pattern in _RULES)
# Cheap pre-filter: every rule above needs one of these substrings.  Keep in step
# with _RULES (tests/unit/test_klog.py checks a sample line of every rule).
_TOKENS = ("BUG", "WARNING", "Bad page", "Bad rss", "LOCKUP", "sleeping function", "lock",
           "chain_key", "non-static key", "RCU usage", "stall",
           "blocked for more than", "suspected memory leak", "unreferenced object",
           "corruption", "single bit error", "UBSAN", "Kernel panic", "PANIC",
           "general protection", "Oops", "[#", "swap file entry", "swap offset entry",
           "error on swap-device", "-fs ", "Buffer I/O error", "Busy inodes",
           "ompression", "xvmalloc: pool")

#: What a test that fails swap writes on purpose expects, one line per failed
#: write (mm/page_io.c end_swap_bio_write(): "(major:minor:sector)").
SWAP_WRITE_ERROR = r"^Write-error on swap-device \(\d+:\d+:\d+\)$"

#: Every kind find_problems() reports, for callers that ignore some.
KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _ in _RULES))

#: Reports after which the kernel's state cannot be trusted and nothing a test
#: waits for may ever finish (an Oops kills the task, a BUG leaves locks held,
#: corrupted memory corrupts more): a command seeing one is stopped at once.
FATAL_KINDS: tuple[str, ...] = ("bad page", "kasan", "page fault", "slab", "page poison",
                                "list corruption", "kernel BUG", "decompression",
                                "xvmalloc check", "panic", "gpf", "oops", "bug")

CONTEXT_BEFORE = 3
CONTEXT_AFTER = 6
MAX_DETAILED = 8   # problems shown with context in a KernelLogError
MAX_LISTED = 60    # problems listed at all


@dataclass(frozen=True)
class Problem:
    """One line of a kernel log that reports a bug; line_no counts from 1."""

    line_no: int
    kind: str
    line: str


class KernelLogError(AssertionError):
    """The kernel log reports bugs.  Carries the problems and the log's path."""

    def __init__(self, message: str, problems: list[Problem], log_path: str | None) -> None:
        super().__init__(message)
        self.problems = problems
        self.log_path = log_path


def strip_prefix(line: str) -> str:
    """The message of a log line, without level, timestamp or caller prefixes."""
    line = line.replace("\r", "")
    m = _PREFIX.match(line)
    return line[m.end():] if m else line


def _messages(line: str) -> list[str]:
    msgs = [strip_prefix(line)]
    msgs.extend(line[m.end():] for m in _MID_TIMESTAMP.finditer(line) if m.start() > 0)
    return msgs


def classify(line: str) -> str | None:
    """The kind of problem *line* reports, or None."""
    for msg in _messages(line):
        if not any(tok in msg for tok in _TOKENS):
            continue
        for kind, rx in _COMPILED:
            if rx.search(msg):
                return kind
    return None


def find_problems(text: str, ignore: Iterable[str] = (),
                  allow: Iterable[str] = ()) -> list[Problem]:
    """Every line of *text* that reports a kernel bug, in order.

    *ignore* names kinds (see KINDS) not to report.  *allow* holds regular
    expressions: a report line one of them matches (re.search on the message,
    without prefixes) is expected by the caller and not reported."""
    skip = set(ignore)
    unknown = skip - set(KINDS)
    if unknown:
        raise ValueError(f"unknown problem kinds {sorted(unknown)}; known: {KINDS}")
    allowed = [re.compile(a) for a in allow]
    out: list[Problem] = []
    for no, line in enumerate(text.splitlines(), 1):
        kind = classify(line)
        if kind is None or kind in skip:
            continue
        if any(rx.search(m) for rx in allowed for m in _messages(line)):
            continue
        out.append(Problem(no, kind, line.rstrip()))
    return out


def format_problems(text: str, problems: list[Problem]) -> str:
    """Each problem with a few lines of context (the first MAX_DETAILED of them)."""
    lines = text.splitlines()
    out: list[str] = []
    for i, p in enumerate(problems[:MAX_LISTED]):
        out.append(f"line {p.line_no} [{p.kind}]: {p.line.strip()}")
        if i >= MAX_DETAILED:
            continue
        lo = max(1, p.line_no - CONTEXT_BEFORE)
        hi = min(len(lines), p.line_no + CONTEXT_AFTER)
        for n in range(lo, hi + 1):
            mark = ">" if n == p.line_no else " "
            out.append(f"  {mark}{n:6d} | {lines[n - 1].rstrip()}")
    if len(problems) > MAX_LISTED:
        out.append(f"... and {len(problems) - MAX_LISTED} more")
    return "\n".join(out)


def check_clean(text: str, log_path: str | None = None, ignore: Iterable[str] = (),
                allow: Iterable[str] = ()) -> None:
    """Raise KernelLogError if *text* reports any kernel bug (see find_problems).

    The message counts the problems by kind, names *log_path* (where the whole
    log was saved) and shows each problem with a few lines of context."""
    problems = find_problems(text, ignore, allow)
    if problems:
        raise error(text, problems, log_path)


def error(text: str, problems: list[Problem], log_path: str | None,
          headline: str = "kernel log reports") -> KernelLogError:
    """The KernelLogError for *problems* found in *text*."""
    counts: dict[str, int] = {}
    for p in problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    where = f" (log: {log_path})" if log_path else ""
    msg = (f"{headline} {len(problems)} problem line(s): {summary}{where}\n"
           + format_problems(text, problems))
    return KernelLogError(msg, problems, log_path)


def since(before: str, after: str, anchor: int = 3) -> str:
    """The part of *after* (a later dmesg) that is new since *before* (an earlier one).

    Lines are matched by content (with printk times they are unique):

    1. *after* starts with all of *before*: the rest is new.
    2. The ring buffer wrapped, so *after* starts with a tail of *before*: what
       follows the longest such overlap is new.
    3. Otherwise the last *anchor* non-empty lines of *before* are looked up in
       *after*; what follows their first occurrence is new.
    4. Nothing matches (e.g. ``dmesg -C`` ran): all of *after* is returned.
       Re-checking old lines is better than missing new ones.
    """
    old = before.splitlines()
    new = after.splitlines()
    if not old:
        return after
    if new[:len(old)] == old:
        return _join(new[len(old):], after)
    if new:
        for start in (i for i, ln in enumerate(old) if ln == new[0]):
            k = len(old) - start
            if new[:k] == old[start:]:
                return _join(new[k:], after)
    tail = [ln for ln in old if ln.strip()][-anchor:]
    k = len(tail)
    for i in range(len(new) - k + 1):
        if new[i:i + k] == tail:
            return _join(new[i + k:], after)
    return after


def since_marker(text: str, marker: str) -> str:
    """The lines of *text* after the last line containing *marker*.

    For a harness that writes a unique marker to /dev/kmsg before each test.
    Raises ValueError if the marker is not in the log."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if marker in lines[i]:
            return _join(lines[i + 1:], text)
    raise ValueError(f"marker {marker!r} not found in the kernel log")


def _join(lines: list[str], original: str) -> str:
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if original.endswith("\n") else "")


# warn_alloc() reports: "<comm>: page allocation failure: order:..." or
# "<comm>: vmalloc error: ...", then a dump_stack() (Call Trace) and Mem-Info.
# They are not bugs (no report marker above); one whose trace runs through our
# code means we allocated without __GFP_NOWARN.
_ALLOC_FAIL = re.compile(r": (?:page allocation failure|vmalloc error): ")
_TRACE_LINE = re.compile(r"^\s*(?:\? )?[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+")
OUR_MODULES = ("xvmalloc", "ramzswap", "xvbench")
OUR_FRAME = re.compile(r"\[(?:" + "|".join(OUR_MODULES) + r")\]"
                        r"|\b(?:xv_|rzs_|xvbench_|ramzswap_|xvmalloc_)\w*\+0x")


def alloc_failure_reports(log: str) -> list[str]:
    """Each warn_alloc() report in a kernel log: its header line and the
    function lines of its call trace."""
    out: list[str] = []
    cur: list[str] | None = None
    for line in log.splitlines():
        msg = strip_prefix(line)
        if _ALLOC_FAIL.search(msg):
            if cur:
                out.append("\n".join(cur))
            cur = [line]
        elif cur is not None:
            if "Mem-Info" in msg:
                out.append("\n".join(cur))
                cur = None
            elif _TRACE_LINE.search(msg):
                cur.append(line)
    if cur:
        out.append("\n".join(cur))
    return out


def ours_in_trace(report: str) -> bool:
    """Does a report's call trace (the lines after its header) run through our
    modules?"""
    return any(OUR_FRAME.search(ln) for ln in report.splitlines()[1:])
