"""Reading guest files of any size.

vm.ssh.Ssh.run() stops reading at the command's exit status, and sshd may send
that before the last of a long stdout (seen here: `cat` of a 56 KB file came back
cut at 32768 bytes), so anything long is copied into a file in the guest and
fetched with sftp instead of read from a command's output."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vm.guest import Guest


def fetch_text(g: Guest, remote: str) -> str:
    """The whole content of guest file *remote* (a regular file: sftp stats it)."""
    with tempfile.TemporaryDirectory() as td:
        local = Path(td) / "fetched"
        g.get(remote, local)
        return local.read_text()


def snapshot_text(g: Guest, source: str, copy: str) -> str:
    """Copy *source* (e.g. a debugfs file, which sftp cannot size) to *copy* in the
    guest, then fetch it."""
    g.run(f"cat {source} > {copy}")
    return fetch_text(g, copy)
