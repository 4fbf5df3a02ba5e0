"""Build everything under kernel/ against a flavour's kernel, in one Kbuild
pass, with W=1; and the static checks (checkpatch --strict, sparse).

Kbuild of 6.1 writes objects next to the sources of an external module, so
the sources are copied into the cache and built there: the tree stays clean."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from vm import cache, dkms, kconfig, paths
from vm.errors import StepError
from vm.kernel import KernelBuild
from vm.step import run_logged, say, stage

COMPAT_HEADER = "rzs_compat.h"
# checkpatch types turned off for one file each, and why:
#  - the compat header is the one place that tests the kernel version;
#  - comp.c hands zstd's parameters to the zstd library, whose struct field
#    is named cParams (CamelCase that only the kernel's headers define).
CHECKPATCH_IGNORE = {COMPAT_HEADER: "LINUX_VERSION_CODE", "comp.c": "CAMELCASE"}
_WARN_RE = re.compile(r"\b(warning|error):", re.IGNORECASE)


@dataclass(frozen=True)
class ModulesBuild:
    flavour: str
    kos: dict[str, Path]   # module name -> .ko
    warnings: list[str]


def sources(root: Path = paths.KERNEL_MODULES_SRC) -> list[Path]:
    """The module sources, Kbuild files, Makefile and dkms.conf (the version)."""
    return dkms.source_files(root)


def has_modules(root: Path = paths.KERNEL_MODULES_SRC) -> bool:
    return any(p.suffix == ".c" for p in sources(root))


def _copy_tree(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for src in sources():
        target = dest / src.relative_to(paths.KERNEL_MODULES_SRC)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _make(kb: KernelBuild, tree: Path, *extra: str) -> list[str]:
    return ["make", "-C", str(kb.build_dir), f"M={tree}", f"ARCH={kconfig.ARCH}", "W=1",
            *extra]


def warnings_in(log: Path) -> list[str]:
    return [ln for ln in log.read_text(errors="replace").splitlines() if _WARN_RE.search(ln)]


def build(kb: KernelBuild, force: bool = False) -> ModulesBuild:
    """Build kernel/ against *kb*; reuse the result when nothing changed."""
    if not has_modules():
        say(f"modules {kb.flavour}: kernel/ has no module sources yet; nothing to build")
        return ModulesBuild(kb.flavour, {}, [])
    stamp = kb.build_dir / cache.STAMP
    kernel_key = stamp.read_text() if stamp.exists() else "unstamped"
    key = cache.hash_parts([cache.hash_files(sources(), paths.KERNEL_MODULES_SRC),
                            str(kb.build_dir.resolve()), kernel_key])
    out = paths.modules_out_dir(kb.name)
    tree = out / "src"
    log = paths.ensure(paths.logs_dir()) / f"modules-{kb.name}.log"
    with cache.locked(out):
        _build_locked(kb, out, tree, log, key, force)
    kos = {p.stem: p for p in sorted(tree.rglob("*.ko"))}
    warns = warnings_in(log)
    for w in warns:
        say(f"modules {kb.name}: {w}")
    return ModulesBuild(kb.flavour, kos, warns)


def _build_locked(kb: KernelBuild, out: Path, tree: Path, log: Path, key: str,
                  force: bool) -> None:
    if force or not cache.is_complete(out, key):
        paths.ensure(out)
        cache.invalidate(out)
        _copy_tree(tree)
        with stage(f"modules {kb.name}: make M=kernel W=1 (log: {log})"):
            run_logged(f"modules {kb.name} build", _make(kb, tree, "-j2", "modules"), log)
        cache.mark_complete(out, key)
    else:
        say(f"modules {kb.name}: up to date, reused {tree}")


def check(kb: KernelBuild) -> list[str]:
    """checkpatch --strict, a W=1 build and sparse (C=1) over kernel/.
    Returns the problems found (empty when clean)."""
    if not has_modules():
        say("check: kernel/ has no module sources yet; nothing to check")
        return []
    srctree = kb.build_dir.resolve()
    checkpatch = kb.srctree / "scripts" / "checkpatch.pl"
    if shutil.which("sparse") is None:
        raise StepError("check", "sparse not found: apt-get install sparse")
    problems: list[str] = []
    suffix = "" if kb.series == paths.DEFAULT_KERNEL else f"-{kb.series}"
    log = paths.ensure(paths.logs_dir()) / f"check{suffix}.log"
    log.write_text("")
    files = [p for p in sources() if p.suffix in (".c", ".h")]
    with stage(f"check: checkpatch --strict over {len(files)} files (log: {log})"):
        for f in files:
            try:
                types = CHECKPATCH_IGNORE.get(f.name)
                ignore = ["--ignore", types] if types else []
                run_logged("checkpatch", [checkpatch, "--strict", "--no-tree", "--terse",
                                          "--show-types", *ignore, "-f", f], log, append=True)
            except StepError:
                problems.append(f"checkpatch --strict: {f.relative_to(paths.REPO)} (see {log})")
    tree = paths.cache_root() / f"check{suffix}" / "src"
    _copy_tree(tree)
    slog = paths.logs_dir() / f"check-sparse{suffix}.log"
    with stage(f"check: W=1 C=1 build against {srctree.name} (log: {slog})"):
        run_logged("sparse build", _make(kb, tree, "C=1", "-j2", "modules"), slog)
    problems += [f"W=1/sparse: {w}" for w in warnings_in(slog)]
    return problems
