"""Parsers of the guest's stat files, one per file, shared by tests and bench.

The device files follow zram's layout (Documentation/admin-guide/blockdev/
zram.rst): one line of integers.  mm_stat has eight fields, and a ninth
(huge_pages_since) in zram since 5.15 and in ramzswap; it is kept when present.  A
line with fewer fields, or one that is not all integers, raises StatError.

    parse_mm_stat(text), parse_io_stat(text), parse_bd_stat(text), parse_xv_stat(text),
    parse_debug_stat(text), parse_meminfo(text) (KiB), parse_vmstat(text),
    parse_zone_watermarks(zoneinfo, zone)
"""

from __future__ import annotations

import re

MM_STAT_FIELDS = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit",
                  "mem_used_max", "same_pages", "pages_compacted", "huge_pages")
MM_STAT_OPTIONAL = ("huge_pages_since",)
IO_STAT_FIELDS = ("failed_reads", "failed_writes", "invalid_io", "notify_free")
XV_STAT_FIELDS = ("objects", "bytes_requested", "bytes_in_pool", "pages_total",
                  "pages_highmem", "alloc_failures", "pages_stashed", "meta_bytes")
BD_STAT_FIELDS = ("bd_count", "bd_reads", "bd_writes")
DEBUG_STAT_FIELDS = ("num_reads", "num_writes", "writestall", "miss_free")
DEBUG_STAT_VERSION = "version: 1"


class StatError(ValueError):
    """A stat file does not have the layout its parser expects."""


def parse_fields(what: str, names: tuple[str, ...], text: str,
                 optional: tuple[str, ...] = ()) -> dict[str, int]:
    """One line of integers (spaces or commas) -> {name: value}: exactly
    *names*, then at most the *optional* ones."""
    words = text.replace(",", " ").split()
    if not len(names) <= len(words) <= len(names) + len(optional):
        raise StatError(f"{what}: expected {len(names)} fields"
                        f"{f' (or up to {len(names) + len(optional)})' if optional else ''}"
                        f", got {text.strip()!r}")
    try:
        values = [int(w) for w in words]
    except ValueError as e:
        raise StatError(f"{what}: not all integers: {text.strip()!r}") from e
    return dict(zip(names + optional, values, strict=False))


def parse_mm_stat(text: str) -> dict[str, int]:
    return parse_fields("mm_stat", MM_STAT_FIELDS, text, MM_STAT_OPTIONAL)


def parse_io_stat(text: str) -> dict[str, int]:
    return parse_fields("io_stat", IO_STAT_FIELDS, text)


def parse_bd_stat(text: str) -> dict[str, int]:
    """bd_stat (zram's writeback counters, in 4 KiB units)."""
    return parse_fields("bd_stat", BD_STAT_FIELDS, text)


def parse_xv_stat(text: str) -> dict[str, int]:
    return parse_fields("xv_stat", XV_STAT_FIELDS, text)


def parse_debug_stat(text: str) -> dict[str, int]:
    """ramzswap's debug_stat: a "version: 1" line, then a line of counters."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or lines[0].strip() != DEBUG_STAT_VERSION:
        raise StatError(f"debug_stat: expected {DEBUG_STAT_VERSION!r} and one line of "
                        f"counters, got {text.strip()!r}")
    return parse_fields("debug_stat", DEBUG_STAT_FIELDS, lines[1])


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo -> {field: KiB} (HugePages_* counts are taken as they are)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        words = rest.split()
        if not sep or not words:
            raise StatError(f"meminfo: unexpected line {line!r}")
        out[name] = int(words[0])
    return out


def parse_vmstat(text: str) -> dict[str, int]:
    """/proc/vmstat -> {counter: value}."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) != 2:
            raise StatError(f"vmstat: unexpected line {line!r}")
        out[words[0]] = int(words[1])
    return out
def parse_zone_watermarks(zoneinfo: str, zone: str = "Normal") -> dict[str, int]:
    """free/boost/min/low/high (pages) of one zone in /proc/zoneinfo; min, low
    and high include the boost."""
    out: dict[str, int] = {}
    cur = None
    for line in zoneinfo.splitlines():
        m = re.match(r"^Node \d+, zone\s+(\S+)", line)
        if m:
            cur = m.group(1)
            continue
        if cur != zone:
            continue
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "pages" and parts[1] == "free":
            out["free"] = int(parts[2])
        elif len(parts) == 2 and parts[0] in ("boost", "min", "low", "high") \
                and parts[0] not in out:
            out[parts[0]] = int(parts[1])
    return out
