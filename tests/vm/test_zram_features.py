"""zram's features for long-running devices, on ramzswap in the debug guest
(issue 15): idle pages and block_state, writeback to a backing device (a
loop device on a file of the guest's root disk), the writeback budget,
recompression with a secondary algorithm, algorithm_params, and bad input
for every attribute of theirs.

Each test starts and ends with no ramzswap device in use, neither module
loaded and no loop device of ours (the `wb` fixture)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from vm.guest import Guest
from vm.testing import loopdev, swap
from vm.testing.rzs import PAGE, MiB, Rzs, make_mixed_file

pytestmark = pytest.mark.vm

WORK = "/tmp/wb"
BACKING_FILE = "/var/tmp/rzs-backing.img"   # the root disk, not RAM
DEBUGFS = "/sys/kernel/debug/ramzswap"


class Backing:
    """Loop devices on files of the root disk, detached at teardown."""

    def __init__(self, g: Guest) -> None:
        self.g = g
        self.devs: list[str] = []

    def make(self, mib: int, name: str = "rzs-backing", ro: bool = False,
             filled: bool = False) -> str:
        dev = loopdev.make(self.g, f"/var/tmp/{name}.img", mib, ro, filled)
        self.devs.append(dev)
        return dev

    def cleanup(self) -> None:
        for dev in self.devs:
            self.g.run(f"losetup -d {dev}", check=False)
        self.g.run("rm -f /var/tmp/rzs-*.img", check=False)


@pytest.fixture
def wb(guest: Guest) -> Iterator[tuple[Rzs, Backing]]:
    r = Rzs(guest)
    r.cleanup()
    guest.run(f"rm -rf {WORK}; mkdir -p {WORK}; swapoff -a")
    b = Backing(guest)
    try:
        yield r, b
    finally:
        guest.run("pkill -KILL -x hog", check=False)
        swap.deflate_balloon(guest)
        fail = "/sys/kernel/debug/fail_make_request"
        guest.run(f"for f in /sys/block/loop*/make-it-fail; do echo 0 > $f; done; "
                  f"test -d {fail} && echo 0 > {fail}/probability", check=False)
        r.cleanup()
        guest.run("echo 1 > /sys/block/zram0/reset", check=False)   # the reference's
        b.cleanup()
        guest.run(f"rm -rf {WORK}", check=False)
        assert not r.loaded()


def _block_state(g: Guest, dev: int = 0) -> dict[int, str]:
    """block_state as {page index: flags}, after checking each line's layout."""
    out = g.run(f"cat {DEBUGFS}/ramzswap{dev}/block_state").stdout
    res: dict[int, str] = {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s*(\d+)\s+(\d+)\.(\d{6}) ([s.][w.][h.][i.][r.][n.])", line)
        assert m, f"block_state line not in zram's layout: {line!r}"
        res[int(m.group(1))] = m.group(4)
    return res


def _count(state: dict[int, str], flag: str) -> int:
    return sum(flag in f for f in state.values())


def _fill(g: Guest, rzs: Rzs, mib_each: int = 4) -> int:
    """The mixed file (zero, random, text, ELF parts) on ramzswap0 at 0; its size."""
    make_mixed_file(g, f"{WORK}/data", mib_each)
    g.run(f"dd if={WORK}/data of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    return int(g.run(f"stat -c %s {WORK}/data").stdout)


def _verify(g: Guest, size: int) -> None:
    g.run(f"dd if=/dev/ramzswap0 bs=1M count={size // MiB} iflag=direct status=none "
          f"| cmp - {WORK}/data")


# ---------------------------------------------------------------------------
# idle and block_state


def test_idle_marks_and_block_state(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """`idle all` marks every pool page (not same-filled ones) idle, an access
    clears the mark, `idle <seconds>` marks by age; block_state shows it all in
    zram's layout."""
    rzs, _ = wb
    rzs.insmod()
    rzs.init(0, "64M")
    size = _fill(guest, rzs)
    mm = rzs.mm_stat(0)
    st = _block_state(guest)
    assert len(st) == size // PAGE, (len(st), size)
    assert _count(st, "s") == mm["same_pages"] > 0, (mm, st)
    assert _count(st, "h") == mm["huge_pages"] > 0, mm
    assert _count(st, "i") == 0

    rzs.set(0, "idle", "all")
    st = _block_state(guest)
    pool_pages = len(st) - mm["same_pages"]
    assert _count(st, "i") == pool_pages, st

    # reading the first MiB (zero pages: same-filled) and the 5th (random)
    guest.run("dd if=/dev/ramzswap0 of=/dev/null bs=1M skip=4 count=1 iflag=direct status=none")
    st = _block_state(guest)
    assert _count(st, "i") == pool_pages - 256, _count(st, "i")
    assert all("i" not in st[i] for i in range(1024, 1280))

    # by age: everything but what is touched now is older than 2 s
    guest.run("sleep 3; dd if=/dev/ramzswap0 of=/dev/null bs=1M skip=8 count=1 "
              "iflag=direct status=none")
    rzs.set(0, "idle", "2")
    st = _block_state(guest)
    assert _count(st, "i") == pool_pages - 256, _count(st, "i")
    assert all("i" not in st[i] for i in range(2048, 2304))
    assert all("i" in st[i] for i in range(1024, 1280))    # read 3 s ago
    # an age larger than the uptime marks nothing and clears the marks
    rzs.set(0, "idle", str(10 ** 9))
    assert _count(_block_state(guest), "i") == 0
    _verify(guest, size)


# ---------------------------------------------------------------------------
# writeback


def test_writeback_idle_and_huge_saves_ram(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """Idle pages written back leave the pool: mem_used falls, bd_stat counts
    them, every page reads back right from the backing device, and freeing
    them (discard) gives their blocks back."""
    rzs, back = wb
    loop = back.make(256)
    rzs.insmod()
    rzs.set(0, "backing_dev", loop)
    assert rzs.read(0, "backing_dev") == loop
    rzs.init(0, "64M")
    size = _fill(guest, rzs)
    before, _ = rzs.check_accounting(0)

    rzs.set(0, "writeback", "huge")
    bd = rzs.bd_stat(0)
    assert bd["bd_count"] == bd["bd_writes"] == before["huge_pages"] > 0, (bd, before)
    assert rzs.mm_stat(0)["huge_pages"] == 0

    rzs.set(0, "idle", "all")
    rzs.set(0, "writeback", "idle")
    mm, xv = rzs.check_accounting(0)
    bd = rzs.bd_stat(0)
    pool_pages = before["orig_data_size"] // PAGE - before["same_pages"]
    print(f"writeback of idle pages: mem_used_total {before['mem_used_total'] // 1024} KiB "
          f"-> {mm['mem_used_total'] // 1024} KiB; bd_stat {bd}")
    assert bd["bd_count"] == pool_pages and xv["objects"] == 0, (bd, xv)
    assert mm["orig_data_size"] == before["orig_data_size"], (mm, before)
    assert mm["compr_data_size"] == 0 and mm["mem_used_total"] < before["mem_used_total"]
    st = _block_state(guest)
    assert _count(st, "w") == pool_pages and _count(st, "s") == before["same_pages"]

    _verify(guest, size)
    assert rzs.bd_stat(0)["bd_reads"] >= pool_pages
    guest.run("blkdiscard /dev/ramzswap0")
    assert rzs.bd_stat(0)["bd_count"] == 0
    assert rzs.mm_stat(0)["orig_data_size"] == 0


def test_writeback_page_indexes_and_limit(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """page_index= and page_indexes= write back just those pages; with the
    budget enabled writeback stops at it with EIO, and a new budget lets it
    go on."""
    rzs, back = wb
    rzs.insmod()
    rzs.set(0, "backing_dev", back.make(64))
    rzs.init(0, "64M")
    guest.run(f"head -c 8M /dev/urandom > {WORK}/data && "
              f"dd if={WORK}/data of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    size = 8 * MiB
    rzs.set(0, "writeback", "page_index=5")
    rzs.set(0, "writeback", "page_indexes=100-199 page_index=300")
    st = _block_state(guest)
    assert sorted(i for i, f in st.items() if "w" in f) == [5, *range(100, 200), 300]
    assert rzs.bd_stat(0)["bd_writes"] == 102

    rzs.set(0, "writeback_limit_enable", "1")
    assert rzs.read(0, "writeback_limit_enable") == "1"
    rzs.set(0, "writeback_limit", "40")
    r = rzs.write(0, "writeback", "page_indexes=1000-1999")
    assert r.failed_with("EIO"), r
    assert rzs.read(0, "writeback_limit") == "0"
    assert rzs.bd_stat(0)["bd_writes"] == 142
    rzs.set(0, "writeback_limit", "10")
    assert rzs.write(0, "writeback", "page_indexes=1000-1999").failed_with("EIO")
    assert rzs.bd_stat(0)["bd_writes"] == 152
    rzs.set(0, "writeback_limit_enable", "0")
    rzs.set(0, "writeback", "page_indexes=1000-1999")
    assert rzs.bd_stat(0)["bd_count"] == 102 + 1000
    rzs.check_accounting(0)
    _verify(guest, size)


def test_writeback_during_swap(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """A hog of 1.5x the available memory through ramzswap swap while idle and
    huge pages are written back every second: every page of the hog verified,
    pages read back from the backing device, the books balanced after."""
    rzs, back = wb
    rzs.insmod()
    rzs.set(0, "backing_dev", back.make(1024))
    rzs.init(0, "1G")
    rzs.hog_under("while :; do echo all > /sys/block/ramzswap0/idle; "
                  "echo idle > /sys/block/ramzswap0/writeback; "
                  "echo huge > /sys/block/ramzswap0/writeback; sleep 1; done", seed=21)
    bd = rzs.bd_stat(0)
    print(f"bd_stat {bd}")
    assert bd["bd_writes"] > 0 and bd["bd_reads"] > 0, bd


def test_writeback_idle_of_held_hog_saves_ram(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """A hog of 1.5x the available memory pages itself out through ramzswap
    swap and holds its pages; `idle all` then `writeback idle` moves every
    stored page that is not same-filled to the backing device: the pool
    gives back nearly all its memory, bd_stat counts the pages moved, and
    the hog then reads every page back right (from the backing device)."""
    rzs, back = wb
    rzs.insmod()
    rzs.set(0, "backing_dev", back.make(1024))
    rzs.init(0, "1G")
    guest.run("mkswap /dev/ramzswap0 >/dev/null && swapon /dev/ramzswap0")
    swap.inflate_balloon(guest, 96)
    try:
        mib = int(1.5 * swap.mem_available_mib(guest))
        with swap.hog_held_out(guest, mib, seed=23) as hog:
            mm0, _ = rzs.check_accounting(0)
            rzs.set(0, "idle", "all")
            rzs.set(0, "writeback", "idle")
            mm1, _ = rzs.check_accounting(0)
            bd = rzs.bd_stat(0)
        assert hog.result is not None
        bd_end = rzs.bd_stat(0)
    finally:
        swap.deflate_balloon(guest)
        guest.run("swapoff /dev/ramzswap0", timeout=900, check=False)
    stored0 = mm0["orig_data_size"] // PAGE
    print(f"held hog {mib} MiB, {stored0} pages stored: mem_used_total "
          f"{mm0['mem_used_total'] >> 10} -> {mm1['mem_used_total'] >> 10} KiB, "
          f"compr_data_size {mm0['compr_data_size']} -> {mm1['compr_data_size']}; "
          f"bd_stat after writeback {bd}, after the verify {bd_end}")
    assert hog.result.mismatches == 0, hog.result.raw
    assert stored0 * PAGE >= mib * MiB // 2, mm0     # the hog really is out
    # Pages swapped in or out while it ran (other processes) are few.
    assert bd["bd_count"] >= 0.95 * (stored0 - mm0["same_pages"]), (mm0, bd)
    assert bd["bd_writes"] >= bd["bd_count"] > 0, bd
    assert mm1["mem_used_total"] <= 0.05 * mm0["mem_used_total"], (mm0, mm1)
    assert bd_end["bd_reads"] >= 0.95 * bd["bd_count"], bd_end   # read back from disk
    rzs.check_accounting(0)


def test_reads_racing_rewrites_and_writeback_get_their_own_pages(
        wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """A written-back page is read from the backing device after the entry
    lock is dropped.  While a reader reads random pages for 60 s, a writer
    rewrites them all round after round (freeing their blocks) and a loop
    writes every page back as soon as it can (handing the blocks out anew):
    every read returns what the writer put at that index in one round or
    another, never another index's page."""
    rzs, back = wb
    tool = guest.programs["rzstool"]
    pages = 32
    rzs.insmod()
    rzs.set(0, "backing_dev", back.make(64))
    rzs.init(0, "64M")
    sysdir = "/sys/block/ramzswap0"
    guest.run(f"{tool} fiwrite /dev/ramzswap0 {pages} 1 >/dev/null && "
              f"echo all > {sysdir}/idle && echo idle > {sysdir}/writeback")
    writer = (f"s=2; while :; do {tool} fiwrite /dev/ramzswap0 {pages} $s >/dev/null; "
              f"echo $s >> {WORK}/rounds; s=$((3 - s)); done")
    writeback = (f"while :; do echo all > {sysdir}/idle; echo idle > {sysdir}/writeback; "
                 f"done")
    with swap.background(guest, writer), swap.background(guest, writeback):
        res = guest.run(f"{tool} readloop /dev/ramzswap0 {pages} 60 1 2", timeout=300,
                        check=False)
    guest.run("pkill -x rzstool; while pgrep -x rzstool >/dev/null; do sleep 0.1; done")
    rounds = len(guest.run(f"cat {WORK}/rounds").stdout.split())
    bd = rzs.bd_stat(0)
    print(f"readloop {res.stdout.strip()}; {rounds} writer rounds; bd_stat {bd}")
    assert res.status == 0, res.describe()
    assert rounds >= 2 and bd["bd_reads"] > 0, (rounds, bd)
    rzs.check_accounting(0)


@pytest.mark.klog_allow(r"ramzswap: ramzswap0: reading page 7 from the backing device failed: -5")
def test_backing_read_error_fails_that_page_only(wb: tuple[Rzs, Backing],
                                                guest: Guest) -> None:
    """The backing device fails every request (fail_make_request): a read of
    a written-back page gets EIO, every other page still reads right, and
    once the device works again that page reads right too."""
    rzs, back = wb
    loop = back.make(16)
    rzs.insmod()
    rzs.set(0, "backing_dev", loop)
    rzs.init(0, "16M")
    guest.run(f"head -c 1M /dev/urandom > {WORK}/data && "
              f"dd if={WORK}/data of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    rzs.set(0, "writeback", "page_index=7")
    fail = "/sys/kernel/debug/fail_make_request"
    name = loop.removeprefix("/dev/")
    guest.run(f"echo 0 > {fail}/verbose; echo -1 > {fail}/times; echo 100 > {fail}/probability; "
              f"echo 1 > /sys/block/{name}/make-it-fail")
    r = rzs.run_err("dd if=/dev/ramzswap0 of=/dev/null bs=4k skip=7 count=1 iflag=direct "
                    "status=none")
    assert r.failed_with("EIO"), r
    guest.run(f"dd if=/dev/ramzswap0 bs=4k count=7 iflag=direct status=none "
              f"| cmp -n 28672 - {WORK}/data")
    guest.run(f"dd if=/dev/ramzswap0 bs=4k skip=8 count=248 iflag=direct status=none "
              f"| cmp -i 0:32768 -n 1015808 - {WORK}/data")
    assert rzs.io_stat(0)["failed_reads"] == 1
    guest.run(f"echo 0 > /sys/block/{name}/make-it-fail")
    guest.run(f"dd if=/dev/ramzswap0 bs=1M count=1 iflag=direct status=none | cmp - {WORK}/data")


# ---------------------------------------------------------------------------
# recompression and algorithm_params


def test_recompress_idle_with_zstd(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """lzo-rle first, zstd for idle pages: compr_data_size falls, the pages
    say r in block_state, every page still verifies; huge pages that zstd
    cannot shrink either are marked n and not tried again."""
    rzs, _ = wb
    rzs.insmod()
    rzs.set(0, "comp_algorithm", "lzo-rle")
    rzs.set(0, "recomp_algorithm", "algo=zstd priority=1")
    assert re.fullmatch(r"#1: .*\[zstd\].*", rzs.read(0, "recomp_algorithm")), \
        rzs.read(0, "recomp_algorithm")
    rzs.init(0, "64M")
    size = _fill(guest, rzs)
    before, _ = rzs.check_accounting(0)
    rzs.set(0, "idle", "all")
    rzs.set(0, "recompress", "type=idle")
    after, _ = rzs.check_accounting(0)
    st = _block_state(guest)
    ratio = after["compr_data_size"] / before["compr_data_size"]
    print(f"recompression of idle pages with zstd: compr_data_size {before['compr_data_size']} "
          f"-> {after['compr_data_size']} ({ratio:.3f}), mem_used_total "
          f"{before['mem_used_total']} -> {after['mem_used_total']}; "
          f"{_count(st, 'r')} pages recompressed, {_count(st, 'n')} incompressible")
    assert after["compr_data_size"] < before["compr_data_size"], (before, after)
    assert _count(st, "r") > 0
    assert _count(st, "n") == after["huge_pages"] > 0, (st, after)
    _verify(guest, size)

    # rewritten pages start over; max_pages=10 with a threshold tries the
    # first 10 pages of 1000 bytes or more: random, huge, which zstd cannot
    # get below the threshold either, so all 10 are marked n
    guest.run(f"dd if={WORK}/data of=/dev/ramzswap0 bs=1M oflag=direct status=none")
    assert _count(_block_state(guest), "n") == 0
    rzs.set(0, "recompress", "threshold=1000 max_pages=10")
    st = _block_state(guest)
    assert _count(st, "n") == 10 and _count(st, "r") == 0, st
    _verify(guest, size)


def test_algorithm_params_level(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """zstd at level 1 and at level 19, and lz4hc at 1 and 12, on the same
    text: the higher level stores it smaller, and both read back right."""
    rzs, _ = wb
    rzs.insmod("num_devices=2")
    guest.run(f"for i in $(seq 64); do cat /usr/share/common-licenses/* /etc/services; "
              f"done | head -c 8M > {WORK}/data && test $(stat -c %s {WORK}/data) = {8 * MiB}")
    sizes: dict[str, int] = {}
    for algo, levels in (("zstd", (1, 19)), ("lz4hc", (1, 12))):
        for dev, level in enumerate(levels):
            rzs.set(dev, "comp_algorithm", algo)
            rzs.set(dev, "algorithm_params", f"algo={algo} level={level}")
            rzs.init(dev, "16M")
            guest.run(f"dd if={WORK}/data of=/dev/ramzswap{dev} bs=1M oflag=direct status=none")
            guest.run(f"dd if=/dev/ramzswap{dev} bs=1M count=8 iflag=direct status=none "
                      f"| cmp - {WORK}/data")
            sizes[f"{algo}-{level}"] = rzs.mm_stat(dev)["compr_data_size"]
            rzs.reset(dev)
    print(f"compr_data_size of 8 MiB of text by level: {sizes}")
    assert sizes["zstd-19"] < sizes["zstd-1"], sizes
    assert sizes["lz4hc-12"] < sizes["lz4hc-1"], sizes


# ---------------------------------------------------------------------------
# bad input


def _refused(rzs: Rzs, cases: list[tuple[str, str, str]], probe: str, state: str) -> None:
    """Each (path, value, errno) write fails with that errno, and *probe*
    still prints *state* after it."""
    results = rzs.write_each([(path, value) for path, value, _ in cases], probe)
    for (path, value, errno), (res, seen) in zip(cases, results, strict=True):
        assert res.failed_with(errno), (path, value, errno, res)
        assert seen == state, (path, value, seen)


def test_bad_input_changes_nothing(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """Every new attribute refuses what is malformed or comes in the wrong
    state with zram's errno, and leaves what it holds as it was."""
    rzs, back = wb
    loop = back.make(16)
    ro = back.make(16, name="rzs-ro", ro=True)
    busy = back.make(16, name="rzs-busy")
    guest.run(f"mkswap {busy} >/dev/null && swapon {busy}")
    try:
        rzs.insmod()
        p = rzs.path
        guest.run(f"touch {WORK}/plain")
        cases = [
            (p(0, "backing_dev"), "/nonexistent", "ENOENT"),
            (p(0, "backing_dev"), f"{WORK}/plain", "ENOTBLK"),
            (p(0, "backing_dev"), ro, "EROFS"),
            (p(0, "backing_dev"), busy, "EBUSY"),
            (p(0, "backing_dev"), "", "EINVAL"),
            (p(0, "writeback"), "idle", "EINVAL"),             # not initialised
            (p(0, "idle"), "all", "EINVAL"),
            (p(0, "recompress"), "type=idle", "EINVAL"),
            (p(0, "recomp_algorithm"), "algo=nonesuch", "EINVAL"),
            (p(0, "recomp_algorithm"), "algo=zstd priority=0", "EINVAL"),
            (p(0, "recomp_algorithm"), "algo=zstd priority=4", "EINVAL"),
            (p(0, "recomp_algorithm"), "priority=1", "EINVAL"),
            (p(0, "recomp_algorithm"), "algo=zstd bogus=1", "EINVAL"),
            (p(0, "algorithm_params"), "algo=zstd level=3", "EINVAL"),     # zstd not chosen
            (p(0, "algorithm_params"), "level=3", "EOPNOTSUPP"),           # lzo-rle
            (p(0, "algorithm_params"), "priority=2 level=3", "EINVAL"),
            (p(0, "algorithm_params"), "level=x", "EINVAL"),
            (p(0, "algorithm_params"), "dict=/etc/passwd", "EOPNOTSUPP"),
            (p(0, "writeback_limit"), "-1", "EINVAL"),
            (p(0, "writeback_limit"), "12abc", "EINVAL"),
            (p(0, "writeback_limit_enable"), "2", "EINVAL"),
            (p(0, "writeback_limit_enable"), "yes", "EINVAL"),
        ]
        probe = ("cat /sys/block/ramzswap0/backing_dev /sys/block/ramzswap0/recomp_algorithm "
                 "/sys/block/ramzswap0/writeback_limit /sys/block/ramzswap0/writeback_limit_enable")
        first = guest.run(probe).stdout.strip()
        assert first == "none\n0\n0", first
        _refused(rzs, cases, probe, first)

        rzs.set(0, "comp_algorithm", "zstd")
        assert rzs.write(0, "algorithm_params", "level=100").failed_with("EINVAL")
        rzs.set(0, "backing_dev", loop)
        rzs.init(0, "16M")
        state = guest.run(probe).stdout.strip()
        after_init = [
            (p(0, "backing_dev"), loop, "EBUSY"),
            (p(0, "recomp_algorithm"), "algo=lz4", "EBUSY"),
            (p(0, "algorithm_params"), "level=1", "EBUSY"),
            (p(0, "writeback"), "page_index=4096", "EINVAL"),   # past the end
            (p(0, "writeback"), "page_indexes=9-3", "EINVAL"),
            (p(0, "writeback"), "page_indexes=3", "EINVAL"),
            (p(0, "writeback"), "sometimes", "EINVAL"),
            (p(0, "idle"), "-5", "EINVAL"),
            (p(0, "idle"), "later", "EINVAL"),
            (p(0, "recompress"), "type=idle", "EINVAL"),        # no secondary algorithm
        ]
        _refused(rzs, after_init, probe, state)
        rzs.reset(0)
        assert rzs.read(0, "backing_dev") == "none"        # reset drops it, as zram's
        # a device without backing device refuses writeback with ENODEV
        rzs.init(0, "16M")
        assert rzs.write(0, "writeback", "huge").failed_with("ENODEV")
    finally:
        guest.run(f"swapoff {busy}", check=False)


# ---------------------------------------------------------------------------
# against zram


def _timed_writeback(g: Guest, sysdir: str) -> tuple[float, int]:
    """`echo idle > writeback` after `idle all`: (seconds, pages written)."""
    g.run(f"echo all > {sysdir}/idle")
    t = g.run(f"a=$(date +%s%N); echo idle > {sysdir}/writeback; b=$(date +%s%N); "
              f"echo $((b - a))").stdout.strip()
    writes = int(g.run(f"cat {sysdir}/bd_stat").stdout.split()[2])
    return int(t) / 1e9, writes * 4096 // PAGE


@pytest.mark.both_flavours
def test_writeback_rate_against_zram(wb: tuple[Rzs, Backing], guest: Guest) -> None:
    """The same 64 MiB mix written back by ramzswap and by this kernel's zram
    to the same loop device, in one boot: both write every pool page and read
    it all back right.  The rates are printed (never asserted)."""
    rzs, back = wb
    loop = back.make(256, filled=True)
    rzs.insmod()
    make_mixed_file(guest, f"{WORK}/data", 16)
    size = 64 * MiB
    rates: dict[str, float] = {}
    for name, sysdir, dev in (("ramzswap", "/sys/block/ramzswap0", "/dev/ramzswap0"),
                              ("zram", "/sys/block/zram0", "/dev/zram0")):
        guest.run(f"echo {loop} > {sysdir}/backing_dev && echo 256M > {sysdir}/disksize && "
                  f"dd if={WORK}/data of={dev} bs=1M oflag=direct status=none && "
                  f"echo 3 > /proc/sys/vm/drop_caches")
        same = int(guest.run(f"cat {sysdir}/mm_stat").stdout.split()[5])
        secs, pages = _timed_writeback(guest, sysdir)
        assert pages == size // PAGE - same, (name, pages, same)
        guest.run(f"dd if={dev} bs=1M count=64 iflag=direct status=none | cmp - {WORK}/data")
        guest.run(f"echo 1 > {sysdir}/reset")
        rates[name] = pages * PAGE / MiB / secs
        print(f"{name}: wrote back {pages} pages in {secs:.2f} s: {rates[name]:.1f} MiB/s")
    print(f"writeback rate ramzswap/zram: {rates['ramzswap'] / rates['zram']:.2f}")
