"""Start and stop an i386 guest in QEMU.

User networking only, restrict=on, ssh forwarded from 127.0.0.1 on a free
port; serial console to a log file; -no-reboot with panic=-1 so a panic ends
the guest.  KVM is probed by booting (nested KVM here starts but prints
nothing), with a fall back to TCG that is announced."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from vm import paths
from vm.errors import StepError
from vm.step import say, tail

QEMU = "qemu-system-i386"
KVM_PROBE_SECONDS = 15.0
_accel_choice: str | None = None


@dataclass
class QemuConfig:
    kernel: Path
    image: Path
    console_log: Path
    memory_mib: int = 2048
    cpus: int = 2
    extra_append: str = ""
    accel: str = "auto"  # auto, kvm or tcg
    # Stock-kernel guests (vm/stock.py): their initrd, qemu-system-x86_64 for
    # amd64, the image's own init (init=""), a writable overlay (snapshot off).
    initrd: Path | None = None
    qemu: str = QEMU
    init: str = "/usr/bin/tini -- /usr/local/sbin/guest-init"
    image_format: str = "raw"
    snapshot: bool = True


@dataclass
class Qemu:
    config: QemuConfig
    ssh_port: int = 0
    accel: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Under TCG a vCPU is a host thread that a loaded host deschedules for tens
# of seconds: the RCU stall detector (21 s by default) and the hung-task
# detector (120 s) then report the emulator's starvation, not a kernel bug
# (seen here at load 8-10: rcu_sched stalls and "swapper/0:1 blocked for more
# than 120 seconds" during boot).  Their limits are raised, not removed: a
# real stall or hang still gets reported.
TCG_APPEND = "rcupdate.rcu_cpu_stall_timeout=300 sysctl.kernel.hung_task_timeout_secs=600"


def kernel_cmdline(extra: str = "", accel: str = "tcg",
                   init: str = "/usr/bin/tini -- /usr/local/sbin/guest-init") -> str:
    # Everything after "--" is handed to init (tini), which runs our init script;
    # init="" boots the image's own init (the stock-kernel guests' systemd).
    base = ("root=/dev/vda rw rootfstype=ext4 console=ttyS0,115200 panic=-1 "
            "oops=panic printk.devkmsg=on")
    if accel == "tcg":
        base += " " + TCG_APPEND
    return f"{base} {extra}".strip() + (f" init={init}" if init else "")


def command(cfg: QemuConfig, accel: str, port: int) -> list[str]:
    # TCG's "max" model reports an AMD family the kernel warns about for SMP.
    cpu = "host" if accel == "kvm" else "max,vendor=GenuineIntel"
    return [
        cfg.qemu, "-machine", "pc", "-accel", accel, "-cpu", cpu,
        "-m", str(cfg.memory_mib), "-smp", str(cfg.cpus),
        "-nodefaults", "-display", "none", "-no-reboot",
        "-kernel", str(cfg.kernel), "-append",
        kernel_cmdline(cfg.extra_append, accel, cfg.init),
        *(["-initrd", str(cfg.initrd)] if cfg.initrd else []),
        "-drive", f"file={cfg.image},format={cfg.image_format},if=virtio"
                  + (",snapshot=on" if cfg.snapshot else ""),
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        "-device", "virtio-rng-pci",
        "-serial", f"file:{cfg.console_log}",
    ]


SPAWN_TRIES = 5
STARTED_SECONDS = 5.0
# What QEMU prints when the forwarded port was taken between free_port() and
# its bind (another guest on this machine got it first).
_PORT_TAKEN = ("Could not set up host forwarding rule", "hostfwd", "Address already in use")


def _spawn(cfg: QemuConfig, accel: str) -> Qemu:
    """Start QEMU; retry with another port when the forwarded one was taken
    meanwhile (free_port() cannot reserve it)."""
    cfg.console_log.parent.mkdir(parents=True, exist_ok=True)
    err_log = cfg.console_log.with_suffix(".qemu-stderr.log")
    for attempt in range(1, SPAWN_TRIES + 1):
        port = free_port()
        cfg.console_log.write_bytes(b"")
        with err_log.open("wb") as err:
            proc = subprocess.Popen(command(cfg, accel, port), stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=subprocess.STDOUT)
        q = Qemu(cfg, port, accel, proc)
        # Started once the guest prints (QEMU binds the port before the guest
        # runs), or after STARTED_SECONDS alive.
        end = time.monotonic() + STARTED_SECONDS
        while q.alive() and time.monotonic() < end and cfg.console_log.stat().st_size == 0:
            time.sleep(0.1)
        if q.alive():
            return q
        q.stop()
        text = err_log.read_text(errors="replace")
        if attempt < SPAWN_TRIES and any(m in text for m in _PORT_TAKEN):
            say(f"qemu: port {port} was taken meanwhile; trying another")
            continue
        raise StepError("qemu start", f"{QEMU} ({accel}) exited at once with status "
                        f"{proc.returncode}", err_log, tail(err_log))
    raise AssertionError("unreachable")


def _console_has_output(log: Path, seconds: float, q: Qemu) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end and q.alive():
        try:
            if b"Linux version" in log.read_bytes():
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _probe_file() -> Path:
    return paths.cache_root() / "accel-probe"


def _probe_id() -> str:
    """What the probe result depends on: the host kernel and the QEMU binary."""
    qemu_bin = Path(shutil.which(QEMU) or QEMU)
    st = qemu_bin.stat() if qemu_bin.exists() else None
    return f"{os.uname().release} {qemu_bin}:{st.st_size if st else 0}:{st.st_mtime if st else 0}"


def _remembered_accel() -> str | None:
    try:
        ident, _, accel = _probe_file().read_text().strip().rpartition(" => ")
    except OSError:
        return None
    return accel if ident == _probe_id() and accel in ("kvm", "tcg") else None


def _remember_accel(accel: str) -> None:
    paths.ensure(_probe_file().parent)
    _probe_file().write_text(f"{_probe_id()} => {accel}\n")


def _decided_accel(requested: str) -> str | None:
    """The accelerator, when it is known without booting: asked for (argument
    or RAMZSWAP_ACCEL), chosen earlier in this process, or remembered in the
    cache.  None: probe."""
    if requested in ("kvm", "tcg"):
        return requested
    forced = os.environ.get("RAMZSWAP_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    return _accel_choice or _remembered_accel()


def _probe_kvm(cfg: QemuConfig) -> Qemu | None:
    """Boot under KVM; the running guest if its kernel prints within
    KVM_PROBE_SECONDS, else None (stopped), saying why."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        say("qemu: no usable /dev/kvm: using TCG (software emulation)")
        return None
    try:
        q = _spawn(cfg, "kvm")
    except StepError as e:
        say(f"qemu: KVM would not start ({e.reason.splitlines()[0]}; "
            f"{tail(cfg.console_log.with_suffix('.qemu-stderr.log'), 1).strip()}): "
            f"falling back to TCG")
        return None
    if _console_has_output(cfg.console_log, KVM_PROBE_SECONDS, q):
        say("qemu: KVM works, using it")
        return q
    q.stop()
    say(f"qemu: /dev/kvm present but the guest printed nothing in {KVM_PROBE_SECONDS:.0f}s "
        f"under KVM (nested KVM?): falling back to TCG")
    return None


def start(cfg: QemuConfig) -> Qemu:
    """Boot the guest.  The one place the accelerator is chosen: cfg.accel
    or RAMZSWAP_ACCEL (kvm, tcg) if given, else the remembered probe result
    for this host kernel and QEMU binary (cache_root()/accel-probe; delete it
    to probe again), else a probe: KVM is kept only if the kernel prints
    within KVM_PROBE_SECONDS, otherwise TCG."""
    global _accel_choice
    if shutil.which(cfg.qemu) is None:
        raise StepError("qemu", f"{cfg.qemu} not found: apt-get install qemu-system-x86")
    for f in (cfg.kernel, cfg.image):
        if not f.is_file():
            raise StepError("qemu", f"{f} does not exist: run `invoke build` first")
    accel = _decided_accel(cfg.accel)
    if accel is None:
        q = _probe_kvm(cfg)
        accel = "kvm" if q is not None else "tcg"
        _remember_accel(accel)
        _accel_choice = accel
        if q is not None:
            return q
    cfg.accel = accel
    q = _spawn(cfg, accel)
    say(f"qemu: booting with {accel}, ssh on 127.0.0.1:{q.ssh_port}, console {cfg.console_log}")
    return q
