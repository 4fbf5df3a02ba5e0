"""Options and markers shared by the host and guest tests."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--flavour", default="all", choices=("debug", "perf", "all"),
                     help="kernel flavour(s) for guest tests (default: all = debug, plus "
                          "the tests marked both_flavours on perf)")
    parser.addoption("--kernel", default="6.1", choices=("6.1", "6.12"),
                     help="kernel series the guest tests boot (default 6.1)")
    parser.addoption("--stock", default="", choices=("", "i386", "amd64", "all"),
                     help="run the stock-kernel guest tests (Debian's kernel + dkms) on "
                          "i386, amd64 or all; default: none")
    parser.addoption("--long", action="store_true", help="also run tests marked long (soak)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "vm: needs a booted guest",
        "long: soak test; runs only with --long",
        "both_flavours: guest test that also runs on the perf kernel",
        "debug_only: guest test that needs the debug kernel (KUnit, fault injection)",
        "bench: benchmark driver check (never asserts timing)",
        "stock: stock-kernel guest test; runs only with --stock",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    run_long = config.getoption("--long")
    for item in items:
        if item.get_closest_marker("stock") and not config.getoption("--stock"):
            dropped.append(item)
            continue
        if item.get_closest_marker("long") and not run_long:
            dropped.append(item)
            continue
        callspec = getattr(item, "callspec", None)
        flavour = callspec.params.get("flavour") if callspec else None
        in_guest = "guest_box" in getattr(item, "fixturenames", ())
        if in_guest and flavour == "perf" and (item.get_closest_marker("debug_only")
                                  or not item.get_closest_marker("both_flavours")):
            dropped.append(item)
            continue
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)

    def flavour_rank(item: pytest.Item) -> int:
        if "guest_box" not in getattr(item, "fixturenames", ()):
            return 0
        callspec = getattr(item, "callspec", None)
        flavour = callspec.params.get("flavour") if callspec else None
        return {"debug": 1, "perf": 2}.get(str(flavour), 3)

    # One boot per flavour: keep each flavour's guest tests together (stable
    # sort, so the order within a flavour is the collection order).
    items[:] = sorted(keep, key=flavour_rank)
