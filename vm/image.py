"""The Debian 12 i386 guest: a root filesystem from Debian's i386 packages
(mmdebstrap), our init and sshd settings, the harness's ssh key; written to an
ext4 image with mke2fs -d (no loop mounts).  Cached by its inputs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vm import cache, paths, rootdir
from vm.errors import StepError
from vm.step import run_logged, say, stage

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "openssh-server", "openssh-sftp-server", "util-linux", "e2fsprogs", "fio", "stress-ng", "kmod",
    "procps", "iproute2", "tini",
)
IMAGE_SIZE = "1536M"
ROOTFS_SRC = Path(__file__).resolve().parent / "rootfs"


@dataclass(frozen=True)
class Image:
    path: Path       # raw ext4 image (booted with -snapshot: never modified)
    ssh_key: Path    # private key for root


def ssh_key() -> Path:
    """The harness's key pair (generated once into the cache)."""
    d = paths.ensure(paths.cache_root() / "ssh")
    key = d / "id_ed25519"
    if not key.is_file():
        tmp = d / "id_ed25519.tmp"
        for p in (tmp, Path(str(tmp) + ".pub")):
            p.unlink(missing_ok=True)
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            "ramzswap-harness", "-f", str(tmp)], check=True)
        except FileNotFoundError as e:
            raise StepError("ssh key",
                            "ssh-keygen not found: apt-get install openssh-client") from e
        Path(str(tmp) + ".pub").replace(Path(str(key) + ".pub"))
        tmp.replace(key)
    return key


def input_key(pubkey: bytes) -> str:
    parts: list[str | bytes] = [SUITE, MIRROR, " ".join(PACKAGES), IMAGE_SIZE, pubkey,
                                Path(__file__).read_bytes()]
    for f in sorted(ROOTFS_SRC.iterdir()):
        parts += [f.name, f.read_bytes()]
    return cache.hash_parts(parts)


def _customize_hooks(pubkey: Path) -> list[str]:
    """mmdebstrap --customize-hook commands ($1 is the root directory)."""
    return [
        f'install -m 0755 {ROOTFS_SRC / "guest-init"} "$1/usr/local/sbin/guest-init"',
        f'install -m 0644 {ROOTFS_SRC / "sshd_config"} "$1/etc/ssh/sshd_config.d/ramzswap.conf"',
        'install -d -m 0700 "$1/root/.ssh"',
        f'install -m 0600 {pubkey} "$1/root/.ssh/authorized_keys"',
        'echo ramzswap-guest > "$1/etc/hostname"',
        'printf "127.0.0.1 localhost ramzswap-guest\\n" > "$1/etc/hosts"',
        ': > "$1/etc/fstab"',
        'chroot "$1" ssh-keygen -A',
        'rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*',
    ]


def build(force: bool = False) -> Image:
    with cache.locked(paths.image_dir()):
        return _build(force)


def _build(force: bool) -> Image:
    key_path = ssh_key()
    pub = Path(str(key_path) + ".pub")
    key = input_key(pub.read_bytes())
    d = paths.ensure(paths.image_dir())
    img = d / "rootfs-i386.ext4"
    if not force and cache.is_complete(d, key) and img.is_file():
        say(f"guest image: up to date, reused {img}")
        return Image(img, key_path)
    for tool, pkg in (("mmdebstrap", "mmdebstrap"), ("mke2fs", "e2fsprogs")):
        if shutil.which(tool) is None:
            raise StepError("guest image", f"{tool} not found: apt-get install {pkg}")
    cache.invalidate(d)
    log = paths.ensure(paths.logs_dir()) / "image.log"
    root = d / "rootfs"
    rootdir.remove(root, "guest image")
    cmd: list[str] = ["mmdebstrap", "--arch=i386", "--variant=minbase",
                      "--include=" + ",".join(PACKAGES)]
    for hook in _customize_hooks(pub):
        cmd.append("--customize-hook=" + hook)
    cmd += [SUITE, str(root), MIRROR]
    with stage(f"guest image: mmdebstrap {SUITE} i386 ({len(PACKAGES)} packages; log: {log})"):
        run_logged("guest image (mmdebstrap)", cmd, log)
    tmp = d / "rootfs-i386.ext4.tmp"
    tmp.unlink(missing_ok=True)
    with stage("guest image: mke2fs -d"):
        run_logged("guest image (mke2fs)",
                   ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", str(root), str(tmp),
                    IMAGE_SIZE], log, append=True)
    tmp.replace(img)
    shutil.rmtree(root)
    cache.mark_complete(d, key)
    return Image(img, key_path)
