"""Shell snippets for guest scripts that run jobs in the background."""

from __future__ import annotations


def wait_each(var: str = "pids") -> str:
    """Wait for every job whose pid is listed in $var; the snippet's status is
    0 only if each exited 0, and each failure is named on stderr.  (A bare
    `wait` returns 0 whatever its jobs did; `wait A B` reports only B.)"""
    return (f'_failed=0; for _p in ${var}; do wait "$_p" || '
            f'{{ echo "background job $_p exited $?" >&2; _failed=1; }}; done; '
            f'[ "$_failed" = 0 ]')
