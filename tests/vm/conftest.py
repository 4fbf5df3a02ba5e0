"""Guest fixtures: one booted guest per flavour per session (rebooted if a test
kills it or it stops answering), and the kernel-log check of every test.

The check is part of the test's result: a kernel report printed while the
test ran (its fixtures' set-up included) fails the test in its call phase,
unless the test declares the exact lines it expects:

    @pytest.mark.klog_allow(r"Write-error on swap-device", r"Buffer I/O error")

A test that fails and whose guest died or stopped answering fails with the
reports from the guest's serial console (the Oops, the BUG) instead of a bare
ssh error.  The boot log is checked when each guest boots; reports printed by
a fixture's teardown fail that teardown."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from vm import klog, paths, pipeline
from vm.errors import StepError
from vm.guest import Guest, boot
from vm.ssh import SshError
from vm.step import say
from vm.testing.klogwatch import Watch
from vm.testing.rzs import Rzs

WATCH = pytest.StashKey[Watch]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "klog_allow(*regex): kernel log report lines this test expects "
                   "(re.search on each report line); every other report fails the test")
    config.addinivalue_line(
        "markers", "own_guest: the test boots a guest of its own, shut down after it")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stock_arch" in metafunc.fixturenames:
        opt = metafunc.config.getoption("--stock") or "all"
        metafunc.parametrize("stock_arch", ["i386", "amd64"] if opt == "all" else [opt],
                             scope="module")
    if "flavour" in metafunc.fixturenames:
        opt = metafunc.config.getoption("--flavour")
        flavours = list(paths.FLAVOURS) if opt == "all" else [opt]
        metafunc.parametrize("flavour", flavours, scope="session")


class GuestBox:
    """Holds the current guest of a flavour; boots a new one if it died or
    stopped answering.  A boot that fails, or whose kernel log reports a
    bug, fails every later test of the flavour with that error, without
    booting again."""

    def __init__(self, flavour: str, series: str = paths.DEFAULT_KERNEL) -> None:
        self.flavour = flavour
        self.series = series
        self.built = pipeline.build((flavour,), series=series)[flavour]
        self.guest: Guest | None = None
        self.boots = 0
        self.boot_error: Exception | None = None
        self.boot_taint = 0

    def get(self) -> Guest:
        if self.boot_error is not None:
            raise self.boot_error
        g = self.guest
        if g is not None and not (g.machine.alive() and _answers(g)):
            g.stop()
            self.guest = None
        if self.guest is None:
            b = self.built
            tag = f"pytest{self.boots}"
            self.boots += 1
            try:
                g = boot(b.kernel, b.image, b.modules.kos, b.programs, tag=tag)
            except StepError as e:
                self.boot_error = e     # the next boot would fail the same way
                raise
            log = paths.ensure(paths.logs_dir() / "tests") / f"boot-{self.flavour}-{tag}.dmesg.log"
            try:
                # the whole log so far, under the same rules as a test's
                Watch(g, dmesg_mark="", console_offset=0).check([], log)
            except klog.KernelLogError as e:
                g.stop()
                self.boot_error = StepError("guest boot", f"the boot log reports a bug: {e}",
                                            log)
                raise self.boot_error from e
            self.guest = g
            self.boot_taint = taint(g)
        assert self.guest is not None
        return self.guest

    def drop_if_tainted(self) -> None:
        """Shut the guest down if the kernel marked itself tainted by a bug
        since boot (an Oops, a WARNING, a bad page, a soft lockup): the test
        that caused it fails on its kernel log, and the next test gets a
        kernel that can be trusted instead of the wreck."""
        g = self.guest
        if g is None or not g.machine.alive():
            return
        try:
            new = taint(g) & ~self.boot_taint & BAD_TAINT
        except (SshError, AssertionError, ValueError):
            new = BAD_TAINT     # cannot even ask: as bad
        if new:
            say(f"guest {self.flavour}: kernel tainted ({new:#x}) by the last test; "
                "the next test boots a new guest")
            self.close()

    def close(self) -> None:
        if self.guest is not None:
            self.guest.stop()
            self.guest = None


# /proc/sys/kernel/tainted bits a kernel bug sets (Documentation/admin-guide/
# tainted-kernels.rst): B bad page (5), D died/Oops (7), W warning (9),
# L soft lockup (14).  Out-of-tree modules (O, E) and KUnit (N) do not count.
BAD_TAINT = 1 << 5 | 1 << 7 | 1 << 9 | 1 << 14


def taint(g: Guest) -> int:
    return int(g.run("cat /proc/sys/kernel/tainted", timeout=60).stdout.strip())


def _answers(g: Guest) -> bool:
    try:
        g.run("true", timeout=300)     # a bound only a hung guest breaks
    except (SshError, AssertionError):
        return False
    return True


@pytest.fixture(scope="session")
def guest_box(flavour: str, pytestconfig: pytest.Config) -> Iterator[GuestBox]:
    box = GuestBox(flavour, pytestconfig.getoption("--kernel"))
    yield box
    box.close()


def _log_path(item: pytest.Item, phase: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    suffix = "" if phase == "call" else f".{phase}"
    return paths.ensure(paths.logs_dir() / "tests") / f"{name}{suffix}.dmesg.log"


def _allowed(item: pytest.Item) -> list[str]:
    return [str(a) for m in item.iter_markers("klog_allow") for a in m.args]


@pytest.fixture
def guest(guest_box: GuestBox, request: pytest.FixtureRequest) -> Iterator[Guest]:
    """A booted guest; the kernel log of the test is checked (see the module
    docstring).  A test marked own_guest boots a guest of its own, which is
    shut down after it, so that nothing it did reaches another test."""
    item = request.node
    own = item.get_closest_marker("own_guest") is not None
    if own:
        guest_box.close()
    g = guest_box.get()
    watch = Watch.start(g)
    item.stash[WATCH] = watch
    yield g
    del item.stash[WATCH]
    # What the other fixtures' teardowns printed (the test body is checked
    # in pytest_runtest_call); a dead guest is found by the next get().
    if g.machine.alive():
        # a guest that stopped answering: the test says so, the next get() reboots
        with contextlib.suppress(SshError):
            watch.check(_allowed(item), _log_path(item, "teardown"))
    if own:
        guest_box.close()
    else:
        guest_box.drop_if_tainted()


@pytest.fixture
def rzs(guest: Guest) -> Iterator[Rzs]:
    """ramzswap unloaded and /tmp/rzs empty, before and after the test."""
    r = Rzs(guest)
    r.cleanup()          # a previous test may have died half-way
    guest.run("rm -rf /tmp/rzs; mkdir -p /tmp/rzs")
    try:
        yield r
    finally:
        guest.run("rm -rf /tmp/rzs; mkdir -p /tmp/rzs", check=False)
        r.cleanup()
        assert not r.loaded()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    watch = item.stash.get(WATCH, None)
    if watch is None:
        return (yield)
    try:
        try:
            result = yield
        except Exception as exc:
            better = watch.explain(exc, _log_path(item, "call"))
            if better is None:
                raise
            raise better from exc
        watch.check(_allowed(item), _log_path(item, "call"))
        return result
    finally:
        # the teardown check starts here, whatever the outcome
        if watch.guest.machine.alive():
            with contextlib.suppress(SshError, AssertionError):
                watch.restart()
