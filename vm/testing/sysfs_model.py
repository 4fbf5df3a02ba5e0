"""Pure logic for the ramzswap malformed-input tests (no guest needed; unit-tested in
tests/unit/test_hardening_fuzz.py):

- *oracles*: which byte strings each writable sysfs attribute (and each module
  parameter) may accept, as the driver documents them; everything else is
  malformed and must be rejected.  They are strict: a value is the whole byte
  string written, so an embedded NUL or a second newline makes it malformed.
- a *generator* of malformed values: curated values plus mutations of valid
  ones (whitespace, signs, suffixes, overflow, non-ASCII, NUL, control
  characters, very long strings), filtered through the oracle, deterministic
  for a seed.
- the spec file `rzstool sysfuzz` reads, and the parser of its output.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

PAGE = 4096
U64_MAX = (1 << 64) - 1
UINT_MAX = (1 << 32) - 1
INT_MAX = (1 << 31) - 1
ULONG_MAX = UINT_MAX               # i386
TABLE_ENTRY = 8                    # sizeof(struct rzs_table_entry) on i386
RZS_MAX_PAGES = ULONG_MAX // 2 // TABLE_ENTRY   # kernel/ramzswap: SIZE_MAX / 2 / entry
RZS_COMP_NAME_LEN = 32
RZS_MAX_DEVICES = 32
SIZE_BUF = 32                      # rzs_parse_size() takes fewer than 32 characters
SYSFS_MAX_WRITE = PAGE             # kernfs: longer writes fail with E2BIG
SUFFIX_SHIFT = {c: 10 * (i + 1) for i, c in enumerate("kmgtpe")}

# ---------------------------------------------------------------------------
# oracles


def _strip_nl(b: bytes) -> bytes:
    return b[:-1] if b.endswith(b"\n") else b


def kstrtoull(b: bytes, base: int) -> int | None:
    """The kernel's kstrtoull() on the whole of *b* (one trailing newline allowed),
    or None where it fails.  A NUL byte is just an invalid character here."""
    if b.startswith(b"+"):
        b = b[1:]
    return _kstrtoull(b, base)


def _kstrtoull(b: bytes, base: int) -> int | None:
    if base == 0:
        hexa = b[1:2].lower() == b"x" and _isxdigit(b[2:3])
        base = (16 if hexa else 8) if b[:1] == b"0" else 10
    if base == 16 and b[:2].lower() == b"0x":
        b = b[2:]
    digits = "0123456789abcdef"[:base]
    n = 0
    while n < len(b) and chr(b[n]).lower() in digits and b[n] < 128:
        n += 1
    if n == 0:
        return None
    rest = b[n:]
    if rest not in (b"", b"\n"):
        return None
    val = int(b[:n].decode(), base)
    return val if val <= U64_MAX else None


def _isxdigit(c: bytes) -> bool:
    return len(c) == 1 and c.lower() in b"0123456789abcdef"


def kstrtoint10(b: bytes) -> int | None:
    """kstrtoint(b, 10): one optional sign, decimal digits, one trailing newline."""
    if b.startswith(b"-"):
        v = _kstrtoull(b[1:], 10)
        if v is None or v > INT_MAX + 1:
            return None
        return -v
    v = kstrtoull(b, 10)
    if v is None or v > INT_MAX:
        return None
    return v


def parse_size(b: bytes) -> int | None:
    """What the size attributes document: "<number>[KMGTPE]" as memparse() reads
    it (decimal, 0x hex or 0 octal), one trailing newline, no sign, no junk, no
    overflow.  Returns bytes, or None if malformed."""
    b = _strip_nl(b)
    if not b or len(b) >= SIZE_BUF:
        return None
    shift = SUFFIX_SHIFT.get(chr(b[-1]).lower(), 0) if b[-1] < 128 else 0
    if shift:
        b = b[:-1]
    if not b or not (48 <= b[0] <= 57) or b.endswith(b"\n"):
        return None
    v = _kstrtoull(b, 0)
    if v is None or v > U64_MAX >> shift:
        return None
    return v << shift


def disksize_valid(b: bytes) -> bool:
    v = parse_size(b)
    return v is not None and v > 0 and -(-v // PAGE) <= RZS_MAX_PAGES


def mem_limit_valid(b: bytes) -> bool:
    v = parse_size(b)
    return v is not None and -(-v // PAGE) <= ULONG_MAX


def comp_valid(b: bytes, available: Iterable[str]) -> bool:
    name = _strip_nl(b)
    return 0 < len(name) < RZS_COMP_NAME_LEN and name in {a.encode() for a in available}


def reset_valid(b: bytes) -> bool:
    v = kstrtoint10(b)
    return v is not None and v > 0


def mem_used_max_valid(b: bytes) -> bool:
    return b in (b"0", b"0\n")


def hot_remove_id(b: bytes) -> int | None:
    """The device id hot_remove reads from *b*, or None if *b* is malformed."""
    v = kstrtoint10(b)
    return v if v is not None and v >= 0 else None


def param_uint(b: bytes) -> int | None:
    """param_set_uint(): kstrtouint(val, 0)."""
    v = kstrtoull(b, 0)
    return v if v is not None and v <= UINT_MAX else None


def num_devices_valid(b: bytes) -> bool:
    v = param_uint(b)
    return v is not None and 1 <= v <= RZS_MAX_DEVICES


def logical_block_size_valid(b: bytes) -> bool:
    return param_uint(b) in (512, 4096)


# ---------------------------------------------------------------------------
# the generator

WHITESPACE = (b" ", b"\t", b"\n", b"\r", b"\v", b"\f", b"\n\n", b"\r\n", b"\xc2\xa0")
SIGNS = (b"+", b"-", b"--", b"+-", b"-+", b"~", b"!")
NON_ASCII = (
    "\uff11".encode(),   # fullwidth digit one
    "\u0661".encode(),   # arabic-indic digit one
    "\u00b9".encode(),   # superscript one
    "\u00b5".encode(),   # micro sign
    "\u200b".encode(),   # zero-width space
    "\ufeff".encode(),   # byte order mark
    "\u00e9".encode(), "\uff27".encode(), "\U0001f642".encode(),
    b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xfe\xfe",
)
CONTROL = (b"\x01", b"\x7f", b"\x1b[0m", b"\x08", b"\x00")
JUNK = (b"%s%n", b"%x", b"${IFS}", b"`id`", b"$(reboot)", b"'", b"\"", b"\\", b"../",
        b"/dev/null", b";", b"|", b"&", b"*", b"?", b"[", b"]", b"#", b"=", b",", b".",
        b"null", b"NaN", b"inf", b"-inf", b"true", b"yes", b"on", b"y", b"Y", b"x")
SIZE_SUFFIX_JUNK = (b"GG", b"B", b"KB", b"iB", b"MiB", b"X", b"%", b"kk", b"Mk", b"g\n\n",
                    b"b", b"Z", b"Y", b"kb", b" K", b"\tM", b"K\x00", b"\nG")
NUMBER_JUNK = (b".5", b",5", b"e3", b"E+3", b".0", b"_000", b"'000", b"/2", b"*2", b"h",
               b"u", b"UL", b"ull", b"l")
RADIX_JUNK = (b"0x", b"0xg", b"0b101", b"08", b"09", b"0o7", b"0X", b"0x-1", b"0x+1",
              b"00x1", b"0xx1", b"x10", b"0x 1", b"0 x1", b"019")
EMPTY = (b"\n", b" ", b"\t", b"\n\n", b"\x00", b"\x00\n", b"\r", b" \n")

SIZE_SEEDS = (b"1", b"4096", b"4097", b"1K", b"64M", b"1G", b"2g", b"512m", b"0x100000",
              b"010", b"16M", b"1t", b"100k")
INT_SEEDS = (b"1", b"0", b"2", b"7", b"31", b"32", b"100", str(INT_MAX).encode())


def overflow_values(suffixes: Sequence[bytes] = (b"",)) -> list[bytes]:
    out = []
    for s in suffixes:
        out += [b"9" * 20 + s, b"9" * 30 + s, str(U64_MAX + 1).encode() + s,
                str(U64_MAX).encode() + s, b"18446744073709551616" + s,
                b"0x1" + b"0" * 16 + s, b"0xffffffffffffffff" + s, b"0" + b"7" * 23 + s,
                str(1 << 70).encode() + s, b"1" + b"0" * 40 + s]
    return out


def long_values(seed: bytes) -> list[bytes]:
    return [seed * 40, b"1" * 31 + b"\n", b"1" * 32, b"0" * 31 + b"1", b"0" * 200 + seed,
            seed + b" " * 300, b" " * 1000 + seed, b"A" * 4095, b"9" * 4096,
            b"x" * 5000, seed + b"\x00" * 100]


def mutations(seed: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """(category, value) mutations of one valid *seed*."""
    out: list[tuple[str, bytes]] = []
    for w in WHITESPACE:
        out += [("whitespace", w + seed), ("whitespace", seed + w + b"\n"),
                ("whitespace", seed + w + w)]
        if len(seed) > 1:
            out.append(("whitespace", seed[:1] + w + seed[1:]))
    for s in SIGNS:
        out += [("sign", s + seed), ("sign", seed + s)]
    for c in NON_ASCII:
        out += [("non-ascii", c + seed), ("non-ascii", seed + c),
                ("non-ascii", seed[:1] + c + seed[1:])]
    for c in CONTROL:
        out += [("control", c + seed), ("control", seed + c)]
    # embedded NUL: the attribute sees the bytes after it too
    out += [("nul", seed + b"\x00"), ("nul", seed + b"\x00\n"), ("nul", seed + b"\x00junk"),
            ("nul", b"\x00" + seed), ("nul", seed[:1] + b"\x00" + seed[1:]),
            ("nul", seed + b"\n\x00"), ("nul", seed + b"\x00" + seed)]
    for j in rng.sample(JUNK, 6):
        out += [("junk", seed + j), ("junk", j + seed)]
    out += [("truncated", seed[:i]) for i in range(1, len(seed))]
    out += [("doubled", seed + seed), ("doubled", seed + b"\n" + seed),
            ("newline", seed + b"\n\n"), ("newline", b"\n" + seed), ("newline", seed + b"\r")]
    out += [("long", v) for v in long_values(seed)]
    return out


@dataclass(frozen=True)
class Value:
    attr: str
    category: str
    value: bytes


def _pick(cands: Iterable[tuple[str, bytes]], valid: Callable[[bytes], bool], attr: str,
          n: int, rng: random.Random) -> list[Value]:
    """Up to *n* distinct malformed values, spread over the categories."""
    seen: set[bytes] = set()
    by_cat: dict[str, list[Value]] = {}
    for cat, v in cands:
        if v in seen or v == b"" or valid(v):
            continue
        seen.add(v)
        by_cat.setdefault(cat, []).append(Value(attr, cat, v))
    for vals in by_cat.values():
        rng.shuffle(vals)
    out: list[Value] = []
    # round robin over the categories so each one is represented
    cats = sorted(by_cat)
    while len(out) < n and any(by_cat[c] for c in cats):
        for c in cats:
            if by_cat[c] and len(out) < n:
                out.append(by_cat[c].pop())
    return out


def _size_candidates(seeds: Sequence[bytes], rng: random.Random) -> list[tuple[str, bytes]]:
    c: list[tuple[str, bytes]] = []
    for s in seeds:
        c += mutations(s, rng)
        c += [("suffix", s.rstrip(b"kKmMgGtT") + j) for j in SIZE_SUFFIX_JUNK]
        c += [("number", s + j) for j in NUMBER_JUNK]
    c += [("radix", r) for r in RADIX_JUNK] + [("radix", r + b"M") for r in RADIX_JUNK]
    c += [("overflow", v) for v in overflow_values((b"", b"K", b"G", b"E", b"\n"))]
    c += [("overflow", b"16E"), ("overflow", b"17E"), ("overflow", b"99999E"),
          ("overflow", b"0x10000000000000000"), ("overflow", b"0x8000000000000000K")]
    c += [("empty", e) for e in EMPTY]
    c += [("suffix-only", s) for s in (b"K", b"M", b"G", b"k\n", b"E", b"P")]
    c += [("junk", j) for j in JUNK]
    c += [("non-ascii", n) for n in NON_ASCII]
    return c


def malformed_disksize(n: int, rng: random.Random) -> list[Value]:
    c = _size_candidates(SIZE_SEEDS, rng)
    c += [("zero", z) for z in (b"0", b"0\n", b"0K", b"0G", b"00", b"0x0", b"0x0M", b"000E")]
    c += [("too-large", s) for s in (b"2T", b"3T", b"8T", b"16T", b"1P", b"2199023255553")]
    return _pick(c, disksize_valid, "disksize", n, rng)


def malformed_mem_limit(n: int, rng: random.Random) -> list[Value]:
    c = _size_candidates((*SIZE_SEEDS, b"0"), rng)
    c += [("too-large", s) for s in (b"16T", b"17T", b"1P", b"17592186044416", b"0x100000000000")]
    return _pick(c, mem_limit_valid, "mem_limit", n, rng)


def malformed_comp(n: int, rng: random.Random, available: Sequence[str]) -> list[Value]:
    c: list[tuple[str, bytes]] = []
    for name in available:
        s = name.encode()
        c += mutations(s, rng)
        c += [("case", s.upper()), ("case", s.capitalize()), ("case", s.swapcase()),
              ("prefix", b"x" + s), ("suffix", s + b"-"), ("suffix", s + b"x"),
              ("suffix", s + b"-rle-rle"), ("brackets", b"[" + s + b"]"),
              ("list", s + b" " + s), ("list", s + b"," + s)]
    c += [("unknown", u) for u in (b"deflate", b"lzma", b"lz4hcx", b"zlib", b"crc32c",
                                   b"sha256", b"aes", b"842x", b"none", b"stdrng",
                                   b"lzo-rle-", b"lz", b"zst", b"a" * 31, b"a" * 32,
                                   b"lzo" + b"-" * 40)]
    c += [("empty", e) for e in EMPTY] + [("junk", j) for j in JUNK]
    return _pick(c, lambda b: comp_valid(b, available), "comp_algorithm", n, rng)


def _int_candidates(rng: random.Random) -> list[tuple[str, bytes]]:
    c: list[tuple[str, bytes]] = []
    for s in INT_SEEDS:
        c += mutations(s, rng)
        c += [("number", s + j) for j in NUMBER_JUNK]
    c += [("radix", r) for r in (*RADIX_JUNK, b"0x1", b"0X1F", b"0b1", b"01x")]
    c += [("overflow", v) for v in overflow_values((b"", b"\n"))]
    c += [("overflow", str(v).encode()) for v in (INT_MAX + 1, -(INT_MAX + 2), UINT_MAX,
                                                   1 << 32, -(1 << 32), 1 << 63, -(1 << 63))]
    c += [("empty", e) for e in EMPTY] + [("junk", j) for j in JUNK]
    c += [("non-ascii", n) for n in NON_ASCII]
    return c


def malformed_reset(n: int, rng: random.Random) -> list[Value]:
    c = _int_candidates(rng)
    c += [("zero-or-negative", v) for v in (b"0", b"-1", b"-0", b"00", b"-2147483648", b"0\n",
                                            b"-1\n", b"+0", b"-7")]
    return _pick(c, reset_valid, "reset", n, rng)


def malformed_mem_used_max(n: int, rng: random.Random) -> list[Value]:
    c = _int_candidates(rng) + mutations(b"0", rng)
    c += [("nonzero", v) for v in (b"1", b"00", b"-0", b"+0", b"0x0", b"4096", b"0K", b"0 ")]
    return _pick(c, mem_used_max_valid, "mem_used_max", n, rng)


def malformed_hot_remove(n: int, rng: random.Random) -> list[Value]:
    c = _int_candidates(rng)
    c += [("negative", v) for v in (b"-1", b"-2", b"-2147483648", b"-31", b"-0x1")]
    return _pick(c, lambda b: hot_remove_id(b) is not None, "hot_remove", n, rng)


PARAM_FORBIDDEN = re.compile(rb"[\s\"\x00]")


def malformed_param(name: str, n: int, rng: random.Random) -> list[Value]:
    """Bad values for a module parameter, passed as "name=value" to finit_module():
    no whitespace, quotes or NUL (the kernel would split or stop there)."""
    valid = num_devices_valid if name == "num_devices" else logical_block_size_valid
    c: list[tuple[str, bytes]] = []
    seeds = (b"1", b"32", b"4096", b"512") if name == "logical_block_size" else (b"1", b"2", b"32")
    for s in seeds:
        c += mutations(s, rng)
        c += [("number", s + j) for j in NUMBER_JUNK]
    c += [("radix", r) for r in RADIX_JUNK]
    c += [("overflow", v) for v in overflow_values()]
    c += [("overflow", str(v).encode()) for v in (UINT_MAX + 1, 1 << 40)]
    c += [("range", str(v).encode()) for v in (0, 33, 64, 100, 1000, UINT_MAX, 256, 1024,
                                               2048, 8192, 511, 513, 4095, 4097, 65536)]
    c += [("range", v) for v in (b"0x21", b"041", b"0x0", b"00", b"0x200", b"01000", b"0x1001")]
    c += [("junk", j) for j in JUNK] + [("non-ascii", x) for x in NON_ASCII]
    c += [("empty", b"")]
    c = [(cat, v) for cat, v in c if not PARAM_FORBIDDEN.search(v)]
    seen: set[bytes] = set()
    by_cat: dict[str, list[Value]] = {}
    for cat, v in c:
        if v in seen or valid(v):
            continue
        seen.add(v)
        by_cat.setdefault(cat, []).append(Value(name, cat, v))
    for vals in by_cat.values():
        rng.shuffle(vals)
    out: list[Value] = []
    cats = sorted(by_cat)
    while len(out) < n and any(by_cat[k] for k in cats):
        for k in cats:
            if by_cat[k] and len(out) < n:
                out.append(by_cat[k].pop())
    return out


# ---------------------------------------------------------------------------
# the spec file of `rzstool sysfuzz` and its output


@dataclass(frozen=True)
class Case:
    """One write: *value* to *path*; *attr* and *category* name it in reports;
    *expect* is the set of acceptable errnos (None: any error)."""

    path: str
    attr: str
    category: str
    value: bytes
    expect: frozenset[str] | None = None

    def name(self) -> str:
        v = self.value if len(self.value) <= 40 else self.value[:40] + b"..."
        return f"{self.attr}[{self.category}] <- {v!r} ({len(self.value)} bytes)"


def spec_text(snapshot: Sequence[str], cases: Sequence[Case]) -> str:
    lines = [f"S {p}" for p in snapshot]
    for c in cases:
        assert " " not in c.path and "\n" not in c.path, c.path
        lines.append(f"W {c.path} {c.value.hex() or '-'}")
    return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    case: Case
    open_errno: str
    ret: int
    errno: str
    changed: bool

    @property
    def rejected(self) -> bool:
        return self.open_errno != "OK" or self.ret < 0

    @property
    def error(self) -> str:
        return self.open_errno if self.open_errno != "OK" else self.errno


@dataclass
class FuzzRun:
    outcomes: list[Outcome] = field(default_factory=list)
    changed_states: list[str] = field(default_factory=list)   # the state after each change

    def problems(self) -> list[str]:
        out = []
        for o in self.outcomes:
            if not o.rejected:
                out.append(f"ACCEPTED {o.case.name()}: write returned {o.ret}")
            elif o.case.expect is not None and o.error not in o.case.expect:
                out.append(f"WRONG ERRNO {o.case.name()}: {o.error}, expected "
                           f"{'/'.join(sorted(o.case.expect))}")
            if o.changed:
                out.append(f"STATE CHANGED by {o.case.name()}")
        return out

    def errnos(self) -> dict[str, int]:
        d: dict[str, int] = {}
        for o in self.outcomes:
            d[o.error if o.rejected else "accepted"] = d.get(o.error if o.rejected else
                                                             "accepted", 0) + 1
        return d


_R_LINE = re.compile(r"^R (\d+) (\S+) (-?\d+) (\S+) (same|changed)$")


def parse_sysfuzz(out: str, cases: Sequence[Case], run: FuzzRun) -> tuple[int, bool]:
    """Add the outcomes in one `rzstool sysfuzz` output to *run*.  Returns (the
    index to resume from, whether the tool stopped on a state change)."""
    nxt = None
    stopped = False
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if m := _R_LINE.match(line):
            idx = int(m.group(1))
            run.outcomes.append(Outcome(cases[idx], m.group(2), int(m.group(3)), m.group(4),
                                        m.group(5) == "changed"))
            nxt = idx + 1
        elif line.startswith("C "):
            stopped = True
            run.changed_states.append("\n".join(lines[i + 1:]))
            break
        elif line.startswith("E "):
            nxt = int(line[2:])
    if nxt is None:
        raise ValueError(f"no result in rzstool sysfuzz output: {out[-2000:]!r}")
    return nxt, stopped
