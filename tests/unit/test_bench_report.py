"""bench/report.py and the pure parts of bench/device.py and bench/alloc.py:
ratios, the Markdown tables, the schema check, the sampler parser.  No guest."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench import alloc, corpus, device, report
from vm import paths

MiB = 1 << 20
PAGE_BYTES = 4096
DISTS = ("corpus-lzo-rle", "uniform")
# alloc -> (pages held, alloc ns, free ns) at 16 MiB
FIG = {"xvmalloc": (4000, 100, 110), "zsmalloc": (4200, 200, 190),
       "kmalloc": (5000, 50, 50), "kmem_cache": (4500, 40, 40)}


def times(median: float) -> dict[str, Any]:
    return {"median": median, "p99": median * 3, "min": median / 2, "max": median * 9,
            "mean": median * 1.1, "batches": 10, "ops": 640}


def memory(pages: int, objects: int, requested: int, high: int | None) -> dict[str, Any]:
    return {"objects": objects, "bytes_requested": requested, "pages": pages,
            "pages_highmem": high, "slab_pages_delta": 0, "lowmem_pages_taken": 3,
            "highmem_pages_taken": pages, "ksize_bytes": None}


def make_run(al: str, dist: str, kib: int, churn: int, map_: bool, pages: int,
             a_ns: float, f_ns: float) -> dict[str, Any]:
    req = kib * 1024
    high = pages if al == "xvmalloc" else (None if al == "zsmalloc" else 0)
    return {
        "alloc": al, "dist": dist, "kib": kib, "churn": churn, "map": map_, "seed": 1,
        "objects": 6000, "mean_size": 2500, "batch": 64,
        "pages_source": "pool" if al in ("xvmalloc", "zsmalloc") else "slab_delta",
        "after_fill": memory(pages, 6000, req, high),
        "after_churn": memory(pages, 6000, req, high),
        "after_drain": memory(0, 0, 0, 0 if high is not None else None),
        "fill_alloc_ns": times(a_ns), "churn_alloc_ns": times(a_ns),
        "churn_free_ns": times(f_ns), "drain_free_ns": times(f_ns),
        "xv_check_pool": 0 if al == "xvmalloc" else None, "error": None, "run_ms": 100,
    }


def make_device(kind: str, mem: int, out_s: float, in_s: float) -> dict[str, Any]:
    mm = None if kind == "brd" else {
        "orig_data_size": 48 * MiB, "compr_data_size": mem - MiB, "mem_used_total": mem,
        "mem_limit": 0, "mem_used_max": mem, "same_pages": 100, "pages_compacted": 0,
        "huge_pages": 10}
    io: list[dict[str, Any]] = [{"tool": "corpusio", "rw": rw, "pattern": "seq", "jobs": j,
                                 "bs": 4096, "ops": 1000, "bytes": 4096000, "seconds": 1.0,
                                 "mib_s": 10.0 * j, "iops": 1000.0}
                                for rw in ("read", "randread") for j in (1, 2)]
    wr = [dict(x, rw=x["rw"].replace("read", "write"), mib_s=x["mib_s"] / 2) for x in io]
    return {
        "prefill": {"seconds": 1.0, "mib_s": 48.0, "bytes": 48 * MiB, "mm_stat": mm,
                    "xv_stat": None, "memfree_drop_kib": mem // 1024,
                    "lowfree_drop_kib": 100},
        "reads": io, "writes": wr, "after_writes": {"mm_stat": mm, "xv_stat": None},
        "swap": {
            "hog": {"mib": 128, "mismatches": 0, "write_seconds": 1.0, "verify_seconds": 2.0,
                    "write_mib_s": 128.0, "verify_mib_s": 64.0, "passes": 1},
            "wall_seconds": 8.0, "pageout_seconds": 5.0, "verify_seconds": 2.0,
            "pswpout_mib": 128.0, "pswpin_mib": 128.0, "out_mib_s": out_s, "in_mib_s": in_s,
            "peak": {"t": 4.0, "stored_kib": 128 * 1024, "orig_data_bytes": 128 * MiB,
                     "mem_used_bytes": mem * 2, "mem_used_per_gib_stored": mem * 2 / (128 * MiB),
                     "mem_used_source": "mm_stat", "lowfree_drop_kib": 1311,
                     "lowfree_drop_per_gib_stored": 0.01, "memfree_drop_kib": 70000,
                     "pool_lowmem_pages": 0 if kind == "ramzswap" else None},
            "samples": 40, "final": {"mm_stat": mm, "xv_stat": None}},
    }


def make_results() -> dict[str, Any]:
    plan = {"kib": 16384, "churn": 2, "dists": list(DISTS), "maps": [False, True],
            "ladder_kib": [16384, 65536], "ladder_churn": 2, "repeat": 2, "seed": 1,
            "ladder_dist": "corpus-lzo-rle"}
    runs = []
    for dist in DISTS:
        for m in (False, True):
            for al, (pages, a, f) in FIG.items():
                runs.append(make_run(al, dist, 16384, 2, m, pages, a, f))
    # a slower repeat of the headline xvmalloc run: the report keeps the faster one
    runs.append(make_run("xvmalloc", "corpus-lzo-rle", 16384, 2, False, 4000, 500, 500))
    for al, (pages, a, f) in FIG.items():
        runs.append(make_run(al, "corpus-lzo-rle", 65536, 2, False, pages * 4, a * 1.1,
                             f * 1.1))
    lists = {name: {"n": 100, "sum": 250000, "huge": 20, "hist": [1] * 33}
             for name in ("corpus-lzo-rle", "corpus-lz4")}
    return {
        "schema": report.SCHEMA_VERSION, "plan": "quick", "started": "2026-01-01T00:00:00",
        "plan_detail": {}, "seconds": 200.0,
        "host": {"cpus": 2, "load_at_start": [2.0, 2.0, 2.0], "load_at_end": [3.0, 2.0, 2.0]},
        "guest": {"flavour": "perf", "release": "6.1.192-ramzswap", "accel": "tcg", "cpus": 2,
                  "clocksource": "refined-jiffies",
                  "meminfo_kib": {"MemTotal": 2072272, "HighTotal": 1195900}},
        "corpus": {"pages": 12288, "mib": 48, "seed": 1, "sha256": "ab" * 32,
                   "kinds": {"zero": 700, "same": 300, "random": 500, "text": 2400,
                             "program": 3700, "library": 4688},
                   "sources": {}},
        "allocator": {
            "plan": plan,
            "caps": {"slab_max_kib": 65536, "pool_max_kib": 65536, "rule": "fits"},
            "xvbench": {"xvbench": 1, "page_size": 4096, "batch": 64, "cache_step": 64,
                        "huge_size": 3072, "clock": "tsc", "tsc_cycles_per_ms": 2600000,
                        "corpus": {"pages": 12288, "lists": lists}, "runs": runs,
                        "results_truncated": False},
            "host": [],
        },
        "device": {"compressor": "lzo-rle", "fio_problem": "no shm",
                   "devices": {"ramzswap": make_device("ramzswap", 30 * MiB, 25.0, 67.0),
                               "zram": make_device("zram", 32 * MiB, 33.0, 68.0),
                               "brd": make_device("brd", 48 * MiB, 137.0, 92.0)}},
        "mixes": [make_mix("ramzswap", 25, 100, 49, 50), make_mix("zram", 25, 100, 49, 51),
                  make_mix("ramzswap", 100, 100, 100, 100), make_mix("zram", 100, 100, 100, 99)],
        "writeback": [make_writeback("ramzswap", 24.0, 40.0), make_writeback("zram", 30.0, 36.0)],
        "kernel_log": {"problems": []},
    }


def make_mix(kind: str, pct: int, orig_mib: int, compr_mib: int,
             used_mib: int) -> dict[str, Any]:
    mm = {"orig_data_size": orig_mib * MiB, "compr_data_size": compr_mib * MiB,
          "mem_used_total": used_mib * MiB, "huge_pages": 0}
    return {"kind": kind, "random_pct": pct, "mib": orig_mib, "mm_stat": mm,
            "xv_stat": None, "swap_used_kib": orig_mib * 1024, "mismatches": 0,
            "mem_per_stored": used_mib / orig_mib, "overhead": used_mib / compr_mib}


def make_writeback(kind: str, mib_s: float, read_mib_s: float) -> dict[str, Any]:
    mm = {"orig_data_size": 8 * MiB, "compr_data_size": 3 * MiB, "mem_used_total": 3 * MiB}
    return {"kind": kind, "mib": 8, "seconds": 8 / mib_s, "read_seconds": 8 / read_mib_s,
            "pages_written": 2048, "bytes_read_back": 8 * MiB, "mib_s": mib_s,
            "read_mib_s": read_mib_s, "mm_stat_before": mm,
            "mm_stat_after": {**mm, "compr_data_size": 0, "mem_used_total": 0},
            "bd_stat": {"bd_count": 2048, "bd_reads": 0, "bd_writes": 2048},
            "bd_stat_after_read": {"bd_count": 2048, "bd_reads": 2048, "bd_writes": 2048},
            "read_back_equal": True}


@pytest.fixture
def res() -> dict[str, Any]:
    return make_results()


def rows_by_metric(res: dict[str, Any]) -> dict[str, report.Row]:
    return {r.metric: r for r in report.headline(res)}


# ---- schema ---------------------------------------------------------------------------

def test_fixture_is_complete(res: dict[str, Any]) -> None:
    assert report.validate(res) == []


def test_validate_names_missing_fields(res: dict[str, Any]) -> None:
    del res["allocator"]["xvbench"]["runs"][0]["after_churn"]["pages"]
    del res["device"]["devices"]["zram"]["swap"]["peak"]["lowfree_drop_kib"]
    res["device"]["devices"]["brd"]["reads"] = []
    problems = report.validate(res)
    assert "allocator.xvbench.runs[0].after_churn.pages" in problems
    assert "device.devices.zram.swap.peak.lowfree_drop_kib" in problems
    assert "device.devices.brd.reads: empty" in problems


def test_validate_wants_every_cell_of_the_plan(res: dict[str, Any]) -> None:
    runs = res["allocator"]["xvbench"]["runs"]
    res["allocator"]["xvbench"]["runs"] = [
        r for r in runs if not (r["alloc"] == "kmem_cache" and r["dist"] == "uniform"
                                and r["map"])]
    assert report.validate(res) == [
        "allocator: no run kmem_cache uniform map=1 at 16384 KiB"]


def test_validate_wants_device_mm_stat_and_top_fields(res: dict[str, Any]) -> None:
    bad = copy.deepcopy(res)
    bad["device"]["devices"]["ramzswap"]["prefill"]["mm_stat"] = None
    assert "device.devices.ramzswap.prefill.mm_stat: empty" in report.validate(bad)
    del res["corpus"]
    assert report.validate(res) == ["$.corpus"]


# ---- ratios -------------------------------------------------------------------------------

def test_memory_ratios(res: dict[str, Any]) -> None:
    rows = rows_by_metric(res)
    assert rows["memory held: xvmalloc / zsmalloc"].ratio == pytest.approx(4000 / 4200)
    km = rows["memory held: xvmalloc / kmalloc"]
    assert km.ratio == pytest.approx(0.8)
    assert (km.target, km.meets()) == ("<= 0.60", "no")
    assert rows["memory held: xvmalloc / kmem_cache"].ratio == pytest.approx(4000 / 4500)


def test_time_ratios_use_the_fastest_repeat(res: dict[str, Any]) -> None:
    rows = rows_by_metric(res)
    r = rows["alloc+free ns, median: xvmalloc / zsmalloc"]
    assert r.ratio == pytest.approx(210 / 390)
    assert (r.ours, r.ref, r.meets()) == ("210", "390", "yes")
    assert rows["alloc+free ns, median: xvmalloc / kmalloc"].ratio == pytest.approx(2.1)
    assert "alloc+free ns, median (with map + copy): xvmalloc / zsmalloc" in rows


def test_pool_size_ratio(res: dict[str, Any]) -> None:
    rows = rows_by_metric(res)
    r = rows["xvmalloc: alloc+free ns at 64 MiB / 16 MiB"]
    assert r.ratio == pytest.approx(1.1)
    assert (r.target, r.meets()) == ("<= 1.2", "yes")
    assert [p["kib"] for p in report.ladder(res, "zsmalloc")] == [16384, 65536]


def test_device_ratios(res: dict[str, Any]) -> None:
    rows = rows_by_metric(res)
    mem = rows["memory for the corpus: ramzswap / zram"]
    assert mem.ratio == pytest.approx(30 / 32)
    assert mem.meets() == "yes"
    assert rows["memory for the corpus: ramzswap / brd"].ratio == pytest.approx(30 / 48)
    out = rows["swap out MiB/s: ramzswap / zram"]
    assert out.ratio == pytest.approx(25 / 33)
    assert (out.better, out.meets()) == ("higher", "no")
    low = rows["ramzswap: LowFree drop / swap stored"]
    assert low.ratio == pytest.approx(0.01)
    assert low.meets() == "yes"
    assert report._f(low.ratio, low.fmt) == "1.00%"


def test_writeback_rows_and_table(res: dict[str, Any]) -> None:
    rows = rows_by_metric(res)
    wr = rows["writeback MiB/s: ramzswap / zram"]
    assert wr.ratio == pytest.approx(24 / 30)
    assert (wr.better, wr.meets()) == ("higher", "no")
    assert rows["read back from the backing device MiB/s: ramzswap / zram"].meets() == "yes"
    md = report.markdown(res)
    assert "| ramzswap | 2048 | 0.33 s | 24.0 | 3.0 MiB | 0.0 MiB | 2048 | 40.0 | yes |" in md
    del res["writeback"][1]["read_mib_s"]
    assert report.validate(res) == ["writeback[1].read_mib_s"]
    del res["writeback"]     # results from before the section
    assert report.validate(res) == []
    assert "writeback MiB/s: ramzswap / zram" not in rows_by_metric(res)
    assert "### Writeback to a backing device\n\nNot run in this plan." in report.markdown(res)


def test_mix_rows_and_table(res: dict[str, Any]) -> None:
    rows = [r for r in report.headline(res) if r.section.startswith("swap mix")]
    assert [(r.section.split(", ")[1], r.metric.split(":")[0]) for r in rows] == [
        (f"{pct}% incompressible", m) for pct in (25, 100)
        for m in ("memory per byte stored", "allocator overhead mem_used / compr_data_size")]
    q_mem, q_over, r_mem, r_over = rows
    assert q_mem.ratio == pytest.approx(50 / 51) and q_mem.target == "<= 0.95"
    assert q_mem.meets() == "no"
    assert q_over.ratio == pytest.approx(50 / 49) and q_over.meets() == "no"
    assert r_mem.ratio == pytest.approx(100 / 99) and r_mem.meets() == "no"
    assert (r_over.ratio, r_over.meets()) == (1.0, "yes")
    md = report.markdown(res)
    assert "| 25% | zram | 100 | 100.0 MiB | 49.0 MiB | 51.0 MiB | 0 | 0.510 | 1.041 | 0 |" in md
    del res["mixes"][3]        # a share with one device only gives no row
    assert len([r for r in report.headline(res) if r.section.startswith("swap mix")]) == 2
    del res["mixes"][0]["overhead"]
    assert report.validate(res) == ["mixes[0].overhead"]
    del res["mixes"]
    assert report.validate(res) == []
    assert "### Swap mixes (a hog held paged out)\n\nNot run in this plan." in \
        report.markdown(res)


def test_density_and_ratio_edge_cases(res: dict[str, Any]) -> None:
    run = report.find_run(res, "xvmalloc", "uniform", 16384, True, 2)
    assert run is not None
    assert report.density(run) == pytest.approx(16384 * 1024 / (4000 * 4096))
    run["after_churn"]["pages"] = 0
    assert report.density(run) is None
    assert report.ratio(1.0, 0) is None
    assert report.ratio(None, 2.0) is None
    assert report.find_run(res, "xvmalloc", "n2400", 16384, False) is None


# ---- Markdown -------------------------------------------------------------------------------

def test_markdown_tables(res: dict[str, Any]) -> None:
    md = report.markdown(res)
    assert md.startswith("# ramzswap benchmark (quick plan")
    assert "| section | ratio | ours | reference | ours / ref | target | meets |" in md
    assert "| memory held: xvmalloc / kmalloc | 15.6 MiB | 19.5 MiB | 0.80 | <= 0.60 | no |" in md
    assert "| read 4 KiB, 2 jobs (corpusio) | 20.0 | 20.0 | 20.0 | 1.00 | 1.00 |" in md
    assert "| swap out (hog page-out) | 25.0 | 33.0 | 137.0 | 0.76 | 0.18 |" in md
    assert "| xvmalloc | 64 | 6000 |" in md
    assert "![density](density.png)" in md
    assert "## Missing fields" not in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line


def test_markdown_lists_problems(res: dict[str, Any]) -> None:
    res["kernel_log"]["problems"] = ["[warning] WARNING: CPU: 0 PID: 1 at x"]
    res["allocator"]["xvbench"]["runs"] = [r for r in res["allocator"]["xvbench"]["runs"]
                                           if r["dist"] != "uniform"]
    md = report.markdown(res, image_prefix="x/")
    assert "## Kernel log problems" in md
    assert "## Missing fields" in md
    assert "![density](x/density.png)" in md


def test_write(tmp_path: Path, res: dict[str, Any]) -> None:
    out = report.write(res, tmp_path, stamp="20260101-000000")
    assert out == tmp_path / "20260101-000000-quick"
    assert json.loads((out / "results.json").read_text()) == res
    assert (out / "report.md").read_text() == report.markdown(res)
    latest = (tmp_path / "latest-quick.md").read_text()
    assert "![density](20260101-000000-quick/density.png)" in latest
    assert latest.startswith("<!-- copy of 20260101-000000-quick/report.md -->")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    for png in ("density.png", "ns_vs_pool.png", "device_mibs.png"):
        assert (out / png).stat().st_size > 1000
    assert report.latest_name("full") == "latest.md"
    assert report.latest_name("quick", "6.1") == "latest-quick.md"
    assert report.latest_name("full", "6.12") == "latest-6.12.md"
    assert report.latest_name("quick", "6.12") == "latest-6.12-quick.md"
    assert paths.series_of("6.12.118-ramzswap") == "6.12"
    assert paths.series_of("6.1.192-ramzswap") == "6.1"
    assert paths.series_of("") == "6.1"


# ---- device.py, alloc.py, corpus.py pure parts -------------------------------------------------

SAMPLES = """\
t=100.00 pswpin=10 pswpout=20 MemFree=1000000 LowFree=800000 SwapTotal=300000 SwapFree=300000 mm=0,0,0,0,0,0,0,0,0 xv=0,0,0,0,0,0
t=101.00 pswpin=10 pswpout=30020 MemFree=900000 LowFree=799000 SwapTotal=300000 SwapFree=180000 mm=125829120,50331648,52428800,0,52428800,10,0,5,0 xv=1,2,52428800,12800,12700,0
garbage line
t=102.00 pswpin=30010 pswpout=30020 MemFree=980000 LowFree=799900 SwapTotal=300000 SwapFree=290000 mm=8192,100,4096,0,52428800,0,0,0,0 xv=-
"""  # noqa: E501


def test_parse_samples_and_swap_metrics() -> None:
    s = device.parse_samples(SAMPLES)
    assert len(s) == 3
    assert s[1]["mm"][2] == 52428800 and s[2]["xv"] is None and s[0]["t"] == 100.0
    hog = {"write_seconds": 1.0, "verify_seconds": 2.0}
    m = device.swap_metrics(s, hog, 100.0, 106.0, "ramzswap")
    assert m["pswpout_mib"] == pytest.approx(30000 * 4096 / MiB)
    assert m["out_mib_s"] == pytest.approx(30000 * 4096 / MiB / 3.0)
    assert m["in_mib_s"] == pytest.approx(30000 * 4096 / MiB / 2.0)
    peak = m["peak"]
    assert peak["stored_kib"] == 120000
    assert peak["mem_used_per_gib_stored"] == pytest.approx(52428800 / 125829120)
    assert peak["lowfree_drop_kib"] == 1000
    assert peak["lowfree_drop_per_gib_stored"] == pytest.approx(1000 / 120000)
    assert peak["pool_lowmem_pages"] == 100
    brd = device.swap_metrics(device.parse_samples(re.sub(r"mm=\S+", "mm=-", SAMPLES)), hog,
                              100.0, 106.0, "brd")
    assert brd["peak"]["mem_used_per_gib_stored"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        device.swap_metrics(s[:1], hog, 0, 1, "zram")




def test_swap_rounds_alternate_and_take_medians(res: dict[str, Any]) -> None:
    order = device.swap_order(("a", "b", "c"), 3)
    assert [k for _, k in order] == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [r for r, _ in order] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    runs = [{"out_mib_s": o, "in_mib_s": i, "pageout_seconds": 1.0, "verify_seconds": 2.0,
             "peak": {"stored_kib": n}} for n, (o, i) in enumerate(((36.6, 65.3), (38.8, 31.0),
                                                                   (39.5, 74.5)))]
    m = device.swap_rounds_merge(runs)
    assert (m["out_mib_s"], m["in_mib_s"]) == (38.8, 65.3)
    assert m["peak"] == {"stored_kib": 0} and len(m["rounds"]) == 3
    assert m["rounds"][1]["in_mib_s"] == 31.0
    with pytest.raises(ValueError):
        device.swap_rounds_merge([])
    r = copy.deepcopy(res)
    r["device"]["devices"]["ramzswap"]["swap"]["rounds"] = [{}, {}, {}]
    assert any("median of 3 rounds" in row.section for row in report.headline(r))
    for d in ("ramzswap", "zram", "brd"):
        r["device"]["devices"][d]["swap"]["rounds"] = runs
    assert "ramzswap 36.6/65.3, 38.8/31.0, 39.5/74.5;" in report.io_table(r)


def test_alloc_matrix_and_caps() -> None:
    plan = alloc.AllocPlan(kib=16384, churn=2, dists=("uniform", "n1400"), maps=(False, True),
                           ladder_kib=(16384, 65536, 1048576), ladder_churn=2)
    cap = alloc.caps({"LowFree": 860 * 1024, "MemAvailable": 1900 * 1024}, plan.ladder_kib)
    assert cap["slab_max_kib"] == 65536 and cap["pool_max_kib"] == 1048576
    cmds = alloc.matrix(plan, cap)
    assert len(cmds) == 2 * 2 * 4 + 3 + 3 + 2 + 2  # no 1 GiB for the slab allocators
    twice = alloc.matrix(alloc.AllocPlan(**{**plan.__dict__, "repeat": 2}), cap)
    assert twice == cmds[:16] * 2 + cmds[16:]
    assert cmds[0] == "alloc=xvmalloc dist=uniform kib=16384 churn=2 map=0 seed=1"
    assert "alloc=kmalloc dist=corpus-lzo-rle kib=1048576 churn=2 map=0 seed=1" not in cmds
    assert "alloc=zsmalloc dist=corpus-lzo-rle kib=1048576 churn=2 map=0 seed=1" in cmds
    # with the ladder's sizes in the matrix, its run at plan.kib is not done twice
    plan2 = alloc.AllocPlan(kib=16384, churn=2, dists=("corpus-lzo-rle",), maps=(False,),
                            ladder_kib=(16384, 65536), ladder_churn=2)
    cmds2 = alloc.matrix(plan2, cap)
    assert len(cmds2) == len(set(cmds2)) == 4 + 4


def test_corpus_list_command() -> None:
    cmd = corpus.list_command("text", "/tmp/t.txt")
    assert "LC_ALL=C sort" in cmd and "! -name '*.gz'" in cmd
    assert "/usr/bin" in corpus.list_command("program", "/tmp/p.txt")
    assert sum(corpus.SHARES_PER_MILLE.values()) == 1000


def test_compaction_runs_and_rows(res: dict[str, Any]) -> None:
    # the plan's thin adds one run per pool allocator; none without it
    plan = alloc.AllocPlan(kib=16384, churn=2, dists=("uniform",), maps=(False,),
                           ladder_kib=(16384,), ladder_churn=2, thin=75)
    cap = alloc.caps({"LowFree": 860 * 1024, "MemAvailable": 1900 * 1024}, plan.ladder_kib)
    cmds = alloc.matrix(plan, cap)
    assert cmds[-2:] == [
        "alloc=xvmalloc dist=corpus-lzo-rle kib=16384 churn=2 map=0 seed=1 thin=75",
        "alloc=zsmalloc dist=corpus-lzo-rle kib=16384 churn=2 map=0 seed=1 thin=75"]
    assert not any("thin" in c for c in alloc.matrix(
        alloc.AllocPlan(**{**plan.__dict__, "thin": 0}), cap))
    assert report.compaction_rows(res) == []          # a plan without thin
    res["allocator"]["plan"]["thin"] = 75
    assert report.compaction_rows(res) == []          # ... and no thin runs yet
    for al, thin_pages, compact_pages in (("xvmalloc", 2000, 1040), ("zsmalloc", 1900, 1100)):
        r = make_run(al, "corpus-lzo-rle", 16384, 2, False, 4000, 1e6, 1e6)
        r["thin"] = 75
        r["after_thin"] = memory(thin_pages, 1500, 1000 * PAGE_BYTES, None)
        r["after_compact"] = memory(compact_pages, 1500, 1000 * PAGE_BYTES, None)
        res["allocator"]["xvbench"]["runs"].append(r)
    rows = {r.metric: r for r in report.compaction_rows(res)}
    after = rows["pool pages / ideal after compacting: xvmalloc, zsmalloc as ref"]
    assert after.ratio == pytest.approx(1.04) and after.ref == "1.100"
    assert after.meets() != "" and after.target == "<= 1.15"
    before = rows["pool pages / ideal before compacting: xvmalloc, zsmalloc as ref"]
    assert before.ratio == pytest.approx(2.0)
    # the thin runs do not replace the matrix's own runs (they are slower here)
    xv = report.find_run(res, "xvmalloc", "corpus-lzo-rle", 16384, False, 2)
    assert xv is not None and "thin" not in xv
    assert after in report.headline(res)
