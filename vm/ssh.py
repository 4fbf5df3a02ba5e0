"""SSH to the guest with paramiko: wait for sshd, run with a timeout, copy files.
Every failure to reach the guest raises SshError (a StepError) naming what
failed and the guest's console log; a command that exits non-zero where
success was required raises CommandFailed (an AssertionError: a test's
failure, with the command's output)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from vm.errors import StepError

# How often a long command's abort check runs.
ABORT_POLL_S = 5.0


class SshError(StepError):
    """Could not reach the guest, or a command hung.  A StepError (the one
    error root of the tooling) whose log is the guest's console."""

    def __init__(self, what: str, console_log: Path | None = None) -> None:
        super().__init__("ssh", what, console_log)


@dataclass(frozen=True)
class Result:
    cmd: str
    status: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"`{self.cmd}` exited {self.status}\n--- stdout ---\n{self.stdout[-3000:]}"
                f"\n--- stderr ---\n{self.stderr[-3000:]}")


class CommandFailed(AssertionError):
    """A guest command exited non-zero where success was required."""

    def __init__(self, result: Result) -> None:
        self.result = result
        super().__init__(result.describe())


class Ssh:
    """One paramiko connection to root@host:port with key auth only."""

    def __init__(self, host: str, port: int, key: Path, console_log: Path | None = None,
                 connect_timeout: float = 10.0) -> None:
        self.host, self.port, self.console_log = host, port, console_log
        self._client = paramiko.SSHClient()
        self._client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            pkey = paramiko.Ed25519Key.from_private_key_file(str(key))
            self._client.connect(host, port=port, username="root", pkey=pkey,
                                 timeout=connect_timeout, banner_timeout=connect_timeout,
                                 auth_timeout=connect_timeout, allow_agent=False,
                                 look_for_keys=False)
        except (OSError, paramiko.SSHException) as e:
            self._client.close()
            raise SshError(f"ssh to {host}:{port} failed: {e!s}", console_log) from e
        transport = self._client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)

    def close(self) -> None:
        self._client.close()

    def run(self, cmd: str, timeout: float = 120.0, check: bool = True,
            abort: Callable[[], str | None] | None = None) -> Result:
        """Run *cmd* with a deadline; raise SshError when it is exceeded, and
        CommandFailed when check is set and the exit status is not 0.  While
        it runs, *abort* is asked every ABORT_POLL_S seconds whether to give
        up waiting: a message from it raises SshError at once."""
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise SshError(f"ssh connection to {self.host}:{self.port} is closed", self.console_log)
        try:
            chan = transport.open_session(timeout=10)
            chan.exec_command(cmd)
        except (OSError, paramiko.SSHException) as e:
            raise SshError(f"could not start `{cmd}`: {e!s}", self.console_log) from e
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        next_poll = time.monotonic() + ABORT_POLL_S
        try:
            while True:
                progressed = False
                while chan.recv_ready():
                    out.extend(chan.recv(65536))
                    progressed = True
                while chan.recv_stderr_ready():
                    err.extend(chan.recv_stderr(65536))
                    progressed = True
                # sshd may send the exit status before the last of the output:
                # done only at EOF (or close) with both buffers drained.
                if ((chan.eof_received or chan.closed) and chan.exit_status_ready()
                        and not (chan.recv_ready() or chan.recv_stderr_ready())):
                    break
                if time.monotonic() > deadline:
                    raise SshError(f"`{cmd}` did not finish within {timeout:.0f}s; "
                                   f"output so far: {out[-500:].decode(errors='replace')!r}",
                                   self.console_log)
                if abort is not None and time.monotonic() > next_poll:
                    next_poll = time.monotonic() + ABORT_POLL_S
                    why = abort()
                    if why is not None:
                        raise SshError(f"gave up waiting for `{cmd}`: {why}; output so far: "
                                       f"{out[-500:].decode(errors='replace')!r}",
                                       self.console_log)
                if not progressed:
                    time.sleep(0.02)
            status = chan.recv_exit_status()
        finally:
            chan.close()
        res = Result(cmd, status, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and status != 0:
            raise CommandFailed(res)
        return res

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        try:
            with self._client.open_sftp() as sftp:
                sftp.put(str(local), remote)
                if mode is not None:
                    sftp.chmod(remote, mode)
        except (OSError, paramiko.SSHException) as e:
            raise SshError(f"copying {local} to guest:{remote} failed: {e!s}",
                           self.console_log) from e

    def get(self, remote: str, local: Path) -> None:
        try:
            with self._client.open_sftp() as sftp:
                sftp.get(remote, str(local))
        except (OSError, paramiko.SSHException) as e:
            raise SshError(f"copying guest:{remote} to {local} failed: {e!s}",
                           self.console_log) from e


def wait_for_ssh(host: str, port: int, key: Path, deadline_s: float,
                 alive: Callable[[], bool] = lambda: True,
                 console_log: Path | None = None) -> Ssh:
    """Retry connecting until sshd answers, the guest dies, or the deadline passes."""
    end = time.monotonic() + deadline_s
    last = "no attempt"
    # While sshd starts, paramiko's transport thread logs every refused banner.
    logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
    while time.monotonic() < end:
        if not alive():
            raise SshError("the guest exited before sshd answered", console_log)
        try:
            return Ssh(host, port, key, console_log,
                       connect_timeout=max(1.0, min(10.0, end - time.monotonic())))
        except SshError as e:
            last = str(e)
        time.sleep(1.0)
    raise SshError(f"guest did not answer ssh on {host}:{port} within {deadline_s:.0f}s "
                   f"(last error: {last})", console_log)
