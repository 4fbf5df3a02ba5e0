"""Parse KUnit's KTAP output (Linux 6.1) into one result per test case.

Accepted input:

* dmesg (or a serial console) after a KUnit module ran, with or without
  "[   12.345678] " timestamps or "<6>" levels, with other kernel messages
  interleaved;
* /sys/kernel/debug/kunit/<suite>/results, with the suite's own
  "KTAP version 1" / "# Subtest:" / "1..N" header lines or (as early 6.1
  prints it) without them: the cases indented, then "ok 1 <suite>".

KTAP nests by indentation: a result line closes the deeper-indented results
printed before it.  So "ok 1 xvmalloc" at column 0 is a suite whose cases are
the "    ok N case" lines above it, and "        ok N param" lines above a case
line are that case's parameters.

Parameterized cases are reported once, as the case (its ok is the kernel's own
verdict on the case line, i.e. every parameter passed); each parameter is also
kept in ``KtapCase.params`` as "case/param", and the diag of a failing case
names its failing parameters.  One pytest item per case stays stable when
parameter names change.

Nothing is silently dropped: a suite that printed fewer results than its plan
("1..N") or never printed its own result line (the kernel crashed mid-suite)
gets an extra failing case named INCOMPLETE; a suite marked "not ok" with no
failing case (e.g. its init failed) gets a failing case named SUITE_FAILURE; a
log with no test result at all raises KtapError rather than reading as a pass.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

INCOMPLETE = "(incomplete)"
SUITE_FAILURE = "(suite)"
TRAILING_LINES = 20  # lines after the last result kept in an INCOMPLETE case's diag


@dataclass(frozen=True)
class KtapCase:
    """One KUnit test case.  ok is True for passed and for skipped cases."""

    suite: str
    name: str
    ok: bool
    skipped: bool
    diag: str
    params: tuple[KtapCase, ...] = ()


class KtapError(ValueError):
    """The text holds no KUnit results (never to be read as "all passed")."""


# ---- lines ----------------------------------------------------------------------

_PREFIX = re.compile(r"^(?:<\d+>)?(?:\[\s*\d+\.\d+\])?(?:\[\s*[TC]\d+\])?")
_VERSION = re.compile(r"^K?TAP version \d+\s*$")
_PLAN = re.compile(r"^1\.\.(\d+)\s*$")
_SUBTEST = re.compile(r"^# Subtest: (.*\S)\s*$")
_RESULT = re.compile(
    r"^(?P<status>not ok|ok)\s+(?P<num>\d+)(?:\s+-)?(?:\s+(?P<name>.*?))?"
    r"(?:\s+#\s*(?P<directive>(?i:SKIP|TODO|XFAIL))\b\s*(?P<reason>.*?))?\s*$"
)
_STATS = re.compile(r"^# (?:Totals|\S+): pass:\d+ fail:\d+ skip:\d+ total:\d+\s*$")


def _strip_prefix(line: str) -> str:
    """The line without dmesg level/timestamp prefixes; KTAP indentation kept."""
    line = line.rstrip("\r\n")
    m = _PREFIX.match(line)
    if m and m.end():
        line = line[m.end():]
        if line.startswith(" "):
            line = line[1:]  # printk puts exactly one space after the timestamp
    return line.rstrip()


# ---- the result tree ------------------------------------------------------------


@dataclass
class _Node:
    status_ok: bool
    number: int
    name: str
    skipped: bool
    reason: str
    diag: list[str]
    indent: int
    children: _Group | None = None


@dataclass
class _Group:
    """The results printed at one indentation under one (future) parent line."""

    indent: int
    subtest: str | None = None
    plan: int | None = None
    results: list[_Node] = field(default_factory=list)


@dataclass
class _Parser:
    levels: dict[int, _Group] = field(default_factory=dict)
    top: list[_Group] = field(default_factory=list)      # finished column-0 groups
    orphans: list[_Group] = field(default_factory=list)  # groups whose parent never printed
    pending: list[str] = field(default_factory=list)     # diag for the next result
    inside: bool = False
    seen_result: bool = False

    def group(self, indent: int) -> _Group:
        if indent not in self.levels:
            self.levels[indent] = _Group(indent)
        return self.levels[indent]

    def retire(self, indent: int) -> None:
        """Set aside the group at *indent* (and deeper) before a new one starts there."""
        for d in sorted(d for d in self.levels if d >= indent):
            g = self.levels.pop(d)
            if g.results or g.subtest is not None:
                (self.top if d == 0 else self.orphans).append(g)

    def header(self, indent: int, line: str) -> None:
        self.inside = True
        self.pending = []
        g = self.levels.get(indent)
        if _VERSION.match(line):
            if g is not None and (g.results or g.subtest is not None):
                self.retire(indent)
            self.group(indent)
        elif m := _SUBTEST.match(line):
            if g is not None and (g.results or g.subtest is not None):
                self.retire(indent)
            self.group(indent).subtest = m.group(1)
        elif m := _PLAN.match(line):
            self.group(indent).plan = int(m.group(1))

    def result(self, indent: int, m: re.Match[str]) -> None:
        self.inside = True
        self.seen_result = True
        node = _Node(
            status_ok=m.group("status") == "ok",
            number=int(m.group("num")),
            name=(m.group("name") or "").strip(),
            skipped=(m.group("directive") or "").upper() == "SKIP",
            reason=(m.group("reason") or "").strip(),
            diag=self.pending,
            indent=indent,
        )
        self.pending = []
        deeper = sorted(d for d in self.levels if d > indent)
        if deeper:
            node.children = self.levels.pop(deeper[0])
            for d in deeper[1:]:
                self.orphans.append(self.levels.pop(d))
        self.group(indent).results.append(node)
        if indent == 0:
            self.inside = False

    def other(self, raw: str, line: str) -> None:
        body = line.strip()
        if not body or _STATS.match(body):
            return
        if not self.inside and not (raw[:1].isspace() or line[:1].isspace()
                                    or body.startswith("#")):
            return  # kernel messages outside any KTAP document
        self.pending.append(body[2:] if body.startswith("# ") else body)

    def feed(self, text: str) -> None:
        for raw in text.splitlines():
            line = _strip_prefix(raw)
            body = line.lstrip(" ")
            indent = len(line) - len(body)
            if _VERSION.match(body) or _SUBTEST.match(body) or _PLAN.match(body):
                self.header(indent, body)
            elif m := _RESULT.match(body):
                self.result(indent, m)
            else:
                self.other(raw, line)

    def finish(self) -> None:
        self.retire(0)


# ---- from the tree to cases ---------------------------------------------------


def _case(suite: str, node: _Node, extra_diag: Iterable[str] = ()) -> KtapCase:
    diag = list(node.diag)
    if node.skipped and node.reason:
        diag.append(f"SKIP {node.reason}")
    params: tuple[KtapCase, ...] = ()
    if node.children is not None:
        params = tuple(_params(suite, node.name, node.children))
        for p in params:
            if not p.ok:
                diag.append(f"{p.name.split('/', 1)[1]}: not ok")
                diag.extend("    " + ln for ln in p.diag.splitlines())
        diag.extend(_plan_problems(node.children, f"case {node.name!r}"))
    diag.extend(extra_diag)
    ok = node.status_ok and not any(not p.ok for p in params)
    if not ok and not diag:
        diag.append("reported not ok (no diagnostic lines in this log)")
    return KtapCase(suite, node.name, ok, node.skipped, "\n".join(diag), params)


def _params(suite: str, case: str, group: _Group) -> list[KtapCase]:
    out: list[KtapCase] = []
    for n in group.results:
        name = f"{case}/{n.name}"
        out.append(KtapCase(suite, name, n.status_ok, n.skipped, "\n".join(n.diag)))
        if n.children is not None:
            out.extend(_params(suite, name, n.children))
    return out


def _plan_problems(group: _Group, what: str) -> list[str]:
    if group.plan is not None and len(group.results) < group.plan:
        return [f"{what} announced {group.plan} results but printed {len(group.results)}"]
    return []


def _suite_cases(suite: str, group: _Group, node: _Node | None) -> list[KtapCase]:
    cases = [_case(suite, n) for n in group.results]
    problems = _plan_problems(group, f"suite {suite!r}")
    if node is None:
        problems.append(f"suite {suite!r} printed no result line of its own "
                        f"(did the kernel crash? see the full log)")
    if problems:
        cases.append(KtapCase(suite, INCOMPLETE, False, False, "\n".join(problems)))
    elif node is not None and not node.status_ok and all(c.ok for c in cases):
        cases.append(KtapCase(suite, SUITE_FAILURE, False, False,
                              "\n".join(node.diag) or f"suite {suite!r} reported not ok"))
    return cases


def parse_ktap(text: str) -> list[KtapCase]:
    """Every KUnit test case in *text* (dmesg or a debugfs results file), in order.

    Raises KtapError if *text* holds no KTAP result line or no test case."""
    p = _Parser()
    p.feed(text)
    p.finish()
    if not p.seen_result and not p.orphans:
        raise KtapError("no KTAP test results in the text (did the KUnit module run? "
                        "is CONFIG_KUNIT set?)")
    out: list[KtapCase] = []
    suites_seen = 0
    for g in p.top:
        for node in g.results:
            suites_seen += 1
            if node.children is not None:
                out.extend(_suite_cases(node.name, node.children, node))
            else:
                # A suite without cases: KUnit indents cases, so a bare column-0
                # result is a suite's own line, e.g. "not ok 1 xvmalloc" after
                # "# failed to initialize (-12)".
                c = _case(node.name, node)
                out.append(dataclasses.replace(c, name=SUITE_FAILURE))
        if g.plan is not None and len(g.results) + len(p.orphans) < g.plan:
            out.append(KtapCase("", INCOMPLETE, False, False,
                                f"the log announced {g.plan} suites but only "
                                f"{len(g.results)} finished"))
    parents: dict[int, str] = {}
    trailing = p.pending[-TRAILING_LINES:]
    for g in sorted(p.orphans, key=lambda g: g.indent):
        outer = [s for d, s in parents.items() if d < g.indent]
        name = g.subtest or ""
        if outer:  # an unfinished parameterized case inside an unfinished suite
            node = _Node(False, 0, name, False, "", [], g.indent, g)
            out.append(_case(outer[-1], node, ["no result line for this case (crash?)"]))
        else:
            suites_seen += 1
            cases = _suite_cases(name, g, None)
            if trailing:  # what the kernel printed last: usually the crash
                last = cases[-1]
                cases[-1] = dataclasses.replace(
                    last, diag=last.diag + "\nlast lines after it:\n" + "\n".join(trailing))
                trailing = []
            out.extend(cases)
            parents[g.indent] = name
    if not out:
        raise KtapError(f"KTAP output with no test cases ({suites_seen} empty suites)")
    return out


def summarize(cases: Iterable[KtapCase]) -> tuple[int, int, int]:
    """(passed, failed, skipped) over *cases*."""
    passed = failed = skipped = 0
    for c in cases:
        if c.skipped:
            skipped += 1
        elif c.ok:
            passed += 1
        else:
            failed += 1
    return passed, failed, skipped


def describe_failures(cases: Iterable[KtapCase]) -> str:
    """The failing cases with their diagnostics, for an assertion message."""
    out: list[str] = []
    for c in cases:
        if not c.ok:
            out.append(f"not ok {c.suite}.{c.name}")
            out.extend("    " + ln for ln in c.diag.splitlines())
    return "\n".join(out)
