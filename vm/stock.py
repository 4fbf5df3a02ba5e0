"""Stock-kernel guests: Debian 12 with Debian's own kernel, its headers, dkms
and gcc (the user's case).  The image is built from Debian's packages with
mmdebstrap, boots that kernel with its initrd (taken from the image) under
systemd, and our modules get in only as the DKMS package (vm/dkms.py).

- i386: linux-image-686-pae (PAE, HIGHMEM), qemu-system-i386;
- amd64: linux-image-amd64 (no highmem), qemu-system-x86_64.

Each image is cached by its inputs under cache_root()/stock-<arch>/.  A boot
runs on a sparse copy of the image (not snapshot=on), so that a reboot keeps
what the test installed, as a real machine does."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vm import cache, paths, qemu, rootdir
from vm.errors import StepError
from vm.guest import BOOT_DEADLINE_S, Guest
from vm.image import MIRROR, ROOTFS_SRC, SUITE, ssh_key
from vm.ssh import SshError, wait_for_ssh
from vm.step import run_logged, say, stage, tail


@dataclass(frozen=True)
class Arch:
    name: str
    kernel_pkg: str
    headers_pkg: str
    qemu: str


ARCHES = {
    "i386": Arch("i386", "linux-image-686-pae", "linux-headers-686-pae", "qemu-system-i386"),
    "amd64": Arch("amd64", "linux-image-amd64", "linux-headers-amd64", "qemu-system-x86_64"),
}
PACKAGES = (
    "systemd-sysv", "udev", "dbus", "initramfs-tools", "openssh-server", "dkms", "gcc", "make",
    "libc6-dev", "kmod", "procps", "util-linux", "e2fsprogs", "iproute2",
)
IMAGE_SIZE = "3G"
NETWORK_UNIT = "[Match]\\nName=en* eth*\\n\\n[Network]\\nDHCP=ipv4\\n"
# Units that only slow a TCG boot down or reach for the network.
MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer",
          "e2scrub_reap.service", "systemd-timesyncd.service", "fstrim.timer")


# Debian's kernels have the soft-lockup detector (qemu.TCG_APPEND covers RCU and
# hung tasks): at its default (20 s) it reported "soft lockup - CPU#1 stuck for
# 22s" in a stock i386 guest while the loaded host starved the vCPU (clocksource
# readouts 6-12 s apart just before).  60 s is its maximum threshold; a real
# lockup is still reported, after 120 s.
STOCK_APPEND = "watchdog_thresh=60"


@dataclass(frozen=True)
class StockImage:
    arch: Arch
    path: Path       # raw ext4 root filesystem
    vmlinuz: Path    # Debian's kernel, from the image's /boot
    initrd: Path     # its initramfs, from the image's /boot
    release: str     # `uname -r` in the guest
    ssh_key: Path


def image_dir(arch: str) -> Path:
    return paths.cache_root() / f"stock-{arch}"


def _arch(arch: str) -> Arch:
    if arch not in ARCHES:
        raise StepError("stock image", f"unknown arch {arch!r}; choose {', '.join(ARCHES)}")
    return ARCHES[arch]


def _hooks(pubkey: Path) -> list[str]:
    """mmdebstrap --customize-hook commands ($1 is the root directory)."""
    return [
        f'install -m 0644 {ROOTFS_SRC / "sshd_config"} "$1/etc/ssh/sshd_config.d/ramzswap.conf"',
        'install -d -m 0700 "$1/root/.ssh"',
        f'install -m 0600 {pubkey} "$1/root/.ssh/authorized_keys"',
        'echo ramzswap-stock > "$1/etc/hostname"',
        'printf "127.0.0.1 localhost ramzswap-stock\\n" > "$1/etc/hosts"',
        'printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\\n" > "$1/etc/fstab"',
        f'printf "{NETWORK_UNIT}" > "$1/etc/systemd/network/80-qemu.network"',
        'chroot "$1" systemctl enable systemd-networkd ssh',
        f'chroot "$1" systemctl mask {" ".join(MASKED)}',
        'chroot "$1" ssh-keygen -A',
        'cp "$1"/boot/vmlinuz-* "$1/../vmlinuz.tmp"',
        'cp "$1"/boot/initrd.img-* "$1/../initrd.img.tmp"',
        'ls "$1/lib/modules" > "$1/../release.tmp"',
        'rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*',
    ]


def input_key(arch: Arch, pub: Path) -> str:
    """What goes into the image (not this file: a change to how it boots must
    not rebuild it)."""
    return cache.hash_parts([arch.name, arch.kernel_pkg, arch.headers_pkg, SUITE, MIRROR,
                             " ".join(PACKAGES), IMAGE_SIZE, pub.read_bytes(),
                             "\n".join(_hooks(pub)), (ROOTFS_SRC / "sshd_config").read_bytes()])


def build(arch: str, force: bool = False) -> StockImage:
    a = _arch(arch)
    d = paths.ensure(image_dir(arch))
    with cache.locked(d):
        return _build(a, d, force)


def _result(a: Arch, d: Path, key: Path) -> StockImage:
    return StockImage(a, d / "rootfs.ext4", d / "vmlinuz", d / "initrd.img",
                      (d / "release").read_text().strip(), key)


def _build(a: Arch, d: Path, force: bool) -> StockImage:
    key_path = ssh_key()
    pub = Path(str(key_path) + ".pub")
    key = input_key(a, pub)
    if not force and cache.is_complete(d, key):
        say(f"stock image {a.name}: up to date, reused {d}")
        return _result(a, d, key_path)
    for tool, pkg in (("mmdebstrap", "mmdebstrap"), ("mke2fs", "e2fsprogs"),
                      (a.qemu, "qemu-system-x86")):
        if shutil.which(tool) is None:
            raise StepError(f"stock image {a.name}", f"{tool} not found: apt-get install {pkg}")
    cache.invalidate(d)
    log = paths.ensure(paths.logs_dir()) / f"stock-image-{a.name}.log"
    root = d / "rootfs"
    rootdir.remove(root, f"stock image {a.name}")
    pkgs = [a.kernel_pkg, a.headers_pkg, *PACKAGES]
    cmd = [f"--arch={a.name}", "--variant=minbase", "--aptopt=APT::Install-Recommends \"false\"",
           "--include=" + ",".join(pkgs)]
    cmd = ["mmdebstrap", *cmd, *("--customize-hook=" + h for h in _hooks(pub)),
           SUITE, str(root), MIRROR]
    with stage(f"stock image {a.name}: mmdebstrap {SUITE} with {a.kernel_pkg}, "
               f"{a.headers_pkg}, dkms, gcc (log: {log})"):
        run_logged(f"stock image {a.name} (mmdebstrap)", cmd, log)
    tmp = d / "rootfs.ext4.tmp"
    tmp.unlink(missing_ok=True)
    with stage(f"stock image {a.name}: mke2fs -d"):
        run_logged(f"stock image {a.name} (mke2fs)",
                   ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", str(root), str(tmp),
                    IMAGE_SIZE], log, append=True)
    for name in ("vmlinuz", "initrd.img", "release"):
        (d / f"{name}.tmp").replace(d / name)
    tmp.replace(d / "rootfs.ext4")
    shutil.rmtree(root)
    cache.mark_complete(d, key)
    img = _result(a, d, key_path)
    say(f"stock image {a.name}: kernel {img.release}, {img.path}")
    return img


class StockMachine:
    """A stock guest's disk (a sparse copy of the image) and its boots."""

    def __init__(self, img: StockImage, workdir: Path, memory_mib: int = 2048,
                 cpus: int = 2) -> None:
        self.img = img
        self.disk = workdir / f"stock-{img.arch.name}.ext4"
        self.memory_mib = memory_mib
        self.cpus = cpus
        self.boots = 0
        subprocess.run(["cp", "--sparse=always", str(img.path), str(self.disk)], check=True)

    def boot(self) -> Guest:
        logs = paths.ensure(paths.logs_dir())
        stamp = time.strftime("%Y%m%d-%H%M%S")
        console = logs / f"console-stock-{self.img.arch.name}-{self.boots}-{stamp}.log"
        self.boots += 1
        cfg = qemu.QemuConfig(self.img.vmlinuz, self.disk, console, self.memory_mib, self.cpus,
                              extra_append=STOCK_APPEND, initrd=self.img.initrd,
                              qemu=self.img.arch.qemu, init="", snapshot=False)
        t0 = time.monotonic()
        machine = qemu.start(cfg)
        try:
            ssh = wait_for_ssh("127.0.0.1", machine.ssh_port, self.img.ssh_key,
                               BOOT_DEADLINE_S, machine.alive, console)
        except SshError as e:
            alive = machine.alive()
            machine.stop()
            raise StepError(f"stock guest {self.img.arch.name} boot",
                            f"{e} ({'still running' if alive else 'QEMU exited'})",
                            console, tail(console, 30)) from e
        g = Guest(f"stock-{self.img.arch.name}", machine, ssh, console, self.img.release,
                  boot_seconds=time.monotonic() - t0)
        say(f"stock guest {self.img.arch.name}: ssh up after {g.boot_seconds:.1f}s "
            f"({machine.accel}), kernel {self.img.release}")
        try:
            uname = g.run("uname -r").stdout.strip()
            if uname != self.img.release:
                raise StepError("stock guest boot", f"guest runs {uname!r}, expected "
                                f"{self.img.release!r}", console)
        except BaseException:
            g.stop()
            raise
        return g

    def reboot(self, g: Guest) -> Guest:
        """`systemctl reboot` in the guest (QEMU runs with -no-reboot, so it
        exits), then boot the same disk again."""
        g.run("systemctl reboot", check=False, timeout=30)
        deadline = time.monotonic() + 180
        while g.machine.alive() and time.monotonic() < deadline:
            time.sleep(1)
        g.stop()
        return self.boot()

    def remove(self) -> None:
        self.disk.unlink(missing_ok=True)
