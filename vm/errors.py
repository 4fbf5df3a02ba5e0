"""The one error type the tooling raises for a failed step."""

from __future__ import annotations

from pathlib import Path


class StepError(RuntimeError):
    """A step failed.  The message names the step, the last lines of its log
    and the log's path, so one line tells a user what failed and where to look."""

    def __init__(self, step: str, reason: str, log: Path | None = None,
                 tail: str = "") -> None:
        self.step = step
        self.reason = reason
        self.log = log
        self.tail = tail
        msg = f"{step} failed: {reason}"
        if tail:
            msg += "\n--- last lines ---\n" + tail.rstrip() + "\n---"
        if log is not None:
            msg += f"\nfull log: {log}"
        super().__init__(msg)
