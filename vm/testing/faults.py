"""Fault-injection settings (failslab, fail_page_alloc under debugfs), as
shell commands for the guest."""

from __future__ import annotations

DEBUGFS = "/sys/kernel/debug"


def fault_attr_commands(name: str, probability: int, *, interval: int = 1, times: int = -1,
                        task_filter: bool = True, ignore_gfp_wait: bool = True,
                        ignore_gfp_highmem: bool = False, min_order: int = 0,
                        verbose: int = 0) -> str:
    """Shell commands that configure /sys/kernel/debug/<name> (failslab or
    fail_page_alloc).  Probability last, so nothing fires half-configured."""
    d = f"{DEBUGFS}/{name}"
    yn = {True: "Y", False: "N"}
    cmds = [f"echo 0 > {d}/probability", f"echo {verbose} > {d}/verbose",
            f"echo {yn[task_filter]} > {d}/task-filter", f"echo {interval} > {d}/interval",
            f"echo {times} > {d}/times", f"echo 0 > {d}/space",
            f"echo {yn[ignore_gfp_wait]} > {d}/ignore-gfp-wait"]
    if name == "fail_page_alloc":
        cmds += [f"echo {yn[ignore_gfp_highmem]} > {d}/ignore-gfp-highmem",
                 f"echo {min_order} > {d}/min-order"]
    cmds.append(f"echo {probability} > {d}/probability")
    return " && ".join(cmds)


def fault_off_commands() -> str:
    return " ; ".join(f"echo 0 > {DEBUGFS}/{n}/probability" for n in ("failslab",
                                                                       "fail_page_alloc"))


