"""The benchmark's guest-side program (bench/guest/corpusio.c), built as a static
i386 binary with the same cached builder as the guest test programs."""

from __future__ import annotations

from pathlib import Path

from vm import paths
from vm.guest import Guest
from vm.guest_build import build_program

SOURCE = Path(__file__).resolve().parent / "guest" / "corpusio.c"
REMOTE = "/root/bench/corpusio"


def build() -> Path:
    """Compile corpusio (cached by its source and the compiler)."""
    return build_program(SOURCE, paths.ensure(paths.guest_bin_dir() / "bench"))


def install(g: Guest) -> str:
    """Build corpusio if needed, copy it into the guest; return its guest path."""
    g.run(f"mkdir -p {REMOTE.rsplit('/', 1)[0]}")
    g.put(build(), REMOTE, mode=0o755)
    return REMOTE
