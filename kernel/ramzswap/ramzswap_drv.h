/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ramzswap: compressed RAM block device on top of xvmalloc.
 */
#ifndef _RAMZSWAP_DRV_H_
#define _RAMZSWAP_DRV_H_

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/blkdev.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "backing.h"
#include "comp.h"

#define SECTORS_PER_PAGE_SHIFT	(PAGE_SHIFT - SECTOR_SHIFT)
#define SECTORS_PER_PAGE	BIT(SECTORS_PER_PAGE_SHIFT)

/*
 * Compressed sizes at or above this (3776 bytes of 4096) are stored raw
 * ("huge" pages): an xvmalloc whole-page object, exactly one pool page,
 * read back with one copy and no decompression.  Below it, packing saves
 * about 1/16 of a page or more per page stored.  Measured (docs/FACTS.md,
 * "RZS_HUGE_THRESHOLD", perf guest, xvbench mix=S mixpct=25 beside the
 * corpus's lzo-rle sizes, 32 MiB, 3 churns): pool bytes one packed object
 * of S bytes costs after the churn, against 4096 raw:
 *
 *	S	2816 3072 3328 3584 3712 3840 3968 4092
 *	bytes	2888 3175 3508 3661 3769 3930 4021 4162
 *
 * 15/16 of a page (3840 B) is crossed at S = 3768 (3795 before the
 * churn); packed objects that large also cross a page, so each read
 * bounces through xvmalloc's per-CPU copy before it is decompressed.
 */
#define RZS_HUGE_THRESHOLD	(PAGE_SIZE / 64 * 59)

/*
 * A table entry's flags word: the low RZS_FLAG_SHIFT bits hold the size of
 * the stored object (0..PAGE_SIZE), the bits above hold enum rzs_pageflags.
 */
#define RZS_FLAG_SHIFT		(PAGE_SHIFT + 1)
#define RZS_SIZE_MASK		(BIT(RZS_FLAG_SHIFT) - 1)

enum rzs_pageflags {
	RZS_LOCK = RZS_FLAG_SHIFT,	/* entry bit spinlock */
	RZS_ALLOCATED,			/* handle names an xvmalloc object */
	RZS_SAME,			/* page filled with one word: element */
	RZS_HUGE,			/* object is the raw page */
	RZS_RMW,			/* a partial-page write owns the page */
	RZS_IDLE,			/* not accessed since marked idle */
	RZS_WB,				/* on the backing device: handle is the block */
	RZS_PP,				/* writeback or recompression is working on it */
	RZS_INCOMPRESSIBLE,		/* no secondary algorithm could shrink it */
	RZS_PRIO,			/* 2 bits: which algorithm compressed it */
	RZS_PRIO_END = RZS_PRIO + 1,

	__NR_RZS_PAGEFLAGS,
};

/* The primary algorithm (comp_algorithm) and up to 3 secondary ones. */
#define RZS_PRIMARY_COMP	0
#define RZS_MAX_COMPS		4

/**
 * struct rzs_table_entry - what is stored for one page of the device
 * @handle: xvmalloc handle when RZS_ALLOCATED
 * @element: the repeated word when RZS_SAME
 * @flags: object size and enum rzs_pageflags; RZS_LOCK protects the entry
 *	   and the other flags
 */
struct rzs_table_entry {
	union {
		unsigned long handle;
		unsigned long element;
	};
	unsigned long flags;
};

/**
 * struct rzs_stats - device counters; reset with the device
 * @compr_data_size: bytes of compressed objects stored
 * @pages_stored: pages holding data (same-filled included)
 * @same_pages: same-filled pages (no allocation)
 * @huge_pages: pages stored uncompressed
 * @huge_pages_since: pages stored uncompressed since initialisation, freed
 *		      or not (zram's huge_pages_since)
 * @num_reads: page reads, failed or not
 * @num_writes: page writes, failed or not
 * @failed_reads: reads that failed
 * @failed_writes: writes that failed (memory limit, allocation failure)
 * @invalid_io: requests rejected as out of range or unsupported
 * @notify_free: swap slot free notifications and discarded pages
 * @miss_free: slot free notifications skipped (entry was busy)
 * @writestall: writes that needed a sleeping allocation
 * @max_used_pages: most pool pages seen
 * @bd_count: pages now on the backing device
 * @bd_reads: pages read from the backing device
 * @bd_writes: pages written to the backing device
 */
struct rzs_stats {
	atomic64_t compr_data_size;
	atomic64_t pages_stored;
	atomic64_t same_pages;
	atomic64_t huge_pages;
	atomic64_t huge_pages_since;
	atomic64_t num_reads;
	atomic64_t num_writes;
	atomic64_t failed_reads;
	atomic64_t failed_writes;
	atomic64_t invalid_io;
	atomic64_t notify_free;
	atomic64_t miss_free;
	atomic64_t writestall;
	atomic64_t max_used_pages;
	atomic64_t bd_count;
	atomic64_t bd_reads;
	atomic64_t bd_writes;
};

struct xv_pool;
struct shrinker;
struct dentry;

/**
 * struct ramzswap - one device
 * @table: one entry per page (vzalloc, lowmem)
 * @ac_time: per page, the boot time in seconds of its last access (read
 *	     or write); for `idle` with an age and for block_state
 * @pool: xvmalloc pool holding the compressed data
 * @comp: compression streams, per priority (0: comp_algorithm, 1-3:
 *	  recomp_algorithm); NULL where no algorithm is configured
 * @disk: the block device
 * @init_lock: serialises sysfs configuration against reset; not taken in
 *	       the I/O path
 * @disksize: bytes; 0 while not initialised
 * @limit_pages: pool size limit in pages; 0 for none
 * @stats: counters
 * @claim: set while reset or removal runs; open() then fails
 * @comp_name: algorithm per priority, used from the next initialisation;
 *	       "" where none (never for the primary)
 * @comp_level: algorithm_params' level per priority; RZS_NO_LEVEL for the
 *		algorithm's default
 * @backing: the backing device, or none (file NULL)
 * @wb_limit_enable: writeback_limit_enable
 * @wb_limit: writeback budget left, in 4 KiB units, while enabled
 * @wb_limit_lock: protects @wb_limit and @wb_limit_enable
 * @pp_lock: one post-processing run (writeback or recompress) at a time
 * @debugfs: this device's directory under debugfs (block_state)
 * @shrinker: compacts the pool under memory pressure; while initialised
 * @compact_lock: one compaction at a time (the `compact` attribute or
 *		  the shrinker, which does not wait for it)
 */
struct ramzswap {
	struct rzs_table_entry *table;
	u32 *ac_time;
	struct xv_pool *pool;
	struct rzs_comp *comp[RZS_MAX_COMPS];
	struct gendisk *disk;
	struct rw_semaphore init_lock;
	u64 disksize;
	unsigned long limit_pages;
	struct rzs_stats stats;
	bool claim;
	char comp_name[RZS_MAX_COMPS][RZS_COMP_NAME_LEN];
	int comp_level[RZS_MAX_COMPS];
	struct shrinker *shrinker;
	struct mutex compact_lock;	/* see above */
	struct rzs_backing backing;
	bool wb_limit_enable;
	u64 wb_limit;
	spinlock_t wb_limit_lock;	/* see above */
	struct mutex pp_lock;		/* see above */
	struct dentry *debugfs;
};

#endif /* _RAMZSWAP_DRV_H_ */
