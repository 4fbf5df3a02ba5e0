"""`invoke bench`: xvmalloc vs zsmalloc vs kmalloc vs kmem_caches (kernel/bench/xvbench.ko)
and ramzswap vs zram vs brd (block I/O and swap), side by side in one boot of the
perf kernel, reported as ratios under results/<timestamp>/.

- corpus.py   the page corpus every contender is fed (built in the guest)
- guestprog.py  the guest-side helper program (guest/corpusio.c)
- alloc.py    drives xvbench.ko
- device.py   block-device and swap runs
- report.py   JSON -> ratios, Markdown, PNG plots; results/ and results/latest.md
- run.py      plans (quick, full), one boot, everything in order
"""
