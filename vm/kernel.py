"""Unpack Debian's linux-source-6.1 once, configure and build each flavour in its
own output directory, cached by a hash of the inputs."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vm import cache, kconfig, paths
from vm.errors import StepError
from vm.step import run_logged, say, stage

JOBS = str(os.cpu_count() or 2)


@dataclass(frozen=True)
class KernelBuild:
    flavour: str
    build_dir: Path      # make O=...; what `make -C ... M=` needs
    bzimage: Path
    release: str         # `uname -r` of the guest
    modules_root: Path   # INSTALL_MOD_PATH staging (lib/modules/<release>/...)


def fragments(flavour: str) -> list[Path]:
    if flavour not in paths.FLAVOURS:
        raise StepError("kernel", f"unknown flavour {flavour!r}; "
                        f"choose from {', '.join(paths.FLAVOURS)}")
    return [paths.CONFIGS / "base.config", paths.CONFIGS / "i386.config",
            paths.CONFIGS / f"{flavour}.config"]


def tarball_identity(tarball: Path = paths.DEBIAN_KERNEL_TARBALL) -> str:
    if not tarball.is_file():
        raise StepError("kernel source", f"{tarball} is missing; install it with "
                        "`apt-get install linux-source-6.1` (or run .ci/setup)")
    st = tarball.stat()
    return f"{tarball}:{st.st_size}:{int(st.st_mtime)}"


def unpack_source() -> Path:
    """Unpack the tarball once; return the source tree."""
    root = paths.ensure(paths.src_dir())
    with cache.locked(root):
        return _unpack(root)


def _unpack(root: Path) -> Path:
    key = cache.hash_parts([tarball_identity()])
    tree = root / "linux-source-6.1"
    if cache.is_complete(root, key) and (tree / "Makefile").is_file():
        return tree
    log = paths.logs_dir() / "kernel-unpack.log"
    with stage(f"kernel source: unpacking {paths.DEBIAN_KERNEL_TARBALL}"):
        cache.invalidate(root)
        if tree.exists():
            shutil.rmtree(tree)
        run_logged("kernel source unpack",
                   ["tar", "-xf", paths.DEBIAN_KERNEL_TARBALL, "-C", root], log)
        cache.mark_complete(root, key)
    return tree


def input_key(config_text: str) -> str:
    """A build's inputs: the resolved .config, the source and the compiler."""
    return cache.hash_parts([tarball_identity(), kconfig.compiler_version(), config_text])


def _release(build_dir: Path) -> str:
    return (build_dir / "include/config/kernel.release").read_text().strip()


def _result(flavour: str, build_dir: Path) -> KernelBuild:
    return KernelBuild(flavour, build_dir, build_dir / "arch/x86/boot/bzImage",
                       _release(build_dir), build_dir / "modules-staging")


def build(flavour: str, force: bool = False) -> KernelBuild:
    """Configure and build one flavour (see _build); one build per directory at a time."""
    srctree = unpack_source()
    with cache.locked(paths.kernel_build_dir(flavour)):
        return _build(flavour, srctree, force)


def _build(flavour: str, srctree: Path, force: bool) -> KernelBuild:
    """Configure and build one flavour; reuse it when its inputs are unchanged.

    Each flavour has one build directory, so a changed fragment rebuilds
    incrementally; the directory counts as valid only once its stamp (the hash
    of the resolved .config, source and compiler) is written, after the build."""
    build_dir = paths.ensure(paths.kernel_build_dir(flavour))
    wanted = build_dir / ".config.requested"
    requests = kconfig.resolve(srctree, fragments(flavour), wanted)
    key = input_key(wanted.read_text())
    if not force and cache.is_complete(build_dir, key):
        say(f"kernel {flavour}: up to date, reused {build_dir}")
        return _result(flavour, build_dir)
    cache.invalidate(build_dir)
    log = paths.ensure(paths.logs_dir()) / f"kernel-{flavour}.log"
    make = ["make", "-C", str(srctree), f"O={build_dir}", f"ARCH={kconfig.ARCH}"]
    with stage(f"kernel {flavour}: configure (kconfiglib: tinyconfig + "
               f"{' + '.join(f.stem for f in fragments(flavour))})"):
        shutil.copyfile(wanted, build_dir / ".config")
        run_logged(f"kernel {flavour} olddefconfig", [*make, "olddefconfig"], log)
        kconfig.verify_final((build_dir / ".config").read_text(), requests, build_dir / ".config")
    with stage(f"kernel {flavour}: build bzImage + modules (log: {log})"):
        run_logged(f"kernel {flavour} build", [*make, f"-j{JOBS}", "bzImage", "modules"], log,
                   append=True)
        staging = build_dir / "modules-staging"
        if staging.exists():
            shutil.rmtree(staging)
        run_logged(f"kernel {flavour} modules_install",
                   [*make, "modules_install", f"INSTALL_MOD_PATH={staging}"], log, append=True)
        kconfig.verify_final((build_dir / ".config").read_text(), requests, build_dir / ".config")
    cache.mark_complete(build_dir, key)
    say(f"kernel {flavour}: {_release(build_dir)} in {build_dir}")
    return _result(flavour, build_dir)
