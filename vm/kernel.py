"""Unpack Debian's linux-source-<series> (6.1, 6.12) once, configure and build each
flavour of each series in its own output directory, cached by a hash of the inputs."""

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
    series: str = paths.DEFAULT_KERNEL   # 6.1 or 6.12

    @property
    def name(self) -> str:
        """`debug`, `perf` (6.1) or `6.12-debug`, ...: cache and log names."""
        return paths.build_name(self.flavour, self.series)

    @property
    def srctree(self) -> Path:
        return paths.source_tree(self.series)


def check_series(series: str) -> str:
    if series not in paths.KERNELS:
        raise StepError("kernel", f"unknown kernel series {series!r}; "
                        f"choose from {', '.join(paths.KERNELS)}")
    return series


def fragments(flavour: str, series: str = paths.DEFAULT_KERNEL) -> list[Path]:
    """base + i386 + flavour, then `<series>.config` and `<series>-<flavour>.config`
    when they exist (what differs in a newer series; 6.1 has none)."""
    if flavour not in paths.FLAVOURS:
        raise StepError("kernel", f"unknown flavour {flavour!r}; "
                        f"choose from {', '.join(paths.FLAVOURS)}")
    check_series(series)
    frags = [paths.CONFIGS / "base.config", paths.CONFIGS / "i386.config",
             paths.CONFIGS / f"{flavour}.config"]
    if series != paths.DEFAULT_KERNEL:
        frags += [f for f in (paths.CONFIGS / f"{series}.config",
                              paths.CONFIGS / f"{series}-{flavour}.config") if f.is_file()]
    return frags


def tarball_identity(series: str = paths.DEFAULT_KERNEL) -> str:
    tarball = paths.debian_kernel_tarball(series)
    if not tarball.is_file():
        raise StepError("kernel source", f"{tarball} is missing; install it with "
                        f"`apt-get install linux-source-{series}` (or run setup.sh)")
    st = tarball.stat()
    return f"{tarball}:{st.st_size}:{int(st.st_mtime)}"


def unpack_source(series: str = paths.DEFAULT_KERNEL) -> Path:
    """Unpack the series' tarball once; return the source tree."""
    root = paths.ensure(paths.src_dir(series))
    with cache.locked(root):
        return _unpack(root, series)


def _unpack(root: Path, series: str) -> Path:
    key = cache.hash_parts([tarball_identity(series)])
    tree = paths.source_tree(series)
    if cache.is_complete(root, key) and (tree / "Makefile").is_file():
        return tree
    tarball = paths.debian_kernel_tarball(series)
    log = paths.logs_dir() / ("kernel-unpack.log" if series == paths.DEFAULT_KERNEL
                              else f"kernel-unpack-{series}.log")
    with stage(f"kernel source: unpacking {tarball}"):
        cache.invalidate(root)
        if tree.exists():
            shutil.rmtree(tree)
        run_logged("kernel source unpack", ["tar", "-xf", tarball, "-C", root], log)
        cache.mark_complete(root, key)
    return tree


def input_key(config_text: str, series: str = paths.DEFAULT_KERNEL) -> str:
    """A build's inputs: the resolved .config, the source and the compiler."""
    return cache.hash_parts([tarball_identity(series), kconfig.compiler_version(),
                             config_text])


def _release(build_dir: Path) -> str:
    return (build_dir / "include/config/kernel.release").read_text().strip()


def _result(flavour: str, build_dir: Path, series: str) -> KernelBuild:
    return KernelBuild(flavour, build_dir, build_dir / "arch/x86/boot/bzImage",
                       _release(build_dir), build_dir / "modules-staging", series)


def build(flavour: str, force: bool = False, series: str = paths.DEFAULT_KERNEL) -> KernelBuild:
    """Configure and build one flavour of a series (see _build); one build per
    directory at a time."""
    check_series(series)
    srctree = unpack_source(series)
    with cache.locked(paths.kernel_build_dir(flavour, series)):
        return _build(flavour, srctree, force, series)


def _build(flavour: str, srctree: Path, force: bool, series: str) -> KernelBuild:
    """Configure and build one flavour; reuse it when its inputs are unchanged.

    Each flavour has one build directory, so a changed fragment rebuilds
    incrementally; the directory counts as valid only once its stamp (the hash
    of the resolved .config, source and compiler) is written, after the build."""
    build_dir = paths.ensure(paths.kernel_build_dir(flavour, series))
    name = paths.build_name(flavour, series)
    frags = fragments(flavour, series)
    wanted = build_dir / ".config.requested"
    requests = kconfig.resolve(srctree, frags, wanted)
    key = input_key(wanted.read_text(), series)
    if not force and cache.is_complete(build_dir, key):
        say(f"kernel {name}: up to date, reused {build_dir}")
        return _result(flavour, build_dir, series)
    cache.invalidate(build_dir)
    log = paths.ensure(paths.logs_dir()) / f"kernel-{name}.log"
    make = ["make", "-C", str(srctree), f"O={build_dir}", f"ARCH={kconfig.ARCH}"]
    with stage(f"kernel {name}: configure (kconfiglib: tinyconfig + "
               f"{' + '.join(f.stem for f in frags)})"):
        shutil.copyfile(wanted, build_dir / ".config")
        run_logged(f"kernel {name} olddefconfig", [*make, "olddefconfig"], log)
        kconfig.verify_final((build_dir / ".config").read_text(), requests, build_dir / ".config")
    with stage(f"kernel {name}: build bzImage + modules (log: {log})"):
        run_logged(f"kernel {name} build", [*make, f"-j{JOBS}", "bzImage", "modules"], log,
                   append=True)
        staging = build_dir / "modules-staging"
        if staging.exists():
            shutil.rmtree(staging)
        run_logged(f"kernel {name} modules_install",
                   [*make, "modules_install", f"INSTALL_MOD_PATH={staging}"], log, append=True)
        kconfig.verify_final((build_dir / ".config").read_text(), requests, build_dir / ".config")
    cache.mark_complete(build_dir, key)
    say(f"kernel {name}: {_release(build_dir)} in {build_dir}")
    return _result(flavour, build_dir, series)
