"""Andrew Morton's question on the 2009 ramzswap submission, as asked: can one
mkfs.ext2 the device, mount it and use it?  ext2 is built into both kernels;
its 1 KiB blocks (on a device of 512-byte logical blocks) make every block
a sub-page request."""

from __future__ import annotations

import pytest

from vm.guest import Guest
from vm.testing.rzs import MiB, Rzs, make_mixed_file

pytestmark = pytest.mark.vm

MNT = "/mnt/rzs-ext2"


# On perf only the 4 KiB block size (CI time: the sub-page case is the debug
# kernel's, where lockdep and slub_debug watch it).
@pytest.mark.parametrize("block", [1024, pytest.param(4096, marks=pytest.mark.both_flavours)])
def test_mkfs_ext2_mount_use_fsck(rzs: Rzs, guest: Guest, block: int) -> None:
    g = guest
    # a filesystem block may not be smaller than the device's logical block
    rzs.insmod(f"logical_block_size={512 if block < 4096 else 4096}")
    rzs.init(0, "256M")
    g.run(f"mkfs.ext2 -q -F -b {block} /dev/ramzswap0")
    g.run(f"mkdir -p {MNT} && mount -t ext2 /dev/ramzswap0 {MNT}")
    assert f"/dev/ramzswap0 {MNT} ext2 " in g.cat("/proc/mounts")
    try:
        make_mixed_file(g, "/tmp/rzs/mixed", 2)
        g.run(f"cd {MNT} && mkdir -p deep/a/b/c many && "
              "for i in $(seq 1 300); do echo \"file $i\" > many/f$i; done && "
              "for i in 1 2 3 4 5; do cp /tmp/rzs/mixed deep/a/b/c/m$i; done && "
              "head -c 3M /dev/urandom > rand && ln -s rand link && ln rand hard && "
              "cp -a /usr/bin bin && "
              "find . -type f -print0 | sort -z | xargs -0 sha256sum > /tmp/rzs/sums && sync",
              timeout=900)
        # drop the page cache: the files come back from the device
        g.run(f"umount {MNT} && echo 3 > /proc/sys/vm/drop_caches && "
              f"mount -t ext2 /dev/ramzswap0 {MNT} && cd {MNT} && "
              "sha256sum --quiet -c /tmp/rzs/sums", timeout=900)
        # use it: delete, rename, append, then verify what is left
        g.run(f"cd {MNT} && rm -r bin many/f1* && mv deep/a/b/c/m1 moved && "
              "cat /tmp/rzs/mixed >> hard && test $(stat -c %s rand) -eq $((11 * 1024 * 1024)) && "
              "test $(readlink link) = rand && test -z \"$(ls many | grep '^f1')\" && "
              "cmp moved /tmp/rzs/mixed && sync")
    finally:
        g.run(f"umount {MNT}", check=False)
    fsck = g.run("e2fsck -fn /dev/ramzswap0", check=False, timeout=600)
    assert fsck.status == 0, f"e2fsck found problems:\n{fsck.describe()}"
    mm = rzs.mm_stat(0)
    assert mm["orig_data_size"] > 10 * MiB, mm
    io = rzs.io_stat(0)
    assert io["failed_reads"] == io["failed_writes"] == io["invalid_io"] == 0, io
    rzs.check_accounting(0)
