"""Running long steps: progress lines with elapsed time, output to a log file,
one clear error on failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from vm.errors import StepError

_T0 = time.monotonic()


def say(msg: str) -> None:
    """One progress line, prefixed with the time since the tool started."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Print the start and end (with duration) of a stage."""
    start = time.monotonic()
    say(f"{name} ...")
    yield
    say(f"{name}: done in {time.monotonic() - start:.1f}s")


def tail(path: Path, lines: int = 25) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def run_logged(step: str, cmd: Sequence[str | os.PathLike[str]], log: Path,
               cwd: Path | None = None, env: Mapping[str, str] | None = None,
               heartbeat: float = 30.0, append: bool = False) -> None:
    """Run *cmd* with stdout and stderr going to *log*.

    Every *heartbeat* seconds a progress line says the step is still running
    and shows the last line of its log.  A non-zero exit raises StepError with
    the log's tail and path.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    start = time.monotonic()
    with log.open("ab" if append else "wb") as out:
        out.write(("$ " + " ".join(str(c) for c in cmd) + "\n").encode())
        out.flush()
        try:
            proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=full_env,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        except FileNotFoundError as e:
            raise StepError(step, f"cannot run {cmd[0]!s}: {e.strerror}", log) from e
        while True:
            try:
                rc = proc.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                last = tail(log, 1).strip()[:100]
                say(f"{step}: still running ({time.monotonic() - start:.0f}s) {last}")
    if rc != 0:
        raise StepError(step, f"command exited with status {rc}", log, tail(log))
