"""Guest fixtures: one booted guest per flavour per session (rebooted if a test
kills it), and a kernel-log check after every test."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from vm import klog, paths, pipeline
from vm.guest import Guest, boot


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "flavour" in metafunc.fixturenames:
        opt = metafunc.config.getoption("--flavour")
        flavours = list(paths.FLAVOURS) if opt == "all" else [opt]
        metafunc.parametrize("flavour", flavours, scope="session")


class GuestBox:
    """Holds the current guest of a flavour; boots a new one if it died."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.built = pipeline.build((flavour,))[flavour]
        self.guest: Guest | None = None
        self.boots = 0

    def get(self) -> Guest:
        if self.guest is not None and not self.guest.machine.alive():
            self.guest.stop()
            self.guest = None
        if self.guest is None:
            b = self.built
            self.guest = boot(b.kernel, b.image, b.modules.kos, b.programs,
                              tag=f"pytest{self.boots}")
            self.boots += 1
        return self.guest

    def close(self) -> None:
        if self.guest is not None:
            self.guest.stop()
            self.guest = None


@pytest.fixture(scope="session")
def guest_box(flavour: str) -> Iterator[GuestBox]:
    box = GuestBox(flavour)
    yield box
    box.close()


@pytest.fixture
def guest(guest_box: GuestBox, request: pytest.FixtureRequest) -> Iterator[Guest]:
    """A booted guest; after the test its new kernel log lines must be clean."""
    g = guest_box.get()
    mark = g.klog_mark()
    yield g
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    log = paths.ensure(paths.logs_dir() / "tests") / f"{name}.dmesg.log"
    if not g.machine.alive():
        pytest.fail(f"the guest died during the test; console log: {g.console_log}")
    new = g.klog_since(mark)
    log.write_text(new + "\n")
    klog.check_clean(new, str(log))
