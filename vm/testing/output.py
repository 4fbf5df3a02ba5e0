"""Reading what guest programs print (their last JSON line)."""

from __future__ import annotations

import json
from typing import Any

from vm.guest import Guest


def last_json(text: str) -> dict[str, Any]:
    """The last line of *text* that is a JSON object; AssertionError if none."""
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    assert lines, f"no JSON line in {text[-2000:]!r}"
    obj = json.loads(lines[-1])
    assert isinstance(obj, dict), f"not a JSON object: {lines[-1][:200]!r}"
    return obj


def run_json(g: Guest, cmd: str, timeout: float = 600.0) -> tuple[int, dict[str, Any]]:
    """Run *cmd*; its exit status and its last JSON line (AssertionError, with
    its output, if it printed none)."""
    r = g.run(cmd, timeout=timeout, check=False)
    if not any(ln.startswith("{") for ln in r.stdout.splitlines()):
        raise AssertionError(f"no JSON from {r.describe()}")
    return r.status, last_json(r.stdout)
