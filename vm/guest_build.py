"""Build the programs that run in the guest (vm/guest/*.c) as static i386 binaries.

Each ``vm/guest/<name>.c`` is one program, compiled on the host with
``gcc -m32 -static`` into ``<out_dir>/<name>``.  A build is skipped when
``<out_dir>/<name>.sha256`` holds the hash of its inputs: the source, every
header in vm/guest/, the compiler's ``--version`` text and the flags.  The
compiler writes to a temporary name that is renamed into place only after it
succeeded, and the stamp is written last, so a failed or interrupted build never
leaves an output that looks valid.  Compiler output goes to ``<out_dir>/<name>.log``.

    python -m vm.guest_build OUT_DIR      # build all, print name -> path
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from vm.errors import StepError

GUEST_SRC = Path(__file__).resolve().parent / "guest"
CC = "gcc"
CFLAGS: tuple[str, ...] = ("-m32", "-static", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror")
MULTILIB_HINT = "install gcc-multilib (apt-get install gcc-multilib): gcc -m32 cannot link"


class GuestBuildError(StepError):
    """A guest program failed to build; the message names it and its log."""

    def __init__(self, program: str, reason: str, log: Path | None = None,
                 tail: str = "") -> None:
        self.program = program
        super().__init__(f"build of guest program {program!r}", reason, log, tail)


@functools.cache
def compiler_identity(cc: str = CC) -> str:
    """The compiler's ``--version`` text (part of every build hash).

    Raises OSError or subprocess.CalledProcessError if the compiler cannot run."""
    return subprocess.run([cc, "--version"], capture_output=True, text=True,
                          check=True).stdout


def input_hash(source: Path, headers: list[Path], compiler: str,
               flags: tuple[str, ...] = CFLAGS) -> str:
    """sha256 over everything that decides the output binary."""
    h = hashlib.sha256()
    for part in (compiler.encode(), "\0".join(flags).encode(), source.name.encode(),
                 source.read_bytes()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    for hdr in sorted(headers):
        for part in (hdr.name.encode(), hdr.read_bytes()):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


def _stamp(out: Path) -> Path:
    return out.with_name(out.name + ".sha256")


def is_current(out: Path, digest: str) -> bool:
    """True if *out* exists and its stamp records *digest*."""
    try:
        return out.is_file() and _stamp(out).read_text().strip() == digest
    except OSError:
        return False


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _m32_links(cc: str) -> bool:
    """Whether ``cc -m32 -static`` can link a trivial program."""
    with tempfile.TemporaryDirectory() as td:
        src = Path(td) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        res = subprocess.run([cc, *CFLAGS, "-o", str(Path(td) / "probe"), str(src)],
                             capture_output=True, check=False)
        return res.returncode == 0


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])


def build_program(source: Path, out_dir: Path, cc: str = CC) -> Path:
    """Compile one program; return the path of its binary (cached)."""
    name = source.stem
    out = out_dir / name
    log = out_dir / f"{name}.log"
    headers = sorted(source.parent.glob("*.h"))
    try:
        compiler = compiler_identity(cc)
    except (OSError, subprocess.CalledProcessError) as e:
        raise GuestBuildError(name, f"cannot run the compiler {cc!r}: {e}") from e
    digest = input_hash(source, headers, compiler)
    if is_current(out, digest):
        return out
    # Whatever was there is stale: never leave it looking valid if this build fails.
    _stamp(out).unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    tmp = out_dir / f".{name}.{os.getpid()}.tmp"
    cmd = [cc, *CFLAGS, "-o", str(tmp), str(source)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise GuestBuildError(name, f"cannot run {cc!r}: {e}", log) from e
    log.write_text("$ " + " ".join(cmd) + "\n" + res.stdout + res.stderr
                   + f"# exit status {res.returncode}\n")
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        reason = f"{cc} exited with status {res.returncode}"
        if not _m32_links(cc):
            reason += f"; {MULTILIB_HINT}"
        raise GuestBuildError(name, reason, log, _tail(res.stdout + res.stderr))
    os.replace(tmp, out)
    _write_atomic(_stamp(out), digest + "\n")
    return out


def build_guest_programs(out_dir: Path, src_dir: Path = GUEST_SRC,
                         cc: str = CC) -> dict[str, Path]:
    """Build every ``src_dir/*.c`` into *out_dir*; return {program name: binary path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = sorted(src_dir.glob("*.c"))
    if not sources:
        raise GuestBuildError(str(src_dir), "no guest program sources (*.c) found")
    return {src.stem: build_program(src, out_dir, cc) for src in sources}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m vm.guest_build OUT_DIR", file=sys.stderr)
        return 2
    try:
        built = build_guest_programs(Path(argv[0]))
    except GuestBuildError as e:
        print(e, file=sys.stderr)
        return 1
    for name, path in built.items():
        print(f"{name}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
