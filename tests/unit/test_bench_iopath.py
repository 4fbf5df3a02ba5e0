"""The I/O-path parts of the bench, without a guest: fio's JSON, the swap
larger than RAM figures, host load and the validity of a run, the report's
fio and big-swap tables, latest.md only from valid runs, lock_stat parsing."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from bench import device, hostload, lockstat, report
from tests.unit.test_bench_report import make_results

MiB = 1 << 20
DATA = Path(__file__).resolve().parent / "data"


# ---- fio -------------------------------------------------------------------------------

def test_parse_fio_real_output_with_noise_before_it() -> None:
    text = (DATA / "fio" / "randwrite-2jobs.json").read_text()
    r = device.parse_fio("fio: note: a warning line\n" + text, "randwrite", 2, 1.0)
    # figures of that run (fio 3.33 on this host, 2 jobs, group_reporting)
    assert r["tool"] == "fio" and r["rw"] == "randwrite" and r["jobs"] == 2
    assert r["mib_s"] == pytest.approx(36344846 / MiB)
    assert r["ops"] == 8891 and r["iops"] == pytest.approx(8873.253493)
    assert r["clat_p99_ns"] == 3293184 and r["clat_median_ns"] == 119296
    assert r["fio_version"] == "fio-3.33"
    # a read run of the same output reads the (empty) read side
    assert device.parse_fio(text, "randread", 2, 1.0)["ops"] == 0


def test_parse_fio_errors() -> None:
    with pytest.raises(ValueError, match="no JSON"):
        device.parse_fio("shmget: Function not implemented\n", "read", 1, 1.0)
    with pytest.raises(ValueError, match="job error 5"):
        device.parse_fio('{"jobs": [{"error": 5, "read": {}}]}', "read", 1, 1.0)


def test_fio_cmd() -> None:
    cmd = device.fio_cmd("/dev/zram0", 256 * MiB, "randwrite", 2, 10)
    assert "--numjobs=2 --size=128M --offset_increment=128M" in cmd
    assert "--buffer_compress_percentage=50 --refill_buffers" in cmd
    assert "--runtime=10 --time_based" in cmd
    assert "buffer_compress" not in device.fio_cmd("/dev/zram0", 256 * MiB, "read", 1, 10)


# ---- swap larger than RAM ----------------------------------------------------------------

BIG_SAMPLES = """\
t=10.0 pswpin=0 pswpout=0 SwapTotal=400000 SwapFree=400000 mm=0,0,0,0,0,0,0,0 xv=-
t=12.0 pswpin=0 pswpout=25600 SwapTotal=400000 SwapFree=300000 mm=104857600,50000000,52000000,0,0,0,0,0 xv=-
t=14.0 pswpin=12800 pswpout=38400 SwapTotal=400000 SwapFree=330000 mm=157286400,70000000,73000000,0,0,0,0,0 xv=-
t=16.0 pswpin=25600 pswpout=38400 SwapTotal=400000 SwapFree=390000 mm=20971520,9000000,10000000,0,0,0,0,0 xv=-
"""  # noqa: E501


def test_big_metrics() -> None:
    s = device.parse_samples(BIG_SAMPLES)
    m = device.big_metrics(s, {"write_seconds": 2.0, "verify_seconds": 4.0}, 10.0, 16.0)
    # out: pswpout at the end of the write phase (t=12) over the write time
    assert m["out_mib_s"] == pytest.approx(25600 * 4096 / MiB / 2.0)
    assert m["pswpout_mib"] == pytest.approx(38400 * 4096 / MiB)
    assert m["in_mib_s"] == pytest.approx(25600 * 4096 / MiB / 4.0)
    assert m["peak_orig_data_bytes"] == 157286400
    assert m["peak_mem_used_bytes"] == 73000000
    assert m["orig_data_bytes_at_write_end"] == 104857600
    assert m["peak_swap_used_kib"] == 100000
    with pytest.raises(ValueError):
        device.big_metrics(s[:1], {"write_seconds": 1, "verify_seconds": 1}, 0, 1)


def big_run(kind: str, factor: int, peak_orig: int, out_s: float, in_s: float) -> dict[str, Any]:
    return {"kind": kind, "disk_factor": factor, "ram_mib": 192, "hog_mib": 288,
            "hog": {"mismatches": 0}, "out_mib_s": out_s, "in_mib_s": in_s,
            "peak_orig_data_bytes": peak_orig, "peak_mem_used_bytes": peak_orig // 2,
            "peak_swap_used_kib": peak_orig // 1024}


@pytest.fixture
def res() -> dict[str, Any]:
    r = make_results()
    r["device"]["big_swap"] = [big_run("ramzswap", 2, 200 * MiB, 20.0, 30.0),
                               big_run("zram", 2, 100 * MiB, 25.0, 30.0),
                               big_run("ramzswap", 4, 101 * MiB, 25.0, 31.0)]
    fio: list[dict[str, Any]] = [{"tool": "fio", "rw": "randwrite", "jobs": 2, "mib_s": 10.0,
                                  "iops": 2560.0,
                                  "ops": 25600, "clat_median_ns": 100000,
                                  "clat_p99_ns": 400000}]
    for d, scale in (("ramzswap", 1.0), ("zram", 2.0), ("brd", 4.0)):
        r["device"]["devices"][d]["fio"] = [dict(x, mib_s=x["mib_s"] * scale,
                                                 clat_p99_ns=int(x["clat_p99_ns"] / scale))
                                            for x in fio]
    return r


def test_report_big_swap_and_fio(res: dict[str, Any]) -> None:
    assert report.validate(res) == []
    rows = {(r.section, r.metric): r for r in report.headline(res)}
    sec = "swap larger than RAM (hog 288 MiB, RAM 192 MiB, disksize 2x RAM)"
    peak = rows[(sec, "peak orig_data_size: ramzswap / zram")]
    assert peak.ratio == pytest.approx(2.0) and peak.meets() == "no"
    assert rows[(sec, "swap out MiB/s: ramzswap / zram")].ratio == pytest.approx(0.8)
    # the 4x run has no zram partner: no ratio for it
    assert not any("disksize 4x" in s for s, _ in rows)
    p99 = rows[("fio on the raw device", "p99 latency randwrite 4 KiB, 2 jobs: ramzswap / zram")]
    assert p99.ratio == pytest.approx(2.0) and p99.meets() == "no"
    md = report.markdown(res)
    assert "| randwrite 4 KiB, 2 jobs | 10.0 | 20.0 | 40.0 | 0.50 | 400 | 200 | 100 | 2.00 |" in md
    assert "| 2x | ramzswap | 288 | 192 | 200.0 MiB | 100.0 MiB | 200 MiB | 20.0 | 30.0 | 0 |" in md
    bad = copy.deepcopy(res)
    del bad["device"]["big_swap"][0]["peak_orig_data_bytes"]
    del bad["device"]["devices"]["zram"]["fio"][0]["clat_p99_ns"]
    assert report.validate(bad) == ["device.devices.zram.fio[0].clat_p99_ns",
                                    "device.big_swap[0].peak_orig_data_bytes"]


def test_report_without_fio_says_why(res: dict[str, Any]) -> None:
    for d in res["device"]["devices"].values():
        d["fio"] = []
    res["device"]["big_swap"] = []
    md = report.markdown(res)
    assert "fio: no rows (no shm)." in md
    assert "Not run in this plan." in md


# ---- host load and latest.md -----------------------------------------------------------

def test_verdict() -> None:
    assert hostload.verdict(0.4, 2.3, 1.9)[0] is True
    ok, why = hostload.verdict(2.0, 2.3, 1.9)
    assert not ok and "2.00 at the start" in why
    ok, why = hostload.verdict(0.5, 4.0, 1.9)
    assert not ok and "2.10 without the guest" in why
    assert hostload.verdict(0.5, 1.4, None)[0] is True


def test_proc_parsers(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 1000 20 0 10 0 0 0\ncpu0 50 0 25 500 10 0 5 0 0 0\n")
    hz = os.sysconf("SC_CLK_TCK")
    assert hostload.host_busy_seconds(stat) == pytest.approx(160 / hz)
    la = tmp_path / "loadavg"
    la.write_text("0.52 1.10 2.00 1/300 4242\n")
    assert hostload.loadavg(la) == (0.52, 1.10, 2.00)
    a = hostload.CpuSnapshot(0.0, 10.0, 4.0)
    b = hostload.CpuSnapshot(10.0, 30.0, 20.0)
    assert hostload.usage(a, b) == pytest.approx({"seconds": 10.0, "guest_cpus": 1.6,
                                                  "others_cpus": 0.4})
    # this process has used some CPU
    assert hostload.proc_cpu_seconds(os.getpid()) >= 0


def test_latest_only_from_valid_runs(tmp_path: Path, res: dict[str, Any]) -> None:
    res["host"]["valid_for_speed"], res["host"]["validity"] = False, "host load 9.0"
    out = report.write(res, tmp_path, stamp="20260101-000000")
    assert (out / "report.md").exists()
    assert not (tmp_path / "latest-quick.md").exists()
    assert "**Not valid for speed ratios: host load 9.0.**" in (out / "report.md").read_text()
    res["host"]["valid_for_speed"] = True
    report.write(res, tmp_path, stamp="20260101-000001")
    assert "Valid for speed ratios" in (tmp_path / "latest-quick.md").read_text()


# ---- lock_stat ---------------------------------------------------------------------------

LOCK_STAT = """\
lock_stat version 0.4
-----------------------------------------------------------------------------------------
                              class name    con-bounces    contentions   waittime-min   waittime-max waittime-total   waittime-avg    acq-bounces   acquisitions   holdtime-min   holdtime-max holdtime-total   holdtime-avg
-----------------------------------------------------------------------------------------

                   &rzs->write_locks[i]:           812            830           0.35        9120.40      152340.10         183.54           2100          40960           0.80         401.22       90001.00           2.20
                   --------------------
                   &rzs->write_locks[i]            830          [<c1234567>] rzs_bvec_write+0x20/0x80 [ramzswap]

.............................................................................................
                         &mm->mmap_lock-W:             3              4           1.00           2.00           5.00           1.25             10            100           0.10           1.00          10.00           0.10
                         &mm->mmap_lock-R:             0              0           0.00           0.00           0.00           0.00              5            900           0.10           1.00          90.00           0.10
                              &pool->lock:             0              0           0.00           0.00           0.00           0.00             50          81920           0.20          30.00        8000.00           0.10
"""  # noqa: E501


def test_lockstat_parse_and_select() -> None:
    rows = lockstat.parse(LOCK_STAT)
    assert [r.name for r in rows] == ["&rzs->write_locks[i]", "&mm->mmap_lock-W",
                                      "&mm->mmap_lock-R", "&pool->lock"]
    w = rows[0]
    assert (w.contentions, w.acquisitions) == (830, 40960)
    assert w.waittime_total == pytest.approx(152340.10)
    names = [r.name for r in lockstat.select(rows, top=2)]
    # ours (by name) and the busiest with contentions, most contended first
    assert names == ["&rzs->write_locks[i]", "&mm->mmap_lock-W", "&pool->lock"]
