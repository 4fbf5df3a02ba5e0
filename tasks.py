"""invoke tasks: thin wrappers; the work lives in vm/."""

from __future__ import annotations

import shutil
import subprocess
import sys

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from vm import paths
from vm.errors import StepError

FLAVOUR_HELP = "kernel flavour: debug (correctness) or perf (benchmarks); default: both for build"
KERNEL_HELP = f"kernel series: {' or '.join(paths.KERNELS)} (default {paths.DEFAULT_KERNEL})"


def _flavours(flavour: str) -> tuple[str, ...]:
    if flavour in ("", "all"):
        return paths.FLAVOURS
    if flavour not in paths.FLAVOURS:
        raise Exit(f"unknown flavour {flavour!r}: choose debug, perf or all", 2)
    return (flavour,)


def _kernel(kernel: str) -> str:
    if kernel not in paths.KERNELS:
        raise Exit(f"unknown kernel {kernel!r}: choose {' or '.join(paths.KERNELS)}", 2)
    return kernel


def _fail(e: StepError) -> Exit:
    return Exit(f"error: {e}", 1)


@task(help={"flavour": FLAVOUR_HELP, "force": "rebuild even if the cache is valid",
            "kernel": KERNEL_HELP})
def build(c: Context, flavour: str = "all", force: bool = False,
          kernel: str = paths.DEFAULT_KERNEL) -> None:
    """Build kernel(s), our modules, guest programs and the i386 guest image (cached)."""
    from vm import pipeline
    try:
        built = pipeline.build(_flavours(flavour), force=force, series=_kernel(kernel))
    except StepError as e:
        raise _fail(e) from e
    for fl, b in built.items():
        print(f"{fl}: kernel {b.kernel.bzimage} ({b.kernel.release}); modules: "
              f"{', '.join(b.modules.kos) or 'none yet'}")
    print(f"image: {next(iter(built.values())).image.path}; logs: {paths.logs_dir()}")


@task(help={"flavour": "all (default: debug, plus the both_flavours tests on perf), debug "
                      "or perf", "k": "pytest -k expression",
            "long": "also run the long soak tests", "unit_only": "host unit tests only",
            "pytest_args": "extra arguments for pytest", "kernel": KERNEL_HELP,
            "stock": "only the stock-kernel guest tests (Debian's kernel, our DKMS package): "
                     "i386, amd64 or all"})
def test_vm(c: Context, flavour: str = "all", k: str = "", long: bool = False,
            unit_only: bool = False, pytest_args: str = "",
            kernel: str = paths.DEFAULT_KERNEL, stock: str = "") -> None:
    """Run the tests: host unit tests, then the guest tests on a booted VM."""
    if stock not in ("", "i386", "amd64", "all"):
        raise Exit(f"unknown stock arch {stock!r}: choose i386, amd64 or all", 2)
    target = ("tests/vm/test_stock_kernels.py" if stock
              else "tests/unit" if unit_only else "tests")
    args = [sys.executable, "-m", "pytest", "-ra", "--capture=tee-sys", target,
            f"--flavour={flavour}", f"--kernel={_kernel(kernel)}"]
    if stock:
        args.append(f"--stock={stock}")
    if k:
        args += ["-k", k]
    if long:
        args.append("--long")
    if pytest_args:
        args += pytest_args.split()
    print("$ " + " ".join(args), flush=True)
    rc = subprocess.call(args, cwd=paths.REPO)
    if rc == 5:
        raise Exit("pytest collected no tests: that is a failure here", 5)
    if rc != 0:
        raise Exit(f"tests failed (pytest exit {rc}); logs under {paths.logs_dir()}", rc)


@task(help={"flavour": "debug (default) or perf", "kernel": KERNEL_HELP})
def shell(c: Context, flavour: str = "debug", kernel: str = paths.DEFAULT_KERNEL) -> None:
    """Boot a guest (building what is missing) and open an interactive ssh shell."""
    from vm import guest, pipeline
    try:
        b = pipeline.build(_flavours(flavour), series=_kernel(kernel))[flavour]
        g = guest.boot(b.kernel, b.image, b.modules.kos, b.programs, tag="shell")
    except StepError as e:
        raise _fail(e) from e
    print(f"modules in {g.modules_dir}, programs in {g.bin_dir}; console: {g.console_log}")
    try:
        subprocess.call(["ssh", "-i", str(b.image.ssh_key), "-p", str(g.machine.ssh_port),
                         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                         "root@127.0.0.1"])
    finally:
        g.stop()


@task(help={"flavour": "kernel to check against (default debug)", "kernel": KERNEL_HELP})
def check(c: Context, flavour: str = "debug", kernel: str = paths.DEFAULT_KERNEL) -> None:
    """checkpatch --strict, W=1 and sparse (C=1) over kernel/."""
    from vm import kernel as vm_kernel
    from vm import modules
    try:
        kb = vm_kernel.build(_flavours(flavour)[0], series=_kernel(kernel))
        found = modules.check(kb)
    except StepError as e:
        raise _fail(e) from e
    for p in found:
        print(p)
    if found:
        raise Exit(f"check: {len(found)} problem(s); logs under {paths.logs_dir()}", 1)
    print("check: clean")


@task(help={"all": "also remove the unpacked kernel source, kernel builds and the image"})
def clean(c: Context, all: bool = False) -> None:
    """Remove module builds and logs (with --all: the whole cache, kernels included)."""
    root = paths.cache_root()
    if all:
        shutil.rmtree(root, ignore_errors=True)
        print(f"removed {root}")
        return
    for d in (root / "modules", *root.glob("check*"), paths.logs_dir()):
        shutil.rmtree(d, ignore_errors=True)
    print(f"cleaned {root} (kept kernel builds, source and image; --all removes them)")



@task(help={"quick": "a small run: a few minutes under TCG (default: the full run, ~20-30 min)",
            "kernel": KERNEL_HELP})
def bench(c: Context, quick: bool = False, kernel: str = paths.DEFAULT_KERNEL) -> None:
    """Allocators (xvmalloc, zsmalloc, kmalloc, kmem_caches) and devices (ramzswap, zram,
    brd) side by side in one perf boot; writes results/<timestamp>-<plan>/."""
    from bench import report
    from bench import run as bench_run
    try:
        out = bench_run.run(quick=quick, kernel=_kernel(kernel))
    except StepError as e:
        raise _fail(e) from e
    latest = paths.RESULTS / report.latest_name("quick" if quick else "full")
    print(f"bench: {out / 'report.md'} (raw: {out / 'results.json'}, plots: {out}/*.png); "
          f"latest: {latest}")
