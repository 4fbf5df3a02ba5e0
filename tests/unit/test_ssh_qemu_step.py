"""Error paths of ssh, qemu and step running: each ends with one clear message."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vm import qemu
from vm.errors import StepError
from vm.ssh import SshError, wait_for_ssh
from vm.step import run_logged


@pytest.fixture
def key(tmp_path: Path) -> Path:
    p = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(p)], check=True)
    return p


def test_unreachable_port_fails_within_deadline(key: Path, tmp_path: Path) -> None:
    port = qemu.free_port()  # nothing listens there
    console = tmp_path / "console.log"
    t0 = time.monotonic()
    with pytest.raises(SshError) as ei:
        wait_for_ssh("127.0.0.1", port, key, deadline_s=3, console_log=console)
    assert time.monotonic() - t0 < 10
    assert f"127.0.0.1:{port}" in str(ei.value) and str(console) in str(ei.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and says nothing (a hung sshd)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    for c in conns:
        c.close()
    srv.close()


def test_silent_server_fails_within_deadline(key: Path, silent_server: int) -> None:
    t0 = time.monotonic()
    with pytest.raises(SshError, match="did not answer ssh"):
        wait_for_ssh("127.0.0.1", silent_server, key, deadline_s=4)
    assert time.monotonic() - t0 < 20


def test_dead_guest_is_reported(key: Path) -> None:
    with pytest.raises(SshError, match="exited before sshd answered"):
        wait_for_ssh("127.0.0.1", qemu.free_port(), key, deadline_s=30, alive=lambda: False)


def test_qemu_command_is_confined(tmp_path: Path) -> None:
    cfg = qemu.QemuConfig(tmp_path / "bz", tmp_path / "img", tmp_path / "c.log")
    cmd = " ".join(qemu.command(cfg, "tcg", 2222))
    assert "restrict=on" in cmd and "hostfwd=tcp:127.0.0.1:2222-:22" in cmd
    assert "-no-reboot" in cmd and "panic=-1" in cmd and "snapshot=on" in cmd
    assert "-smp 2" in cmd and "-m 2048" in cmd
    assert "rcupdate.rcu_cpu_stall_timeout=300" in cmd        # TCG only
    assert "rcu_cpu_stall_timeout" not in " ".join(qemu.command(cfg, "kvm", 2222))


def test_qemu_missing_kernel_is_clear(tmp_path: Path) -> None:
    cfg = qemu.QemuConfig(tmp_path / "bzImage", tmp_path / "img", tmp_path / "c.log")
    with pytest.raises(StepError, match=r"bzImage does not exist: run `invoke build`"):
        qemu.start(cfg)


def test_qemu_port_taken_meanwhile_is_retried(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process binds the port free_port() chose before QEMU does: the
    real QEMU refuses the forwarding rule, and _spawn tries another port.  (No
    kernel exists, so the second QEMU, past the network set-up, stops at the
    kernel: that error is the one reported.)"""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = [taken.getsockname()[1]]
    real_free_port = qemu.free_port

    def racy_free_port() -> int:
        port = ports.pop(0) if ports else real_free_port()
        chosen.append(port)
        return port

    chosen: list[int] = []
    monkeypatch.setattr(qemu, "free_port", racy_free_port)
    (tmp_path / "img").write_bytes(bytes(1 << 20))   # QEMU opens the drive first
    cfg = qemu.QemuConfig(tmp_path / "bzImage", tmp_path / "img", tmp_path / "c.log")
    try:
        with pytest.raises(StepError) as ei:
            qemu._spawn(cfg, "tcg")
    finally:
        taken.close()
    assert len(chosen) == 2 and chosen[0] != chosen[1], chosen
    assert "host forwarding" not in ei.value.tail and "kernel" in ei.value.tail, ei.value


def test_failed_step_names_log_and_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    with pytest.raises(StepError) as ei:
        run_logged("demo", ["sh", "-c", "echo first; echo the-last-line; exit 3"], log)
    msg = str(ei.value)
    assert "demo failed" in msg and "status 3" in msg and "the-last-line" in msg
    assert str(log) in msg


def test_missing_program_is_a_step_error(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="cannot run"):
        run_logged("demo", ["/nonexistent/tool"], tmp_path / "y.log")
