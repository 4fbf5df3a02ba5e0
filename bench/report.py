"""Results document -> ratios, a Markdown report and PNG plots under
results/<timestamp>-<plan>/ (raw JSON beside them), plus results/latest.md (full
runs) or results/latest-quick.md (quick runs) for the README to link.

Everything but write() and plots() is pure, for tests/unit/test_bench_report.py.
Ratios are ours / reference: for memory and nanoseconds lower is better, for MiB/s
higher is better.  Timing is reported, never judged: "target" only shows the
issue's goal next to the measured ratio."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vm.paths import DEFAULT_KERNEL, series_of

SCHEMA_VERSION = 1
PAGE = 4096
ALLOCATORS = ("xvmalloc", "zsmalloc", "kmalloc", "kmem_cache")
DEVICES = ("ramzswap", "zram", "brd")
HEADLINE_DIST = "corpus-lzo-rle"

# ---- schema -----------------------------------------------------------------------

RUN_MEMORY = ("objects", "bytes_requested", "pages", "pages_highmem", "slab_pages_delta",
              "lowmem_pages_taken", "highmem_pages_taken", "ksize_bytes")
RUN_TIMES = ("median", "p99", "min", "max", "mean", "batches", "ops")
RUN_FIELDS = ("alloc", "dist", "kib", "churn", "map", "seed", "objects", "mean_size",
              "batch", "pages_source", "after_fill", "after_churn", "after_drain",
              "fill_alloc_ns", "churn_alloc_ns", "churn_free_ns", "drain_free_ns",
              "xv_check_pool", "error", "run_ms")
TOP_FIELDS = ("schema", "plan", "started", "plan_detail", "host", "guest", "corpus",
              "allocator", "device", "kernel_log", "seconds")
GUEST_FIELDS = ("flavour", "release", "accel", "cpus", "clocksource", "meminfo_kib")
CORPUS_FIELDS = ("pages", "mib", "seed", "kinds", "sources", "sha256")
CORPUS_KINDS = ("zero", "same", "random", "text", "program", "library")
XVBENCH_FIELDS = ("xvbench", "page_size", "batch", "cache_step", "huge_size", "clock",
                  "tsc_cycles_per_ms", "corpus", "runs", "results_truncated")
PREFILL_FIELDS = ("seconds", "mib_s", "bytes", "mm_stat", "xv_stat", "memfree_drop_kib",
                  "lowfree_drop_kib")
IO_FIELDS = ("tool", "rw", "jobs", "mib_s", "iops", "ops")
SWAP_FIELDS = ("hog", "wall_seconds", "pageout_seconds", "verify_seconds", "pswpout_mib",
               "pswpin_mib", "out_mib_s", "in_mib_s", "peak", "samples", "final")
PEAK_FIELDS = ("stored_kib", "orig_data_bytes", "mem_used_bytes", "mem_used_per_gib_stored",
               "mem_used_source", "lowfree_drop_kib", "lowfree_drop_per_gib_stored",
               "memfree_drop_kib", "pool_lowmem_pages")
HOG_FIELDS = ("mib", "mismatches", "write_seconds", "verify_seconds", "write_mib_s",
              "verify_mib_s", "passes")
FIO_FIELDS = (*IO_FIELDS, "clat_median_ns", "clat_p99_ns")
BIG_FIELDS = ("kind", "disk_factor", "ram_mib", "hog_mib", "hog", "out_mib_s", "in_mib_s",
              "peak_orig_data_bytes", "peak_mem_used_bytes", "peak_swap_used_kib")
BIG_DEVICES = ("ramzswap", "zram")
MIX_FIELDS = ("kind", "random_pct", "mib", "mm_stat", "swap_used_kib", "mismatches",
              "mem_per_stored", "overhead")
WRITEBACK_FIELDS = ("kind", "mib", "seconds", "read_seconds", "pages_written", "mib_s",
                    "read_mib_s", "mm_stat_before", "mm_stat_after", "bd_stat",
                    "read_back_equal")


def _missing(d: Any, fields: Iterable[str], where: str) -> list[str]:
    if not isinstance(d, dict):
        return [f"{where}: not an object"]
    return [f"{where}.{f}" for f in fields if f not in d]


def validate(res: dict[str, Any]) -> list[str]:
    """Every field the report and a reader rely on; returns what is missing."""
    p = _missing(res, TOP_FIELDS, "$")
    if p:
        return p
    p += _missing(res["guest"], GUEST_FIELDS, "guest")
    p += _missing(res["corpus"], CORPUS_FIELDS, "corpus")
    p += _missing(res["corpus"].get("kinds"), CORPUS_KINDS, "corpus.kinds")
    a = res["allocator"]
    p += _missing(a, ("plan", "caps", "xvbench"), "allocator")
    xb = a.get("xvbench", {})
    p += _missing(xb, XVBENCH_FIELDS, "allocator.xvbench")
    for lst in ("corpus-lzo-rle", "corpus-lz4"):
        p += _missing(xb.get("corpus", {}).get("lists", {}).get(lst),
                      ("n", "sum", "huge", "hist"), f"allocator.xvbench.corpus.lists.{lst}")
    runs = xb.get("runs", [])
    for i, r in enumerate(runs):
        w = f"allocator.xvbench.runs[{i}]"
        p += _missing(r, RUN_FIELDS, w)
        for ph in ("after_fill", "after_churn", "after_drain"):
            p += _missing(r.get(ph), RUN_MEMORY, f"{w}.{ph}")
        for t in ("fill_alloc_ns", "churn_alloc_ns", "churn_free_ns", "drain_free_ns"):
            if r.get(t) is not None:
                p += _missing(r[t], RUN_TIMES, f"{w}.{t}")
    plan = a.get("plan", {})
    for dist in plan.get("dists", ()):
        for m in plan.get("maps", ()):
            for al in ALLOCATORS:
                if find_run(res, al, dist, plan["kib"], m, plan["churn"]) is None:
                    p.append(f"allocator: no run {al} {dist} map={int(m)} at {plan['kib']} KiB")
    for al in ALLOCATORS:
        if len(ladder(res, al)) < 2:
            p.append(f"allocator: fewer than two pool sizes for {al}")
    devs = res["device"].get("devices", {})
    for dev in DEVICES:
        d = devs.get(dev)
        w = f"device.devices.{dev}"
        p += _missing(d, ("prefill", "reads", "writes", "after_writes", "swap"), w)
        if not isinstance(d, dict):
            continue
        p += _missing(d.get("prefill"), PREFILL_FIELDS, f"{w}.prefill")
        if dev != "brd" and not (d.get("prefill") or {}).get("mm_stat"):
            p.append(f"{w}.prefill.mm_stat: empty")
        for k in ("reads", "writes"):
            if not d.get(k):
                p.append(f"{w}.{k}: empty")
            for i, io in enumerate(d.get(k, [])):
                p += _missing(io, IO_FIELDS, f"{w}.{k}[{i}]")
        for i, io in enumerate(d.get("fio") or []):
            p += _missing(io, FIO_FIELDS, f"{w}.fio[{i}]")
        sw = d.get("swap")
        p += _missing(sw, SWAP_FIELDS, f"{w}.swap")
        if isinstance(sw, dict):
            p += _missing(sw.get("peak"), PEAK_FIELDS, f"{w}.swap.peak")
            p += _missing(sw.get("hog"), HOG_FIELDS, f"{w}.swap.hog")
    for i, b in enumerate(res["device"].get("big_swap") or []):
        p += _missing(b, BIG_FIELDS, f"device.big_swap[{i}]")
    # results before the mixes and writeback sections have neither
    for i, m in enumerate(res.get("mixes") or []):
        p += _missing(m, MIX_FIELDS, f"mixes[{i}]")
    for i, w in enumerate(res.get("writeback") or []):
        p += _missing(w, WRITEBACK_FIELDS, f"writeback[{i}]")
    return p


# ---- lookups and figures -------------------------------------------------------------

def runs(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = res["allocator"]["xvbench"]["runs"]
    return out


def _speed_key(r: dict[str, Any]) -> float:
    v = alloc_free_ns(r)
    return float("inf") if r["error"] or v is None else v


def best(cands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of repeated runs of one configuration, the fastest (alloc+free median):
    the one least disturbed by the host.  Memory figures are the same in every
    repeat (same seed, same sizes)."""
    return min(cands, key=_speed_key) if cands else None


def find_run(res: dict[str, Any], alloc: str, dist: str, kib: int, map_: bool,
             churn: int | None = None, thin: int = 0) -> dict[str, Any] | None:
    return best([r for r in runs(res)
                 if r["alloc"] == alloc and r["dist"] == dist and r["kib"] == kib
                 and bool(r["map"]) == bool(map_) and (churn is None or r["churn"] == churn)
                 and r.get("thin", 0) == thin])


def over_ideal(run: dict[str, Any], phase: str) -> float | None:
    """Pool pages over the pages the live objects' bytes fill end to end."""
    ideal = -(-int(run[phase]["bytes_requested"]) // PAGE)
    return int(run[phase]["pages"]) / ideal if ideal else None


def compaction_rows(res: dict[str, Any]) -> list[Row]:
    """Pool pages over ideal after the thinning and after compacting, xvmalloc
    beside zsmalloc (runs with plan.thin; none without)."""
    plan = res["allocator"]["plan"]
    thin = plan.get("thin", 0)
    if not thin:
        return []
    xv = find_run(res, "xvmalloc", HEADLINE_DIST, plan["kib"], False, plan["churn"], thin)
    zs = find_run(res, "zsmalloc", HEADLINE_DIST, plan["kib"], False, plan["churn"], thin)
    if not xv or not zs:
        return []
    sec = f"allocator compaction ({thin}% of the objects freed at random, then compacted)"
    rows = []
    for phase, what, target in (("after_thin", "before compacting", ""),
                                ("after_compact", "after compacting", "<= 1.15")):
        if phase in xv and phase in zs:
            rows.append(Row(sec, f"pool pages / ideal {what}: xvmalloc, zsmalloc as ref",
                            _f(over_ideal(xv, phase), "{:.3f}"),
                            _f(over_ideal(zs, phase), "{:.3f}"),
                            over_ideal(xv, phase), target, fmt="{:.3f}"))
    return rows


def ladder(res: dict[str, Any], alloc: str) -> list[dict[str, Any]]:
    """The pool-size runs of one allocator (ladder dist, no map, ladder churn), by
    size, the best of the repeats at each size."""
    plan = res["allocator"]["plan"]
    dist = plan.get("ladder_dist", HEADLINE_DIST)
    sizes = sorted({r["kib"] for r in runs(res) if r["alloc"] == alloc and r["dist"] == dist
                    and not r["map"] and r["churn"] == plan["ladder_churn"]
                    and not r["error"]})
    out = [find_run(res, alloc, dist, k, False, plan["ladder_churn"]) for k in sizes]
    return [r for r in out if r is not None]


def held_bytes(run: dict[str, Any], phase: str = "after_churn") -> int:
    return int(run[phase]["pages"]) * PAGE


def density(run: dict[str, Any], phase: str = "after_churn") -> float | None:
    held = held_bytes(run, phase)
    return run[phase]["bytes_requested"] / held if held else None


def ns(run: dict[str, Any], key: str, stat: str = "median") -> float | None:
    t = run.get(key)
    return None if t is None else float(t[stat])


def alloc_free_ns(run: dict[str, Any], stat: str = "median") -> float | None:
    a, f = ns(run, "churn_alloc_ns", stat), ns(run, "churn_free_ns", stat)
    return None if a is None or f is None else a + f


def ratio(ours: float | None, ref: float | None) -> float | None:
    if ours is None or ref is None or ref == 0:
        return None
    return ours / ref


@dataclass(frozen=True)
class Row:
    section: str
    metric: str
    ours: str
    ref: str
    ratio: float | None
    target: str = ""
    better: str = "lower"       # lower or higher
    fmt: str = "{:.2f}"         # of the ratio

    def meets(self) -> str:
        if not self.target or self.ratio is None:
            return ""
        op, _, val = self.target.partition(" ")
        lim = float(val.rstrip("%")) / (100 if val.endswith("%") else 1)
        ok = self.ratio <= lim if op == "<=" else self.ratio >= lim
        return "yes" if ok else "no"


def _f(v: float | None, fmt: str = "{:.2f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def _mib(b: float | None) -> str:
    return "n/a" if b is None else f"{b / (1 << 20):.1f} MiB"


def headline(res: dict[str, Any]) -> list[Row]:
    """The ratios the issue asks for, ours over each reference."""
    rows: list[Row] = []
    plan = res["allocator"]["plan"]
    kib, churn = plan["kib"], plan["churn"]

    def run(al: str, m: bool = False) -> dict[str, Any] | None:
        return find_run(res, al, HEADLINE_DIST, kib, m, churn)

    xv = run("xvmalloc")
    sec = f"allocator ({HEADLINE_DIST} sizes, {kib // 1024} MiB, after churn {churn}x)"
    for ref, target in (("zsmalloc", ""), ("kmalloc", "<= 0.60"), ("kmem_cache", "")):
        r = run(ref)
        if xv and r:
            rows.append(Row(sec, f"memory held: xvmalloc / {ref}", _mib(held_bytes(xv)),
                            _mib(held_bytes(r)), ratio(held_bytes(xv), held_bytes(r)),
                            target))
    for m in (False, True):
        xvm, zs, km = run("xvmalloc", m), run("zsmalloc", m), run("kmalloc", m)
        what = "alloc+free ns, median" + (" (with map + copy)" if m else "")
        if xvm and zs:
            rows.append(Row(sec, f"{what}: xvmalloc / zsmalloc", _f(alloc_free_ns(xvm), "{:.0f}"),
                            _f(alloc_free_ns(zs), "{:.0f}"),
                            ratio(alloc_free_ns(xvm), alloc_free_ns(zs)), "<= 0.70"))
        if xvm and km:
            rows.append(Row(sec, f"{what}: xvmalloc / kmalloc", _f(alloc_free_ns(xvm), "{:.0f}"),
                            _f(alloc_free_ns(km), "{:.0f}"),
                            ratio(alloc_free_ns(xvm), alloc_free_ns(km))))
    rows += compaction_rows(res)
    for al in ALLOCATORS:
        pts = ladder(res, al)
        if len(pts) >= 2:
            lo, hi = pts[0], pts[-1]
            rows.append(Row("allocator pool size (O(1))",
                            f"{al}: alloc+free ns at {hi['kib'] // 1024} MiB / "
                            f"{lo['kib'] // 1024} MiB",
                            _f(alloc_free_ns(hi), "{:.0f}"), _f(alloc_free_ns(lo), "{:.0f}"),
                            ratio(alloc_free_ns(hi), alloc_free_ns(lo)),
                            "<= 1.2" if al == "xvmalloc" else ""))
    devs = res["device"]["devices"]
    rz, zr, brd = devs["ramzswap"], devs["zram"], devs["brd"]
    sec = f"devices (corpus {res['corpus']['mib']} MiB, {res['device']['compressor']})"
    rz_mem = rz["prefill"]["mm_stat"]["mem_used_total"]
    zr_mem = zr["prefill"]["mm_stat"]["mem_used_total"]
    brd_mem = brd["prefill"]["bytes"]
    rows.append(Row(sec, "memory for the corpus: ramzswap / zram", _mib(rz_mem), _mib(zr_mem),
                    ratio(rz_mem, zr_mem), "<= 1.00"))
    rows.append(Row(sec, "memory for the corpus: ramzswap / brd", _mib(rz_mem), _mib(brd_mem),
                    ratio(rz_mem, brd_mem)))
    rounds = len(rz["swap"].get("rounds") or [None])
    sec = (f"swap (hog {rz['swap']['hog']['mib']} MiB x {rz['swap']['hog']['passes']} page-outs"
           + (f", median of {rounds} rounds)" if rounds > 1 else ")"))
    for key, what in (("out_mib_s", "swap out MiB/s"), ("in_mib_s", "swap in MiB/s")):
        for refname, ref, target in (("zram", zr, ">= 1.0"), ("brd", brd, "")):
            rows.append(Row(sec, f"{what}: ramzswap / {refname}", _f(rz["swap"][key], "{:.1f}"),
                            _f(ref["swap"][key], "{:.1f}"),
                            ratio(rz["swap"][key], ref["swap"][key]), target, "higher"))
    for dev in ("ramzswap", "zram"):
        peak = devs[dev]["swap"]["peak"]
        v = peak["lowfree_drop_per_gib_stored"]
        rows.append(Row(sec, f"{dev}: LowFree drop / swap stored",
                        f"{peak['lowfree_drop_kib']} KiB",
                        f"{peak['stored_kib'] // 1024} MiB", v, "<= 2%", fmt="{:.2%}"))
    mz = [devs[d]["swap"]["peak"]["mem_used_per_gib_stored"] for d in ("ramzswap", "zram")]
    rows.append(Row(sec, "mem_used per GiB stored: ramzswap / zram", _f(mz[0], "{:.3f}"),
                    _f(mz[1], "{:.3f}"), ratio(mz[0], mz[1]), "<= 1.00"))
    for f, pair in big_pairs(res):
        rz_b, zr_b = pair["ramzswap"], pair["zram"]
        sec = (f"swap larger than RAM (hog {rz_b['hog_mib']} MiB, RAM {rz_b['ram_mib']} MiB, "
               f"disksize {f}x RAM)")
        rows.append(Row(sec, "peak orig_data_size: ramzswap / zram",
                        _mib(rz_b["peak_orig_data_bytes"]), _mib(zr_b["peak_orig_data_bytes"]),
                        ratio(rz_b["peak_orig_data_bytes"], zr_b["peak_orig_data_bytes"]),
                        "<= 1.02"))
        for key, what in (("out_mib_s", "swap out MiB/s"), ("in_mib_s", "swap in MiB/s")):
            rows.append(Row(sec, f"{what}: ramzswap / zram", _f(rz_b[key], "{:.1f}"),
                            _f(zr_b[key], "{:.1f}"), ratio(rz_b[key], zr_b[key]), ">= 1.0",
                            "higher"))
    rows += mix_rows(res)
    rows += writeback_rows(res)
    for io_rz, io_zr in fio_pairs(res):
        if io_rz["clat_p99_ns"] is None or io_zr["clat_p99_ns"] is None:
            continue
        rows.append(Row("fio on the raw device", f"p99 latency {fio_name(io_rz)}: ramzswap / zram",
                        f"{io_rz['clat_p99_ns'] / 1000:.0f} us",
                        f"{io_zr['clat_p99_ns'] / 1000:.0f} us",
                        ratio(io_rz["clat_p99_ns"], io_zr["clat_p99_ns"]), "<= 1.00"))
    return rows


def mix_pairs(res: dict[str, Any]) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(random %, ramzswap run, zram run) of the mixes section, both devices."""
    by: dict[int, dict[str, dict[str, Any]]] = {}
    for m in res.get("mixes") or []:
        by.setdefault(m["random_pct"], {})[m["kind"]] = m
    return [(pct, d["ramzswap"], d["zram"]) for pct, d in by.items()
            if "ramzswap" in d and "zram" in d]


# Issue 13's targets: memory for the same data <= 0.95 with a quarter of the
# pages incompressible, never above 1.00 with all of them; on the hog with a
# fifth, peak memory <= 1.00 and allocator overhead <= 1.01.
MIX_MEMORY_TARGET = {25: "<= 0.95", 100: "<= 1.00", 20: "<= 1.00"}
MIX_OVERHEAD_TARGET = "<= 1.01"


def mix_rows(res: dict[str, Any]) -> list[Row]:
    rows = []
    for pct, rz, zr in mix_pairs(res):
        sec = f"swap mix ({rz['mib']} MiB hog, {pct}% incompressible, held paged out)"
        rows.append(Row(sec, "memory per byte stored: ramzswap / zram",
                        _f(rz["mem_per_stored"], "{:.3f}"), _f(zr["mem_per_stored"], "{:.3f}"),
                        ratio(rz["mem_per_stored"], zr["mem_per_stored"]),
                        MIX_MEMORY_TARGET.get(pct, "")))
        rows.append(Row(sec, "allocator overhead mem_used / compr_data_size: ramzswap, "
                        "zram as ref", _f(rz["overhead"], "{:.3f}"), _f(zr["overhead"], "{:.3f}"),
                        rz["overhead"], MIX_OVERHEAD_TARGET, fmt="{:.3f}"))
    return rows


def mix_table(res: dict[str, Any]) -> str:
    rows = []
    for m in res.get("mixes") or []:
        mm = m["mm_stat"]
        rows.append([f"{m['random_pct']}%", m["kind"], str(m["mib"]),
                     _mib(mm["orig_data_size"]), _mib(mm["compr_data_size"]),
                     _mib(mm["mem_used_total"]), str(mm["huge_pages"]),
                     _f(m["mem_per_stored"], "{:.3f}"), _f(m["overhead"], "{:.3f}"),
                     str(m["mismatches"])])
    return _table(["incompressible", "device", "hog MiB", "orig_data_size", "compr_data_size",
                   "mem_used_total", "huge_pages", "memory per byte stored",
                   "mem_used / compr", "mismatches"], rows)


def writeback_pair(res: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(ramzswap run, zram run) of the writeback section, if both ran."""
    by = {w["kind"]: w for w in res.get("writeback") or []}
    return (by["ramzswap"], by["zram"]) if "ramzswap" in by and "zram" in by else None


def writeback_rows(res: dict[str, Any]) -> list[Row]:
    pair = writeback_pair(res)
    if pair is None:
        return []
    rz, zr = pair
    sec = f"writeback ({rz['mib']} MiB of the corpus, idle pages to a loop device)"
    return [Row(sec, f"{what}: ramzswap / zram", _f(rz[key], "{:.1f}"), _f(zr[key], "{:.1f}"),
                ratio(rz[key], zr[key]), ">= 1.0", "higher")
            for key, what in (("mib_s", "writeback MiB/s"),
                              ("read_mib_s", "read back from the backing device MiB/s"))]


def writeback_table(res: dict[str, Any]) -> str:
    rows = []
    for w in res.get("writeback") or []:
        b, a = w["mm_stat_before"], w["mm_stat_after"]
        rows.append([w["kind"], str(w["pages_written"]), f"{w['seconds']:.2f} s",
                     _f(w["mib_s"], "{:.1f}"), _mib(b["mem_used_total"]),
                     _mib(a["mem_used_total"]), str(w["bd_stat"]["bd_count"]),
                     _f(w["read_mib_s"], "{:.1f}"), "yes" if w["read_back_equal"] else "NO"])
    return _table(["device", "pages written", "writeback took", "MiB/s", "mem_used before",
                   "mem_used after", "bd_count", "read back MiB/s", "read back equal"], rows)


def big_pairs(res: dict[str, Any]) -> list[tuple[int, dict[str, dict[str, Any]]]]:
    """(disk factor, {device: run}) of the swap-larger-than-RAM runs, both devices."""
    by: dict[int, dict[str, dict[str, Any]]] = {}
    for b in res["device"].get("big_swap") or []:
        by.setdefault(int(b["disk_factor"]), {})[b["kind"]] = b
    return [(f, d) for f, d in sorted(by.items()) if all(k in d for k in BIG_DEVICES)]


def fio_name(io: dict[str, Any]) -> str:
    return f"{io['rw']} 4 KiB, {io['jobs']} job{'s' if io['jobs'] > 1 else ''}"


def fio_pairs(res: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(ramzswap row, zram row) of each fio run both devices have."""
    devs = res["device"]["devices"]
    zr = {(io["rw"], io["jobs"]): io for io in devs["zram"].get("fio") or []}
    return [(io, zr[(io["rw"], io["jobs"])]) for io in devs["ramzswap"].get("fio") or []
            if (io["rw"], io["jobs"]) in zr]


def io_rows(res: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """(test, MiB/s per device in DEVICES order) for every block and swap test."""
    devs = res["device"]["devices"]
    out: list[tuple[str, list[float | None]]] = []
    pre = [devs[d]["prefill"]["mib_s"] for d in DEVICES]
    out.append(("dd corpus write, 1 MiB O_DIRECT", pre))
    for k in ("reads", "writes"):
        for i, io in enumerate(devs["ramzswap"][k]):
            name = (f"{io['rw']} 4 KiB, {io['jobs']} job{'s' if io['jobs'] > 1 else ''} "
                    f"({io['tool']})")
            vals = []
            for d in DEVICES:
                lst = devs[d][k]
                vals.append(lst[i]["mib_s"] if i < len(lst) else None)
            out.append((name, vals))
    for key, what in (("out_mib_s", "swap out (hog page-out)"),
                      ("in_mib_s", "swap in (hog verify)")):
        out.append((what, [devs[d]["swap"][key] for d in DEVICES]))
    return out


# ---- Markdown ------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def headline_table(rows: list[Row]) -> str:
    return _table(["section", "ratio", "ours", "reference", "ours / ref", "target", "meets"],
                  [[r.section, r.metric, r.ours, r.ref, _f(r.ratio, r.fmt), r.target, r.meets()]
                   for r in rows])


def allocator_table(res: dict[str, Any]) -> str:
    plan = res["allocator"]["plan"]
    rows = []
    for dist in plan["dists"]:
        for m in plan["maps"]:
            for al in ALLOCATORS:
                r = find_run(res, al, dist, plan["kib"], m, plan["churn"])
                if r is None:
                    continue
                hp = r["after_fill"]["pages_highmem"]
                pages = r["after_fill"]["pages"]
                rows.append([
                    dist, "yes" if m else "no", al, str(r["objects"]),
                    _f(density(r, "after_fill"), "{:.3f}"), _f(density(r), "{:.3f}"),
                    _f(ns(r, "churn_alloc_ns"), "{:.0f}"), _f(ns(r, "churn_alloc_ns", "p99"),
                                                              "{:.0f}"),
                    _f(ns(r, "churn_free_ns"), "{:.0f}"), _f(ns(r, "churn_free_ns", "p99"),
                                                             "{:.0f}"),
                    "n/a" if hp is None else (f"{hp / pages:.0%}" if pages else "0%"),
                    r["error"] or "",
                ])
    return _table(["sizes", "map+copy", "allocator", "objects", "density fill",
                   "density churn", "alloc ns med", "alloc ns p99", "free ns med",
                   "free ns p99", "highmem", "error"], rows)


def ladder_table(res: dict[str, Any]) -> str:
    rows = []
    for al in ALLOCATORS:
        pts = ladder(res, al)
        base = alloc_free_ns(pts[0]) if pts else None
        for r in pts:
            rows.append([al, str(r["kib"] // 1024), str(r["objects"]),
                         _f(density(r), "{:.3f}"), _f(ns(r, "fill_alloc_ns"), "{:.0f}"),
                         _f(ns(r, "churn_alloc_ns"), "{:.0f}"),
                         _f(ns(r, "churn_free_ns"), "{:.0f}"),
                         _f(ratio(alloc_free_ns(r), base))])
    return _table(["allocator", "pool MiB", "objects", "density churn", "fill alloc ns",
                   "churn alloc ns", "churn free ns", "alloc+free vs smallest"], rows)


def io_table(res: dict[str, Any]) -> str:
    rows = []
    for name, vals in io_rows(res):
        rz, zr, brd = vals
        rows.append([name, _f(rz, "{:.1f}"), _f(zr, "{:.1f}"), _f(brd, "{:.1f}"),
                     _f(ratio(rz, zr)), _f(ratio(rz, brd))])
    table = _table(["test (MiB/s)", "ramzswap", "zram", "brd", "ramzswap / zram",
                    "ramzswap / brd"], rows)
    devs = res["device"]["devices"]
    if len(devs["ramzswap"]["swap"].get("rounds") or []) > 1:
        per = "; ".join(f"{d} " + ", ".join(f"{r['out_mib_s']:.1f}/{r['in_mib_s']:.1f}"
                                            for r in devs[d]["swap"]["rounds"])
                        for d in DEVICES)
        table += ("\n\nSwap rows are medians over the rounds (devices in turn, the order "
                  f"reversed every round); out/in MiB/s of each round: {per}.")
    return table


def fio_table(res: dict[str, Any]) -> str:
    devs = res["device"]["devices"]
    rows = []
    for io in devs["ramzswap"].get("fio") or []:
        key = (io["rw"], io["jobs"])
        per: dict[str, dict[str, Any]] = {}
        for d in DEVICES:
            for x in devs[d].get("fio") or []:
                if (x["rw"], x["jobs"]) == key:
                    per[d] = x
        mib = [per[d]["mib_s"] if d in per else None for d in DEVICES]
        p99 = [per[d]["clat_p99_ns"] if d in per else None for d in DEVICES]
        rows.append([fio_name(io)] + [_f(v, "{:.1f}") for v in mib]
                    + [_f(ratio(mib[0], mib[1]))]
                    + [_f(None if v is None else v / 1000, "{:.0f}") for v in p99]
                    + [_f(ratio(p99[0], p99[1]))])
    return _table(["fio (MiB/s; p99 completion latency per 4 KiB op, us)", "ramzswap", "zram",
                   "brd", "MiB/s ramzswap / zram", "p99 ramzswap", "p99 zram", "p99 brd",
                   "p99 ramzswap / zram"], rows)


def big_table(res: dict[str, Any]) -> str:
    rows = []
    for b in res["device"].get("big_swap") or []:
        rows.append([f"{b['disk_factor']}x", b["kind"], str(b["hog_mib"]), str(b["ram_mib"]),
                     _mib(b["peak_orig_data_bytes"]), _mib(b["peak_mem_used_bytes"]),
                     f"{b['peak_swap_used_kib'] // 1024} MiB", _f(b["out_mib_s"], "{:.1f}"),
                     _f(b["in_mib_s"], "{:.1f}"), str(b["hog"]["mismatches"])])
    return _table(["disksize", "device", "hog MiB", "RAM MiB", "peak orig_data_size",
                   "peak mem_used", "peak swap used", "out MiB/s", "in MiB/s", "mismatches"],
                  rows)


def memory_table(res: dict[str, Any]) -> str:
    devs = res["device"]["devices"]
    rows = []
    for d in DEVICES:
        pre, peak = devs[d]["prefill"], devs[d]["swap"]["peak"]
        mm = pre["mm_stat"]
        mem = mm["mem_used_total"] if mm else pre["bytes"]
        rows.append([d, _mib(pre["bytes"]), _mib(mem), _f(pre["bytes"] / mem if mem else None),
                     f"{pre['memfree_drop_kib'] // 1024} MiB",
                     f"{peak['stored_kib'] // 1024} MiB",
                     _f(peak["mem_used_per_gib_stored"], "{:.3f}"),
                     _f(peak["lowfree_drop_per_gib_stored"], "{:.2%}"),
                     "n/a" if peak["pool_lowmem_pages"] is None
                     else str(peak["pool_lowmem_pages"])])
    return _table(["device", "corpus", "memory used", "corpus / memory", "MemFree drop",
                   "swap stored (peak)", "memory per GiB stored", "LowFree drop per GiB",
                   "pool lowmem pages"], rows)


def host_text(res: dict[str, Any]) -> str:
    h = res["host"]
    if "load_at_start" not in h:
        return ""
    text = (f"Host: {h.get('cpus', '?')} CPUs shared with other guests, load average "
            f"{h['load_at_start'][0]:.1f} at the start and {h['load_at_end'][0]:.1f} at the "
            "end: ratios of times taken far apart are noisy.")
    if "cpu_use" in h:
        u = h["cpu_use"]
        text += (f"  During the run the guest used {u['guest_cpus']:.2f} host CPUs on "
                 f"average, everything else {u['others_cpus']:.2f}.")
    if h.get("valid_for_speed") is False:
        text += f"  **Not valid for speed ratios: {h.get('validity', 'loaded host')}.**"
    elif h.get("valid_for_speed") is True:
        text += "  Valid for speed ratios (host load at most 1.5 besides the guest)."
    return text


def corpus_text(res: dict[str, Any]) -> str:
    c = res["corpus"]
    kinds = ", ".join(f"{k} {v}" for k, v in c["kinds"].items())
    lists = res["allocator"]["xvbench"]["corpus"]["lists"]
    sizes = "; ".join(
        f"{name}: {v['n']} objects, mean {v['sum'] / v['n']:.0f} B, {v['huge']} stored whole"
        for name, v in lists.items() if v["n"])
    return (f"Corpus: {c['mib']} MiB = {c['pages']} pages ({kinds}), sha256 "
            f"`{c['sha256'][:16]}...`; see bench/corpus.py.  Compressed sizes: {sizes}.")


def markdown(res: dict[str, Any], image_prefix: str = "") -> str:
    """The whole report; *image_prefix* is prepended to the PNG names."""
    g = res["guest"]
    problems = validate(res)
    ap = res["allocator"]["plan"]
    repeats = (ap.get("repeat", 1), ap.get("ladder_repeat", ap.get("repeat", 1)))
    parts = [
        f"# ramzswap benchmark ({res['plan']} plan, {res['started']})",
        "",
        f"One boot of the {g['flavour']} kernel {g['release']} under QEMU "
        f"{g['accel'].upper()}, {g['cpus']} vCPUs, "
        f"{g['meminfo_kib']['MemTotal'] // 1024} MiB (HighTotal "
        f"{g['meminfo_kib'].get('HighTotal', 0) // 1024} MiB); guest clocksource "
        f"{g['clocksource']}, xvbench clock {res['allocator']['xvbench']['clock']}.  "
        f"Run took {res['seconds']:.0f} s.  {host_text(res)}  "
        "Ratios are ours / reference: lower is better "
        "for memory and ns, higher for MiB/s.  Under TCG every instruction is emulated: "
        "absolute times are 10-50x native and relative costs shift (page-table and TLB "
        "work such as kmap_local_page() is dearer than on hardware).",
        "",
        corpus_text(res),
        "",
        "## Summary",
        "",
        headline_table(headline(res)),
        "",
        "## Allocators",
        "",
        "Density = bytes requested / bytes of pages held (xvmalloc, zsmalloc: their own "
        "page counts; kmalloc, kmem_cache: growth of unreclaimable slab pages).  Times are "
        "per operation, from batches of "
        f"{res['allocator']['xvbench']['batch']} in the churn phase; map+copy adds the "
        "mapping and a copy of the object's bytes in (alloc) and out (free).  Every run "
        f"was done {repeats[0]} time(s) (pool-size runs {repeats[1]}), allocators taking "
        "turns; the fastest repeat is shown.",
        "",
        allocator_table(res),
        "",
        f"### Pool size ({res['allocator']['caps']['rule']}: slab up to "
        f"{res['allocator']['caps']['slab_max_kib'] // 1024} MiB, pools up to "
        f"{res['allocator']['caps']['pool_max_kib'] // 1024} MiB)",
        "",
        ladder_table(res),
        "",
        "## Devices",
        "",
        io_table(res),
        "",
        fio_table(res) if any(res["device"]["devices"][d].get("fio") for d in DEVICES)
        else f"fio: no rows ({res['device'].get('fio_problem') or 'not run'}).",
        "",
        memory_table(res),
        "",
        "### Swap larger than RAM",
        "",
        big_table(res) if res["device"].get("big_swap") else "Not run in this plan.",
        "",
        "### Swap mixes (a hog held paged out)",
        "",
        mix_table(res) if res.get("mixes") else "Not run in this plan.",
        "",
        "### Writeback to a backing device",
        "",
        writeback_table(res) if res.get("writeback") else "Not run in this plan.",
        "",
        f"![density]({image_prefix}density.png) "
        f"![ns per op vs pool size]({image_prefix}ns_vs_pool.png) "
        f"![device MiB/s]({image_prefix}device_mibs.png)",
        "",
    ]
    if res["kernel_log"]["problems"]:
        parts += ["## Kernel log problems", ""] + [
            f"- `{p}`" for p in res["kernel_log"]["problems"]] + [""]
    if problems:
        parts += ["## Missing fields", ""] + [f"- {p}" for p in problems] + [""]
    return "\n".join(parts)


# ---- plots and files ---------------------------------------------------------------------

def plots(res: dict[str, Any], out: Path) -> list[Path]:
    """density.png, ns_vs_pool.png, device_mibs.png (nothing if matplotlib is missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made: list[Path] = []
    plan = res["allocator"]["plan"]

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        made.append(out / name)

    def bars(ax: Any, groups: list[str], series: dict[str, list[float | None]]) -> None:
        width = 0.8 / max(1, len(series))
        for i, (name, vals) in enumerate(series.items()):
            xs = [j + i * width for j in range(len(groups))]
            ax.bar(xs, [v or 0 for v in vals], width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(groups))])
        ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8)

    fig, ax = plt.subplots(figsize=(8, 4))
    series: dict[str, list[float | None]] = {}
    for al in ALLOCATORS:
        vals: list[float | None] = []
        for dist in plan["dists"]:
            r = find_run(res, al, dist, plan["kib"], False, plan["churn"])
            vals.append(density(r) if r else None)
        series[al] = vals
    bars(ax, list(plan["dists"]), series)
    ax.set_ylabel("bytes requested / bytes held")
    ax.set_title(f"density after churn ({plan['kib'] // 1024} MiB)")
    save(fig, "density.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    for al in ALLOCATORS:
        pts = ladder(res, al)
        if pts:
            ax.plot([r["kib"] / 1024 for r in pts], [alloc_free_ns(r) or 0 for r in pts],
                    marker="o", label=al)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("pool size, MiB requested")
    ax.set_ylabel("alloc + free ns (median)")
    ax.set_title("cost vs pool size")
    ax.legend(fontsize=8)
    save(fig, "ns_vs_pool.png")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    rows = io_rows(res)
    bars(ax, [n for n, _ in rows], {d: [v[i] for _, v in rows] for i, d in enumerate(DEVICES)})
    ax.set_ylabel("MiB/s")
    ax.set_title("devices")
    save(fig, "device_mibs.png")
    return made


def write(res: dict[str, Any], out_root: Path, stamp: str | None = None,
          latest: Callable[[str, str], str] | None = None) -> Path:
    """results/<stamp>-<plan>/{results.json,report.md,*.png} and the latest copy of the
    report (its images and raw JSON stay in the run's directory, which it names); a
    run marked not valid for speed ratios (host load) does not replace the latest."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    d = out_root / f"{stamp}-{res['plan']}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    plots(res, d)
    (d / "report.md").write_text(markdown(res))
    if res["host"].get("valid_for_speed") is False:
        return d        # latest*.md only takes runs valid for speed ratios
    name = (latest or latest_name)(res["plan"], series_of(res["guest"].get("release", "")))
    (out_root / name).write_text(
        f"<!-- copy of {d.name}/report.md -->\n" + markdown(res, image_prefix=f"{d.name}/"))
    return d


def latest_name(plan: str, series: str = DEFAULT_KERNEL) -> str:
    """latest.md (full) or latest-<plan>.md on the default kernel series,
    latest-<series>.md or latest-<series>-<plan>.md on another one."""
    tags = ([] if series == DEFAULT_KERNEL else [series]) + ([] if plan == "full" else [plan])
    return "-".join(["latest", *tags]) + ".md"
