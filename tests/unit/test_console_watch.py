"""vm.guest.ConsoleWatch: a long guest command is given up when the serial
console shows a fatal kernel report, and only then."""

from __future__ import annotations

from pathlib import Path

from vm.guest import ConsoleWatch

BEFORE = "[   10.000000] BUG: kernel NULL pointer dereference, address: 00000004\n"


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def test_reports_before_the_command_do_not_count(tmp_path: Path) -> None:
    con = tmp_path / "console.log"
    con.write_text(BEFORE)
    w = ConsoleWatch(con, lambda: True)
    assert w.fatal() is None
    _append(con, "[   11.000000] zram0: detected capacity change\n")
    assert w.fatal() is None


def test_warning_and_swap_error_go_on_oops_stops(tmp_path: Path) -> None:
    con = tmp_path / "console.log"
    con.write_text("")
    w = ConsoleWatch(con, lambda: True)
    _append(con, "[   12.000000] WARNING: CPU: 1 PID: 7 at mm/x.c:1 f+0x1/0x2\n"
                 "[   12.100000] Write-error on swap-device (253:0:8)\n")
    assert w.fatal() is None
    # a line still being written is not judged until it is complete
    _append(con, "[   13.000000] Kernel BUG at kunmap_local_ind")
    assert w.fatal() is None
    _append(con, "exed+0x7/0x50 [verbose debug info unavailable]\n")
    why = w.fatal()
    assert why is not None and "kernel BUG" in why and str(con) in why


def test_dead_qemu_stops(tmp_path: Path) -> None:
    con = tmp_path / "console.log"
    con.write_text("")
    assert "QEMU exited" in (ConsoleWatch(con, lambda: False).fatal() or "")
