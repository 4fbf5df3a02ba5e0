/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rzs_compat.h - what differs between the kernels ramzswap builds on.
 *
 * Tested on Linux 6.1.y and 6.12.y (kernel/Makefile refuses the others).
 * Each wrapper below covers one interface change and names the release
 * that made it; the drivers call the wrappers and never test the version.
 * This is the one file that reads LINUX_VERSION_CODE (`invoke check` runs
 * checkpatch on it with that one check off).
 */
#ifndef _RZS_COMPAT_H_
#define _RZS_COMPAT_H_

#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/version.h>

/* True on release major.minor and later. */
#define RZS_SINCE(major, minor) \
	(KERNEL_VERSION(major, minor, 0) <= LINUX_VERSION_CODE)

#if !RZS_SINCE(6, 1) || RZS_SINCE(6, 13)
#error "ramzswap builds on Linux 6.1.y and 6.12.y only"
#endif

/*
 * Queue set-up.  6.11 moved the queue flags (rotational, entropy, stable
 * writes) into queue_limits.features and 6.9 has blk_alloc_disk() take the
 * limits; 6.1 allocates first and sets flags and limits on the queue.
 * Either way: a non-rotational disk that adds no entropy, whose page
 * contents must not change while they are compressed (stable writes),
 * doing I/O in whole pages.
 *
 * Synchronous swap: 6.1 marks a swap device SWP_SYNCHRONOUS_IO when its
 * driver has ->rw_page; 6.9 removed ->rw_page and 6.11 takes the same hint
 * from BLK_FEAT_SYNCHRONOUS, set here.  RZS_HAVE_RW_PAGE says which.
 */
#if RZS_SINCE(6, 11)
static inline struct gendisk *rzs_alloc_disk(unsigned int logical_block_size)
{
	struct queue_limits lim = {
		.logical_block_size = logical_block_size,
		.physical_block_size = PAGE_SIZE,
		.io_min = PAGE_SIZE,
		.io_opt = PAGE_SIZE,
		.discard_granularity = PAGE_SIZE,
		.max_hw_discard_sectors = UINT_MAX,
		.max_write_zeroes_sectors = UINT_MAX,
		.features = BLK_FEAT_STABLE_WRITES | BLK_FEAT_SYNCHRONOUS,
	};

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
}
#else
#define RZS_HAVE_RW_PAGE 1

static inline struct gendisk *rzs_alloc_disk(unsigned int logical_block_size)
{
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);
	struct request_queue *q;

	if (!disk)
		return ERR_PTR(-ENOMEM);
	q = disk->queue;
	blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, q);
	blk_queue_flag_set(QUEUE_FLAG_STABLE_WRITES, q);
	blk_queue_logical_block_size(q, logical_block_size);
	blk_queue_physical_block_size(q, PAGE_SIZE);
	blk_queue_io_min(q, PAGE_SIZE);
	blk_queue_io_opt(q, PAGE_SIZE);
	q->limits.discard_granularity = PAGE_SIZE;
	blk_queue_max_discard_sectors(q, UINT_MAX);
	blk_queue_max_write_zeroes_sectors(q, UINT_MAX);
	return disk;
}
#endif

/*
 * ->open: since 6.5 it gets the gendisk and a blk_mode_t, before that the
 * block_device and an fmode_t.  Declare it as
 *	static int fn(struct rzs_open_dev *dev, rzs_open_mode_t mode)
 * and take the disk with rzs_open_gendisk(dev).
 */
#if RZS_SINCE(6, 5)
#define rzs_open_dev gendisk
#define rzs_open_mode_t blk_mode_t
#define rzs_open_gendisk(dev) (dev)
#else
#define rzs_open_dev block_device
#define rzs_open_mode_t fmode_t
#define rzs_open_gendisk(dev) ((dev)->bd_disk)
#endif

/*
 * 6.4 made struct class and the class_attribute callbacks' arguments const
 * (and dropped class.owner, which 6.1 does not use either).
 */
#if RZS_SINCE(6, 4)
#define rzs_class_const const
#else
#define rzs_class_const
#endif

/* 6.11 dropped kvrealloc()'s old-size argument. */
static inline void *rzs_kvrealloc(void *p, size_t oldsize, size_t newsize,
				  gfp_t flags)
{
#if RZS_SINCE(6, 11)
	return kvrealloc(p, newsize, flags);
#else
	return kvrealloc(p, oldsize, newsize, flags);
#endif
}

/*
 * 6.12 removed no_llseek(): a NULL ->llseek now refuses to seek (-ESPIPE),
 * as no_llseek() did.
 */
#if RZS_SINCE(6, 12)
#define rzs_no_llseek NULL
#else
#define rzs_no_llseek no_llseek
#endif

/*
 * Shrinkers: 6.7 allocates them (shrinker_alloc(), shrinker_register(),
 * shrinker_free()) and gives them a private_data pointer; 6.1 embeds one
 * and registers it with register_shrinker().  rzs_shrinker_new() returns
 * a registered shrinker (or NULL) whose callbacks find @priv with
 * rzs_shrinker_priv(); rzs_shrinker_free() unregisters and frees it (NULL
 * is ignored).
 */
typedef unsigned long (*rzs_shrink_fn)(struct shrinker *, struct shrink_control *);

#if RZS_SINCE(6, 7)
static inline struct shrinker *rzs_shrinker_new(const char *name, void *priv,
						rzs_shrink_fn count, rzs_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->private_data = priv;
	shrinker_register(s);
	return s;
}

static inline void rzs_shrinker_free(struct shrinker *s)
{
	shrinker_free(s);
}

static inline void *rzs_shrinker_priv(struct shrinker *s)
{
	return s->private_data;
}
#else
struct rzs_shrinker {
	struct shrinker shrinker;
	void *priv;
};

static inline struct shrinker *rzs_shrinker_new(const char *name, void *priv,
						rzs_shrink_fn count, rzs_shrink_fn scan)
{
	struct rzs_shrinker *rs = kzalloc(sizeof(*rs), GFP_KERNEL);

	if (!rs)
		return NULL;
	rs->shrinker.count_objects = count;
	rs->shrinker.scan_objects = scan;
	rs->shrinker.seeks = DEFAULT_SEEKS;
	rs->priv = priv;
	if (register_shrinker(&rs->shrinker, "%s", name)) {
		kfree(rs);
		return NULL;
	}
	return &rs->shrinker;
}

static inline void rzs_shrinker_free(struct shrinker *s)
{
	if (!s)
		return;
	unregister_shrinker(s);
	kfree(container_of(s, struct rzs_shrinker, shrinker));
}

static inline void *rzs_shrinker_priv(struct shrinker *s)
{
	return container_of(s, struct rzs_shrinker, shrinker)->priv;
}
#endif

#endif /* _RZS_COMPAT_H_ */
