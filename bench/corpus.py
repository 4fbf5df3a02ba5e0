"""The benchmark corpus: real page contents, the same bytes for every contender.

What it is
    One file in the guest, ``/root/bench/corpus.bin``, of ``mib`` MiB, built there by
    ``corpusio build`` (bench/guest/corpusio.c) from the guest's own files.  Each
    4 KiB page's kind is picked by a hash of (seed, page index), per mille:

    ====== ======= =====================================================================
    kind   share   content
    ====== ======= =====================================================================
    zero   6.0 %   all zero (Android's measured share of zero anonymous pages)
    same   2.5 %   one repeated nonzero 32-bit word (Android's same-filled share)
    random 4.0 %   incompressible bytes from a hash of (seed, index)
    text   20 %    the next 4 KiB of text files: /usr/share/{doc,common-licenses,perl,
                   perl5,bash-completion,lintian} and /etc (compressed files left out)
    prog   30 %    the next 4 KiB of the programs in /usr/bin and /usr/sbin
    lib    37.5 %  the next 4 KiB of /usr/lib/i386-linux-gnu (shared libraries, their
                   data files)
    ====== ======= =====================================================================

    Each file class is one stream: the regular files of its directories, found with
    ``find`` and ordered by ``LC_ALL=C sort``, concatenated (no padding) and started
    over if the corpus is larger than the class; the first pages of the stream are
    taken, so a smaller corpus is a prefix-like subset of a larger one.  For a given
    guest image and seed the file is byte-for-byte reproducible; its sha256 is
    recorded in the results.

Who reads it
    - xvbench.ko: the corpus is written to its debugfs ``corpus`` file; it
      compresses every page that is not zero or same-filled with lzo-rle and lz4
      (crypto API) and replays those compressed lengths into each allocator.
    - the devices: ``dd`` writes it onto ramzswap, zram and brd before the reads
      (fio reads the corpus back) and ``corpusio io ... write`` writes corpus pages
      for the write runs; the device's memory is measured with the corpus stored.
    The swap runs use the page-integrity hog's own mixed pages instead (it checks
    every page it gets back).
"""

from __future__ import annotations

import json
from typing import Any

from vm.guest import Guest

CORPUS_PATH = "/root/bench/corpus.bin"
LIST_DIR = "/root/bench"

SOURCES: dict[str, tuple[str, ...]] = {
    "program": ("/usr/bin", "/usr/sbin"),
    "library": ("/usr/lib/i386-linux-gnu",),
    "text": ("/usr/share/doc", "/usr/share/common-licenses", "/usr/share/perl",
             "/usr/share/perl5", "/usr/share/bash-completion", "/usr/share/lintian", "/etc"),
}
COMPRESSED = ("*.gz", "*.xz", "*.bz2", "*.zst", "*.lz4", "*.zip")
SHARES_PER_MILLE = {"zero": 60, "same": 25, "random": 40, "text": 200, "program": 300,
                    "library": 375}


def list_command(kind: str, out: str) -> str:
    """Shell that writes the sorted list of the files of one class to *out*."""
    dirs = " ".join(SOURCES[kind])
    skip = ""
    if kind == "text":
        skip = " ".join(f"! -name '{p}'" for p in COMPRESSED)
    return (f"find {dirs} -xdev -type f -size +0 {skip} 2>/dev/null | LC_ALL=C sort > {out}; "
            f"test -s {out}")


def build(g: Guest, tool: str, mib: int, seed: int = 1, path: str = CORPUS_PATH,
          timeout: float = 1200.0) -> dict[str, Any]:
    """Build the corpus in the guest; return corpusio's summary plus the sha256."""
    lists = {k: f"{LIST_DIR}/files-{k}.txt" for k in SOURCES}
    g.run(f"mkdir -p {LIST_DIR}")
    for kind, out in lists.items():
        g.run(list_command(kind, out), timeout=300)
    res = g.run(f"{tool} build {path} {mib} {seed} {lists['program']} {lists['library']} "
                f"{lists['text']}", timeout=timeout)
    summary: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    summary["sha256"] = g.run(f"sha256sum {path}", timeout=timeout).stdout.split()[0]
    summary["path"] = path
    summary["shares_per_mille"] = SHARES_PER_MILLE
    summary["sources"] = {k: {**summary["sources"].get(k, {}), "dirs": list(SOURCES[k])}
                          for k in SOURCES}
    return summary


def remove(g: Guest, path: str = CORPUS_PATH) -> None:
    g.run(f"rm -f {path} {LIST_DIR}/files-*.txt", check=False)
