// SPDX-License-Identifier: GPL-2.0
/*
 * ramzswap: a compressing RAM block device, for swap or any other use.
 *
 * Pages written to /dev/ramzswapN are compressed with the crypto API and
 * kept in an xvmalloc pool, whose pages may come from high memory.  Pages
 * holding one repeated word (zero included) take no memory at all.  The
 * interface follows zram's: a control class with hot_add and hot_remove,
 * and per-device sysfs attributes (disksize, comp_algorithm, mem_limit,
 * mem_used_max, reset, initstate, compact, max_comp_streams (accepted and
 * ignored: streams are per CPU), mm_stat, io_stat) plus xv_stat,
 * the xvmalloc pool's own counters.  The pool is compacted on a write to
 * `compact` and by a shrinker under memory pressure (pages_compacted in
 * mm_stat counts what that gave back).
 *
 * For devices that live for weeks, zram's optional features, with its
 * names and formats: `idle` marks pages idle (all, or by age: each page
 * keeps its last access time in seconds, 4 bytes per page); `backing_dev`,
 * `writeback`, `writeback_limit(_enable)` and bd_stat move idle, huge or
 * chosen pages to a block device (backing.c) and read them from there;
 * `recomp_algorithm` and `recompress` store pages again with up to three
 * secondary algorithms, and each page remembers which one it needs;
 * `algorithm_params` sets an algorithm's level (comp.c); debugfs
 * ramzswap/<dev>/block_state lists every stored page's state.
 *
 * Locking:
 *  - init_lock (rwsem) serialises configuration and reset; it is not taken
 *    in the I/O path: a device is only reset while nobody has it open.
 *  - whole-page writers take no lock of their own: each compresses into a
 *    new object and swaps it in under the entry lock.
 *  - a partial-page writer owns its page through the entry's RZS_RMW flag
 *    from its read to its store; other stores to that page wait for it.
 *  - a compression stream is per CPU, owned through its mutex (comp.c);
 *    it is taken only to compress or decompress, never across a sleeping
 *    allocation, and never by reads of same-filled or raw pages.
 *  - each table entry has a bit spinlock (RZS_LOCK) that guards the entry
 *    and the object it names; the pool is only mapped under it, and
 *    compaction moves the object (xv_migrate()) only under it.
 *  - compact_lock: one compaction per device; the shrinker only tries it,
 *    and only tries init_lock, so reclaim never waits on reset or on
 *    another compaction.
 *  - pp_lock: one writeback or recompression run per device.  Such a run
 *    claims a page with the entry's RZS_PP flag, works on it without the
 *    entry lock (reads, compresses, writes to the backing device), and
 *    stores its result only if RZS_PP is still set: any store or free in
 *    between clears it (rzs_free_slot()).
 * Order: init_lock, compact_lock or pp_lock, then RZS_RMW, then stream,
 * then entry lock.  Nothing sleeps under an entry lock or while an object or a page
 * is mapped.
 */

#define pr_fmt(fmt) "ramzswap: " fmt

#include <linux/bio.h>
#include <linux/bit_spinlock.h>
#include <linux/bitops.h>
#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/cpumask.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/part_stat.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>

#include <rzs_compat.h>
#include <xvmalloc.h>

#include "ramzswap_drv.h"

#define RZS_MAX_DEVICES		32

/*
 * Largest disksize taken at all: the table (one entry per page) must stay
 * below half the address space, so that its size cannot wrap when vmalloc
 * rounds it up.  vmalloc space limits it much further in practice; such a
 * table fails quietly with -ENOMEM.
 */
#define RZS_MAX_PAGES		(SIZE_MAX / 2 / sizeof(struct rzs_table_entry))

/*
 * Allocation flags for growing the pool (xvmalloc adds __GFP_HIGHMEM to
 * its page allocations itself).  The first try must not enter direct
 * reclaim (we may be writing a page out on behalf of reclaim); the second
 * may sleep but must not start I/O.  The caller holds no spinlock and maps
 * nothing during either.
 */
#define RZS_GFP_FAST	(__GFP_KSWAPD_RECLAIM | __GFP_NOWARN | __GFP_NOMEMALLOC)
#define RZS_GFP_SLOW	(GFP_NOIO | __GFP_NOWARN)

static DEFINE_IDR(rzs_index_idr);
/* Protects rzs_index_idr and device addition and removal. */
static DEFINE_MUTEX(rzs_index_mutex);

static int rzs_major;
static const char *rzs_default_comp = "lzo-rle";

static unsigned int num_devices = 1;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "Number of devices created at load (1-32, default 1)");

static unsigned int logical_block_size = 4096;
module_param(logical_block_size, uint, 0444);
MODULE_PARM_DESC(logical_block_size,
		 "Logical block size in bytes, 4096 (default) or 512");

static const struct block_device_operations rzs_devops;

/* ---- table entries ---------------------------------------------------- */

/*
 * The entry lock.  Sparse sees the bit lock as the context "bitlock"
 * (bit_spinlock.h's annotation), hence the __acquires(bitlock).
 */
static void rzs_slot_lock(struct ramzswap *rzs, unsigned long index)
	__acquires(bitlock)
{
	bit_spin_lock(RZS_LOCK, &rzs->table[index].flags);
}

#define rzs_slot_trylock(rzs, index)	\
	bit_spin_trylock(RZS_LOCK, &(rzs)->table[index].flags)

static void rzs_slot_unlock(struct ramzswap *rzs, unsigned long index)
	__releases(bitlock)
{
	bit_spin_unlock(RZS_LOCK, &rzs->table[index].flags);
}

/* The flag and size helpers need the entry lock held. */
static bool rzs_test_flag(struct ramzswap *rzs, unsigned long index,
			  enum rzs_pageflags flag)
{
	return rzs->table[index].flags & BIT(flag);
}

static void rzs_set_flag(struct ramzswap *rzs, unsigned long index,
			 enum rzs_pageflags flag)
{
	rzs->table[index].flags |= BIT(flag);
}

static void rzs_clear_flag(struct ramzswap *rzs, unsigned long index,
			   enum rzs_pageflags flag)
{
	rzs->table[index].flags &= ~BIT(flag);
}

static unsigned int rzs_get_obj_size(struct ramzswap *rzs, unsigned long index)
{
	return rzs->table[index].flags & RZS_SIZE_MASK;
}

static void rzs_set_obj_size(struct ramzswap *rzs, unsigned long index,
			     unsigned int size)
{
	unsigned long flags = rzs->table[index].flags & ~RZS_SIZE_MASK;

	rzs->table[index].flags = flags | size;
}

/* The priority (algorithm) of an entry with these flags. */
static u32 rzs_flags_prio(unsigned long flags)
{
	return (flags >> RZS_PRIO) & (RZS_MAX_COMPS - 1);
}

static u32 rzs_get_prio(struct ramzswap *rzs, unsigned long index)
{
	return rzs_flags_prio(rzs->table[index].flags);
}

static void rzs_set_prio(struct ramzswap *rzs, unsigned long index, u32 prio)
{
	unsigned long flags = rzs->table[index].flags;

	flags &= ~((unsigned long)(RZS_MAX_COMPS - 1) << RZS_PRIO);
	rzs->table[index].flags = flags | (unsigned long)prio << RZS_PRIO;
}

/* Does entry @index hold data (in the pool, same-filled or written back)? */
static bool rzs_slot_stored(struct ramzswap *rzs, unsigned long index)
{
	return rzs->table[index].flags &
	       (BIT(RZS_ALLOCATED) | BIT(RZS_SAME) | BIT(RZS_WB));
}

/* Boot time in seconds, as kept per page for `idle` and block_state. */
static u32 rzs_now(void)
{
	struct timespec64 ts;

	ktime_get_coarse_boottime_ts64(&ts);
	return ts.tv_sec;
}

/* Entry @index was read or written: not idle, accessed now.  Entry lock held. */
static void rzs_accessed(struct ramzswap *rzs, unsigned long index)
{
	rzs_clear_flag(rzs, index, RZS_IDLE);
	rzs->ac_time[index] = rzs_now();
}

static inline bool rzs_init_done(struct ramzswap *rzs)
{
	return rzs->disksize != 0;
}

static inline struct ramzswap *dev_to_rzs(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

/*
 * Free whatever entry @index holds.  Entry lock held; does not sleep.  It
 * also clears RZS_PP: a writeback or recompression working on the entry
 * finds it gone when it comes back, and drops what it made.
 */
static void rzs_free_slot(struct ramzswap *rzs, unsigned long index)
{
	struct rzs_table_entry *entry = &rzs->table[index];

	rzs_clear_flag(rzs, index, RZS_IDLE);
	rzs_clear_flag(rzs, index, RZS_PP);
	rzs_clear_flag(rzs, index, RZS_INCOMPRESSIBLE);
	rzs_set_prio(rzs, index, RZS_PRIMARY_COMP);
	if (rzs_test_flag(rzs, index, RZS_WB)) {
		rzs_backing_free(&rzs->backing, entry->handle);
		rzs_clear_flag(rzs, index, RZS_WB);
		atomic64_dec(&rzs->stats.bd_count);
		atomic64_dec(&rzs->stats.pages_stored);
	} else if (rzs_test_flag(rzs, index, RZS_SAME)) {
		rzs_clear_flag(rzs, index, RZS_SAME);
		atomic64_dec(&rzs->stats.same_pages);
		atomic64_dec(&rzs->stats.pages_stored);
	} else if (rzs_test_flag(rzs, index, RZS_ALLOCATED)) {
		xv_free(rzs->pool, entry->handle);
		atomic64_sub(rzs_get_obj_size(rzs, index),
			     &rzs->stats.compr_data_size);
		if (rzs_test_flag(rzs, index, RZS_HUGE)) {
			rzs_clear_flag(rzs, index, RZS_HUGE);
			atomic64_dec(&rzs->stats.huge_pages);
		}
		rzs_clear_flag(rzs, index, RZS_ALLOCATED);
		atomic64_dec(&rzs->stats.pages_stored);
	}
	entry->handle = 0;
	rzs_set_obj_size(rzs, index, 0);
}

static bool rzs_page_same_filled(const void *ptr, unsigned long *element)
{
	const unsigned long *words = ptr;
	const unsigned int last = PAGE_SIZE / sizeof(*words) - 1;
	unsigned long val = words[0];
	unsigned int pos;

	if (val != words[last])
		return false;
	for (pos = 1; pos < last; pos++)
		if (words[pos] != val)
			return false;
	*element = val;
	return true;
}

static void rzs_update_used_max(struct ramzswap *rzs, u64 pages)
{
	s64 cur = atomic64_read(&rzs->stats.max_used_pages);

	while ((u64)cur < pages) {
		s64 old = atomic64_cmpxchg(&rzs->stats.max_used_pages, cur,
					   pages);

		if (old == cur)
			break;
		cur = old;
	}
}

/* ---- page read and write ---------------------------------------------- */

/*
 * Partial-page writers of one page run one at a time: each owns the page
 * through its entry's RZS_RMW flag from its read to its store.  A whole-page
 * writer (or discard) that would store while RZS_RMW is set waits for the
 * partial writer first, so its page is not undone by the partial writer's
 * store of what it read earlier.  The flag is only changed under the entry
 * lock; waiters sleep on the entry's address (wait_var_event()).
 */
static bool rzs_rmw_busy(struct ramzswap *rzs, unsigned long index)
{
	return READ_ONCE(rzs->table[index].flags) & BIT(RZS_RMW);
}

static void rzs_rmw_wait(struct ramzswap *rzs, unsigned long index)
{
	wait_var_event(&rzs->table[index], !rzs_rmw_busy(rzs, index));
}

/*
 * Lock entry @index for a store.  Unless the caller is the page's partial
 * writer (@rmw), wait until the page has none.
 */
static void rzs_slot_lock_store(struct ramzswap *rzs, unsigned long index,
				bool rmw)
	__acquires(bitlock)
{
	rzs_slot_lock(rzs, index);
	while (!rmw && rzs_test_flag(rzs, index, RZS_RMW)) {
		rzs_slot_unlock(rzs, index);
		rzs_rmw_wait(rzs, index);
		rzs_slot_lock(rzs, index);
	}
}

static void rzs_rmw_begin(struct ramzswap *rzs, unsigned long index)
{
	rzs_slot_lock_store(rzs, index, false);
	rzs_set_flag(rzs, index, RZS_RMW);
	rzs_slot_unlock(rzs, index);
}

static void rzs_rmw_end(struct ramzswap *rzs, unsigned long index)
{
	rzs_slot_lock(rzs, index);
	rzs_clear_flag(rzs, index, RZS_RMW);
	rzs_slot_unlock(rzs, index);
	/* Orders the cleared flag before the wait queue check. */
	smp_mb();
	wake_up_var(&rzs->table[index]);
}

/* Does reading an entry with these flags need a stream (decompression)? */
static bool rzs_flags_need_strm(unsigned long flags)
{
	return (flags & (BIT(RZS_ALLOCATED) | BIT(RZS_HUGE))) ==
	       BIT(RZS_ALLOCATED);
}

/* Read entry @index, written back, from the backing device.  May sleep. */
static int rzs_read_backing(struct ramzswap *rzs, unsigned long index,
			    unsigned long blk, struct page *page)
{
	int ret;

	atomic64_inc(&rzs->stats.bd_reads);
	ret = rzs_backing_read(&rzs->backing, blk, page);
	if (ret)
		pr_err_ratelimited("%s: reading page %lu from the backing device failed: %d\n",
				   rzs->disk->disk_name, index, ret);
	return ret;
}

/* Is entry @index still written back, to block @blk? */
static bool rzs_still_on_block(struct ramzswap *rzs, unsigned long index,
			       unsigned long blk)
{
	bool same;

	rzs_slot_lock(rzs, index);
	same = rzs_test_flag(rzs, index, RZS_WB) && rzs->table[index].handle == blk;
	rzs_slot_unlock(rzs, index);
	return same;
}

static int rzs_read_slot(struct ramzswap *rzs, unsigned long index,
			 struct page *page, bool touch, struct bio *parent);

/* A read of a written-back page chained to the bio it is part of. */
struct rzs_wb_read {
	struct work_struct work;
	struct ramzswap *rzs;
	struct bio *parent;
	struct page *page;
	unsigned long index;
	unsigned long blk;
	blk_status_t status;
};

/*
 * The disk read is done: unless the entry is still written back to that
 * block (it may have been freed or rewritten meanwhile, see
 * rzs_read_slot()), read it again as it is now; then end the bio's part.
 */
static void rzs_wb_read_work(struct work_struct *work)
{
	struct rzs_wb_read *r = container_of(work, struct rzs_wb_read, work);
	struct ramzswap *rzs = r->rzs;
	struct bio *parent = r->parent;
	int ret = blk_status_to_errno(r->status);

	if (ret)
		pr_err_ratelimited("%s: reading page %lu from the backing device failed: %d\n",
				   rzs->disk->disk_name, r->index, ret);
	else if (!rzs_still_on_block(rzs, r->index, r->blk))
		ret = rzs_read_slot(rzs, r->index, r->page, false, NULL);
	flush_dcache_page(r->page);
	if (unlikely(ret)) {
		atomic64_inc(&rzs->stats.failed_reads);
		parent->bi_status = BLK_STS_IOERR;
	}
	kfree(r);
	bio_endio(parent);
}

static void rzs_wb_read_endio(struct bio *bio)
{
	struct rzs_wb_read *r = bio->bi_private;

	r->status = bio->bi_status;
	bio_put(bio);
	INIT_WORK(&r->work, rzs_wb_read_work);
	queue_work(rzs_backing_wq, &r->work);
}

/*
 * Start reading entry @index, written back to block @blk, into @page for
 * bio @parent, which then ends only when this read is done.  False if
 * there is no memory for it (the caller reads synchronously instead).
 */
static bool rzs_read_backing_chained(struct ramzswap *rzs, unsigned long index,
				     unsigned long blk, struct page *page,
				     struct bio *parent)
{
	struct rzs_wb_read *r = kmalloc(sizeof(*r), GFP_NOIO | __GFP_NOWARN);

	if (!r)
		return false;
	r->rzs = rzs;
	r->parent = parent;
	r->page = page;
	r->index = index;
	r->blk = blk;
	atomic64_inc(&rzs->stats.bd_reads);
	bio_inc_remaining(parent);
	rzs_backing_read_async(&rzs->backing, blk, page, rzs_wb_read_endio, r);
	return true;
}

/*
 * Fill @page with the content of entry @index; @touch: this is an access
 * (clears the idle mark, sets the access time), not writeback or
 * recompression reading it.  Never-written and freed entries read as
 * zeros.  Only a compressed entry takes a stream, of the algorithm that
 * compressed it; a stream (a mutex) cannot be taken under the entry lock,
 * so it is taken on what the entry looked like before, and the read starts
 * over if the entry was rewritten meanwhile into one that needs another.
 *
 * A written-back entry is read from the backing device after the entry
 * lock is dropped (the read sleeps).  If the entry was freed or rewritten
 * meanwhile, its block may already hold another entry's page (a device
 * may complete a later write to the block before this read): so the entry
 * is looked at again after the read, and the read starts over on what the
 * entry holds now unless it is still written back to that same block.
 * With @parent (a whole page of that bio, read inside its ->submit_bio)
 * the disk read is chained to @parent and this returns at once; the check
 * and any new start are done when it completes (rzs_wb_read_work()), so the
 * written-back pages of one bio are read all at once.
 *
 * Not caught: the entry itself rewritten and written back onto that same
 * block again within the one read, after another entry had it in between;
 * next-fit block allocation makes that two reuses of one block in the
 * time of a read.
 */
static int rzs_read_slot(struct ramzswap *rzs, unsigned long index,
			 struct page *page, bool touch, struct bio *parent)
{
	struct rzs_strm *strm = NULL;
	unsigned long handle, flags;
	u32 prio = RZS_PRIMARY_COMP;
	unsigned int size;
	void *dst, *src;
	int ret = 0;

start:
	flags = READ_ONCE(rzs->table[index].flags);
	if (rzs_flags_need_strm(flags)) {
		prio = rzs_flags_prio(flags);
		strm = rzs_strm_get(rzs->comp[prio]);
	}
again:
	dst = kmap_local_page(page);
	rzs_slot_lock(rzs, index);
	if (touch)
		rzs_accessed(rzs, index);
	if (rzs_test_flag(rzs, index, RZS_WB)) {
		handle = rzs->table[index].handle;
		rzs_slot_unlock(rzs, index);
		kunmap_local(dst);
		if (strm)
			rzs_strm_put(strm);
		if (parent && rzs_read_backing_chained(rzs, index, handle, page,
						       parent))
			return 0;
		ret = rzs_read_backing(rzs, index, handle, page);
		if (ret || rzs_still_on_block(rzs, index, handle))
			return ret;
		strm = NULL;
		prio = RZS_PRIMARY_COMP;
		touch = false;
		goto start;
	}
	if (!rzs_test_flag(rzs, index, RZS_ALLOCATED)) {
		unsigned long element = 0;

		if (rzs_test_flag(rzs, index, RZS_SAME))
			element = rzs->table[index].element;
		rzs_slot_unlock(rzs, index);
		memset_l(dst, element, PAGE_SIZE / sizeof(unsigned long));
		kunmap_local(dst);
		goto out;
	}
	flags = rzs->table[index].flags;
	if (unlikely(rzs_flags_need_strm(flags) &&
		     (!strm || prio != rzs_flags_prio(flags)))) {
		rzs_slot_unlock(rzs, index);
		kunmap_local(dst);
		if (strm)
			rzs_strm_put(strm);
		prio = rzs_flags_prio(flags);
		strm = rzs_strm_get(rzs->comp[prio]);
		goto again;
	}

	handle = rzs->table[index].handle;
	size = rzs_get_obj_size(rzs, index);
	src = xv_map(rzs->pool, handle, XV_MM_RO);
	if (unlikely(!src)) {
		ret = -EIO;	/* xvmalloc has printed why */
	} else {
		if (size == PAGE_SIZE)
			memcpy(dst, src, PAGE_SIZE);
		else
			ret = rzs_decompress(strm, src, size, dst);
		xv_unmap(rzs->pool, handle);
	}
	rzs_slot_unlock(rzs, index);
	kunmap_local(dst);

	if (unlikely(ret))
		pr_err_ratelimited("%s: decompression of page %lu failed: %d\n",
				   rzs->disk->disk_name, index, ret);
out:
	if (strm)
		rzs_strm_put(strm);
	return ret;
}

/*
 * Store the PAGE_SIZE bytes of @page as entry @index, replacing what was
 * there; @rmw: the caller is the page's partial writer (rzs_rmw_begin()).
 * May sleep, but never in reclaim with a stream held: if the non-sleeping
 * allocation fails, the stream goes back, the allocation sleeps, and the
 * page is compressed again (the content of @page is stable).
 */
static int rzs_write_page(struct ramzswap *rzs, unsigned long index,
			  struct page *page, bool rmw)
{
	unsigned long handle = 0, element = 0, limit;
	unsigned int comp_len = 0, alloc_len = 0;
	struct rzs_strm *strm;
	void *src, *dst;
	bool same;
	u64 pages;
	int ret;

	src = kmap_local_page(page);
	same = rzs_page_same_filled(src, &element);
	kunmap_local(src);
	if (same)
		goto store;

compress:
	strm = rzs_strm_get(rzs->comp[RZS_PRIMARY_COMP]);
	src = kmap_local_page(page);
	ret = rzs_compress(rzs->comp[RZS_PRIMARY_COMP], strm, src, &comp_len);
	kunmap_local(src);
	if (unlikely(ret)) {
		rzs_strm_put(strm);
		if (handle)
			xv_free(rzs->pool, handle);
		pr_err_ratelimited("%s: compression failed: %d\n",
				   rzs->disk->disk_name, ret);
		return ret;
	}
	if (comp_len >= RZS_HUGE_THRESHOLD)
		comp_len = PAGE_SIZE;

	if (unlikely(handle && comp_len != alloc_len)) {
		/* Compressed again to another size: allocate again. */
		xv_free(rzs->pool, handle);
		handle = 0;
	}
	if (!handle &&
	    xv_malloc(rzs->pool, comp_len, RZS_GFP_FAST, &handle)) {
		rzs_strm_put(strm);
		atomic64_inc(&rzs->stats.writestall);
		handle = 0;
		ret = xv_malloc(rzs->pool, comp_len, RZS_GFP_SLOW, &handle);
		if (ret)
			return ret;
		alloc_len = comp_len;
		if (comp_len != PAGE_SIZE)
			goto compress;
		strm = NULL;	/* a raw page needs no stream */
	}
	if (strm && comp_len == PAGE_SIZE) {
		rzs_strm_put(strm);
		strm = NULL;
	}

	pages = xv_get_total_pages(rzs->pool);
	rzs_update_used_max(rzs, pages);
	limit = READ_ONCE(rzs->limit_pages);
	if (limit && pages > limit) {
		ret = -ENOMEM;
		goto out_free;
	}

	/*
	 * xv_map() disables preemption until xv_unmap(); a local mapping taken
	 * inside must be undone before xv_unmap().
	 */
	dst = xv_map(rzs->pool, handle, XV_MM_WO);
	if (unlikely(!dst)) {
		ret = -EIO;
		goto out_free;
	}
	if (strm) {
		memcpy(dst, strm->buffer, comp_len);
	} else {
		src = kmap_local_page(page);
		memcpy(dst, src, PAGE_SIZE);
		kunmap_local(src);
	}
	xv_unmap(rzs->pool, handle);
	if (strm)
		rzs_strm_put(strm);

store:
	rzs_slot_lock_store(rzs, index, rmw);
	rzs_free_slot(rzs, index);
	if (same) {
		rzs->table[index].element = element;
		rzs_set_flag(rzs, index, RZS_SAME);
		atomic64_inc(&rzs->stats.same_pages);
	} else {
		rzs->table[index].handle = handle;
		rzs_set_obj_size(rzs, index, comp_len);
		rzs_set_flag(rzs, index, RZS_ALLOCATED);
		if (comp_len == PAGE_SIZE) {
			rzs_set_flag(rzs, index, RZS_HUGE);
			atomic64_inc(&rzs->stats.huge_pages);
			atomic64_inc(&rzs->stats.huge_pages_since);
		}
		atomic64_add(comp_len, &rzs->stats.compr_data_size);
	}
	atomic64_inc(&rzs->stats.pages_stored);
	rzs_accessed(rzs, index);
	rzs_slot_unlock(rzs, index);
	return 0;

out_free:
	if (strm)
		rzs_strm_put(strm);
	xv_free(rzs->pool, handle);
	return ret;
}

/*
 * Read @bv (within one device page) from page @index at byte @offset, for
 * bio @parent (NULL: not from a bio).
 */
static int rzs_bvec_read(struct ramzswap *rzs, struct bio_vec *bv,
			 unsigned long index, unsigned int offset,
			 struct bio *parent)
{
	struct page *page;
	int ret;

	if (bv->bv_len == PAGE_SIZE) {
		ret = rzs_read_slot(rzs, index, bv->bv_page, true, parent);
		flush_dcache_page(bv->bv_page);
		return ret;
	}

	page = alloc_page(GFP_NOIO);
	if (!page)
		return -ENOMEM;
	ret = rzs_read_slot(rzs, index, page, true, NULL);
	if (!ret)
		memcpy_to_bvec(bv, page_address(page) + offset);
	__free_page(page);
	return ret;
}

/*
 * Write @bv (within one device page) to page @index at byte @offset; with
 * @bv NULL, zero @len bytes there instead.  A partial page is read,
 * modified and written back by its partial writer (rzs_rmw_begin()).
 */
static int rzs_bvec_write(struct ramzswap *rzs, struct bio_vec *bv,
			  unsigned long index, unsigned int offset,
			  unsigned int len)
{
	struct page *page;
	int ret;

	if (bv && len == PAGE_SIZE)
		return rzs_write_page(rzs, index, bv->bv_page, false);

	page = alloc_page(GFP_NOIO);
	if (!page)
		return -ENOMEM;
	rzs_rmw_begin(rzs, index);
	ret = rzs_read_slot(rzs, index, page, true, NULL);
	if (!ret) {
		void *buf = page_address(page);

		if (bv)
			memcpy_from_bvec(buf + offset, bv);
		else
			memset(buf + offset, 0, len);
		ret = rzs_write_page(rzs, index, page, true);
	}
	rzs_rmw_end(rzs, index);
	__free_page(page);
	return ret;
}

static void rzs_discard_page(struct ramzswap *rzs, unsigned long index)
{
	rzs_slot_lock_store(rzs, index, false);
	rzs_free_slot(rzs, index);
	rzs_slot_unlock(rzs, index);
	atomic64_inc(&rzs->stats.notify_free);
}

/*
 * REQ_OP_DISCARD frees the whole pages in the range and leaves partial
 * pages alone (discard is a hint).  REQ_OP_WRITE_ZEROES frees whole pages
 * too (they then read as zeros) and zeroes partial pages by RMW.
 */
static void rzs_bio_discard(struct ramzswap *rzs, struct bio *bio)
{
	bool zeroes = bio_op(bio) == REQ_OP_WRITE_ZEROES;
	u64 pos = (u64)bio->bi_iter.bi_sector << SECTOR_SHIFT;
	u64 end = pos + bio->bi_iter.bi_size;

	while (pos < end) {
		unsigned long index = pos >> PAGE_SHIFT;
		unsigned int offset = pos & ~PAGE_MASK;
		unsigned int len = min_t(u64, PAGE_SIZE - offset, end - pos);

		if (len == PAGE_SIZE) {
			rzs_discard_page(rzs, index);
		} else if (zeroes) {
			atomic64_inc(&rzs->stats.num_writes);
			if (rzs_bvec_write(rzs, NULL, index, offset, len)) {
				atomic64_inc(&rzs->stats.failed_writes);
				bio->bi_status = BLK_STS_IOERR;
				break;
			}
		}
		pos += len;
		cond_resched();
	}
	bio_endio(bio);
}

static void rzs_bio_rw(struct ramzswap *rzs, struct bio *bio)
{
	unsigned long index = bio->bi_iter.bi_sector >> SECTORS_PER_PAGE_SHIFT;
	unsigned int offset = (bio->bi_iter.bi_sector &
			       (SECTORS_PER_PAGE - 1)) << SECTOR_SHIFT;
	bool write = op_is_write(bio_op(bio));
	unsigned long start_time;
	struct bvec_iter iter;
	struct bio_vec bvec;

	start_time = bio_start_io_acct(bio);
	bio_for_each_segment(bvec, bio, iter) {
		struct bio_vec bv = bvec;
		unsigned int left = bvec.bv_len;

		do {
			int ret;

			bv.bv_len = min_t(unsigned int, PAGE_SIZE - offset, left);
			if (write) {
				atomic64_inc(&rzs->stats.num_writes);
				ret = rzs_bvec_write(rzs, &bv, index, offset,
						     bv.bv_len);
			} else {
				atomic64_inc(&rzs->stats.num_reads);
				ret = rzs_bvec_read(rzs, &bv, index, offset,
						    bio);
			}
			if (unlikely(ret)) {
				atomic64_inc(write ? &rzs->stats.failed_writes :
						     &rzs->stats.failed_reads);
				bio->bi_status = BLK_STS_IOERR;
				goto out;
			}
			bv.bv_offset += bv.bv_len;
			left -= bv.bv_len;
			offset += bv.bv_len;
			if (offset == PAGE_SIZE) {
				offset = 0;
				index++;
			}
		} while (left);
	}
out:
	bio_end_io_acct(bio, start_time);
	bio_endio(bio);
}

static bool rzs_valid_io(struct ramzswap *rzs, struct bio *bio)
{
	u64 start = (u64)bio->bi_iter.bi_sector << SECTOR_SHIFT;
	u64 end = start + bio->bi_iter.bi_size;

	return rzs->table && end <= rzs->disksize;
}

static void rzs_submit_bio(struct bio *bio)
{
	struct ramzswap *rzs = bio->bi_bdev->bd_disk->private_data;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		if (rzs_valid_io(rzs, bio))
			break;
		fallthrough;
	default:
		atomic64_inc(&rzs->stats.invalid_io);
		bio_io_error(bio);
		return;
	}

	if (bio_op(bio) == REQ_OP_DISCARD || bio_op(bio) == REQ_OP_WRITE_ZEROES)
		rzs_bio_discard(rzs, bio);
	else
		rzs_bio_rw(rzs, bio);
}

/* Called by swap, under its spinlock, when a swap slot is no longer used. */
static void rzs_swap_slot_free_notify(struct block_device *bdev,
				      unsigned long index)
{
	struct ramzswap *rzs = bdev->bd_disk->private_data;

	if (unlikely(!rzs->table || index >= rzs->disksize >> PAGE_SHIFT))
		return;

	atomic64_inc(&rzs->stats.notify_free);
	if (!rzs_slot_trylock(rzs, index)) {
		atomic64_inc(&rzs->stats.miss_free);
		return;
	}
	/* A partial writer owns the page (not swap's way of writing). */
	if (unlikely(rzs_test_flag(rzs, index, RZS_RMW)))
		atomic64_inc(&rzs->stats.miss_free);
	else
		rzs_free_slot(rzs, index);
	rzs_slot_unlock(rzs, index);
}

#ifdef RZS_HAVE_RW_PAGE
/*
 * One whole page, synchronously: swap uses the device with
 * SWP_SYNCHRONOUS_IO when this exists, so a swap-in skips the swap cache
 * and readahead, and its slot is freed as soon as the page is mapped.
 * (Kernels without ->rw_page take the hint from BLK_FEAT_SYNCHRONOUS, see
 * rzs_compat.h.)  An error makes the caller retry through a bio, which
 * reports it.
 */
static int rzs_rw_page(struct block_device *bdev, sector_t sector,
		       struct page *page, enum req_op op)
{
	struct ramzswap *rzs = bdev->bd_disk->private_data;
	bool write = op_is_write(op);
	unsigned long start_time;
	unsigned long index;
	int ret;

	if (PageTransHuge(page))
		return -EOPNOTSUPP;
	/* Anything but one aligned page in range is the bio path's to judge. */
	if ((sector & (SECTORS_PER_PAGE - 1)) || !rzs->table ||
	    ((u64)sector << SECTOR_SHIFT) + PAGE_SIZE > rzs->disksize)
		return -EOPNOTSUPP;

	index = sector >> SECTORS_PER_PAGE_SHIFT;
	start_time = bdev_start_io_acct(bdev->bd_disk->part0, SECTORS_PER_PAGE,
					op, jiffies);
	if (write) {
		atomic64_inc(&rzs->stats.num_writes);
		ret = rzs_write_page(rzs, index, page, false);
	} else {
		atomic64_inc(&rzs->stats.num_reads);
		ret = rzs_read_slot(rzs, index, page, true, NULL);
		flush_dcache_page(page);
	}
	bdev_end_io_acct(bdev->bd_disk->part0, op, start_time);

	if (unlikely(ret)) {
		atomic64_inc(write ? &rzs->stats.failed_writes :
				     &rzs->stats.failed_reads);
		return ret;
	}
	page_endio(page, write, 0);
	return 0;
}
#endif

static int rzs_open(struct rzs_open_dev *dev, rzs_open_mode_t mode)
{
	struct gendisk *disk = rzs_open_gendisk(dev);
	struct ramzswap *rzs = disk->private_data;

	lockdep_assert_held(&disk->open_mutex);
	/* A device being reset or removed cannot be opened. */
	return rzs->claim ? -EBUSY : 0;
}

static const struct block_device_operations rzs_devops = {
	.owner = THIS_MODULE,
	.open = rzs_open,
	.submit_bio = rzs_submit_bio,
#ifdef RZS_HAVE_RW_PAGE
	.rw_page = rzs_rw_page,
#endif
	.swap_slot_free_notify = rzs_swap_slot_free_notify,
};

/* ---- setup and reset ---------------------------------------------------- */

static void rzs_comps_destroy(struct ramzswap *rzs)
{
	int prio;

	for (prio = 0; prio < RZS_MAX_COMPS; prio++) {
		if (rzs->comp[prio])
			rzs_comp_destroy(rzs->comp[prio]);
		rzs->comp[prio] = NULL;
	}
}

/* Streams for every configured algorithm, each at its level. */
static int rzs_comps_create(struct ramzswap *rzs)
{
	int prio;

	for (prio = 0; prio < RZS_MAX_COMPS; prio++) {
		struct rzs_comp *comp;

		if (!rzs->comp_name[prio][0])
			continue;
		comp = rzs_comp_create(rzs->comp_name[prio],
				       rzs->comp_level[prio]);
		if (IS_ERR(comp)) {
			pr_err("%s: cannot initialise %s streams: %ld\n",
			       rzs->disk->disk_name, rzs->comp_name[prio],
			       PTR_ERR(comp));
			rzs_comps_destroy(rzs);
			return PTR_ERR(comp);
		}
		rzs->comp[prio] = comp;
	}
	return 0;
}

/* Back to no secondary algorithm, no parameters (as zram resets them). */
static void rzs_comp_config_reset(struct ramzswap *rzs)
{
	int prio;

	for (prio = 0; prio < RZS_MAX_COMPS; prio++) {
		if (prio != RZS_PRIMARY_COMP)
			rzs->comp_name[prio][0] = '\0';
		rzs->comp_level[prio] = RZS_NO_LEVEL;
	}
}

/* Use @name (available) at priority @prio from the next initialisation. */
static void rzs_comp_set(struct ramzswap *rzs, int prio, const char *name)
{
	/* a level belongs to its algorithm: a new one starts at its default */
	if (strcmp(rzs->comp_name[prio], name))
		rzs->comp_level[prio] = RZS_NO_LEVEL;
	strscpy(rzs->comp_name[prio], name, sizeof(rzs->comp_name[prio]));
}

/* Free everything a device holds.  init_lock held for write. */
static void rzs_meta_free(struct ramzswap *rzs)
{
	unsigned long index, nr_pages = rzs->disksize >> PAGE_SHIFT;

	/* first: no scan may find the pool going */
	rzs_shrinker_free(rzs->shrinker);
	rzs->shrinker = NULL;
	if (rzs->table) {
		for (index = 0; index < nr_pages; index++) {
			rzs_slot_lock(rzs, index);
			rzs_free_slot(rzs, index);
			rzs_slot_unlock(rzs, index);
			if (!(index % 4096))
				cond_resched();
		}
		vfree(rzs->table);
		rzs->table = NULL;
	}
	vfree(rzs->ac_time);
	rzs->ac_time = NULL;
	if (rzs->pool) {
		xv_destroy_pool(rzs->pool);
		rzs->pool = NULL;
	}
	rzs_comps_destroy(rzs);
}

static void rzs_reset_device(struct ramzswap *rzs)
{
	down_write(&rzs->init_lock);
	WRITE_ONCE(rzs->limit_pages, 0);
	set_capacity_and_notify(rzs->disk, 0);
	part_stat_set_all(rzs->disk->part0, 0);
	rzs_meta_free(rzs);
	rzs->disksize = 0;
	memset(&rzs->stats, 0, sizeof(rzs->stats));
	/* zram's reset drops these too: set them again before the next use */
	rzs_backing_close(&rzs->backing);
	rzs_comp_config_reset(rzs);
	spin_lock(&rzs->wb_limit_lock);
	rzs->wb_limit_enable = false;
	rzs->wb_limit = 0;
	spin_unlock(&rzs->wb_limit_lock);
	up_write(&rzs->init_lock);
}

/*
 * sysfs hands a store the whole write, NUL-terminated after it: a NUL inside
 * would end the string that the parsers see early, and whatever follows it
 * would be ignored.  Such writes are malformed.
 */
static bool rzs_has_nul(const char *buf, size_t len)
{
	return strnlen(buf, len) != len;
}

/*
 * A trigger attribute's write (reset, compact, max_comp_streams): a
 * positive decimal number, one trailing newline allowed.
 */
static bool rzs_is_trigger(const char *buf, size_t len)
{
	int v;

	return !rzs_has_nul(buf, len) && !kstrtoint(buf, 10, &v) && v > 0;
}

/* Pages needed for @bytes, without the overflow of DIV_ROUND_UP_ULL(). */
static u64 rzs_bytes_to_pages(u64 bytes)
{
	return (bytes >> PAGE_SHIFT) + !!(bytes & (PAGE_SIZE - 1));
}

/*
 * Parse memparse()'s syntax ("<number>[KMGTPE]", one trailing newline
 * allowed) strictly: signs, junk and overflow are -EINVAL.
 */
static int rzs_parse_size(const char *buf, size_t len, u64 *res)
{
	unsigned int shift = 0;
	char tmp[32];
	u64 val;

	if (len && buf[len - 1] == '\n')
		len--;
	/* no NUL or newline inside: kstrtoull() would stop or skip there */
	if (!len || len >= sizeof(tmp) || rzs_has_nul(buf, len) ||
	    memchr(buf, '\n', len))
		return -EINVAL;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';

	switch (tmp[len - 1]) {
	case 'E':
	case 'e':
		shift += 10;
		fallthrough;
	case 'P':
	case 'p':
		shift += 10;
		fallthrough;
	case 'T':
	case 't':
		shift += 10;
		fallthrough;
	case 'G':
	case 'g':
		shift += 10;
		fallthrough;
	case 'M':
	case 'm':
		shift += 10;
		fallthrough;
	case 'K':
	case 'k':
		shift += 10;
		tmp[--len] = '\0';
		break;
	default:
		break;
	}
	if (!len || !isdigit(tmp[0]))
		return -EINVAL;
	if (kstrtoull(tmp, 0, &val))
		return -EINVAL;
	if (shift && val > (U64_MAX >> shift))
		return -EINVAL;
	*res = val << shift;
	return 0;
}

/* ---- sysfs -------------------------------------------------------------- */

static ssize_t disksize_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	u64 disksize;

	down_read(&rzs->init_lock);
	disksize = rzs->disksize;
	up_read(&rzs->init_lock);
	return sysfs_emit(buf, "%llu\n", disksize);
}

/* ---- compaction ------------------------------------------------------- */

/*
 * xv_compact()'s walk: every packed object goes through xv_migrate() under
 * its entry lock, the lock every map, read and free of it takes.  A raw
 * (whole-page) object never moves.  Entries are first looked at without
 * the lock; one stored meanwhile is in a fresh block, which compaction
 * has no business with.
 */
static void rzs_compact_walk(struct xv_pool *pool, void *arg)
{
	const unsigned long packed = BIT(RZS_ALLOCATED) | BIT(RZS_HUGE);
	struct ramzswap *rzs = arg;
	unsigned long index, nr_pages = rzs->disksize >> PAGE_SHIFT;

	for (index = 0; index < nr_pages; index++) {
		if (!(index % 1024))
			cond_resched();
		if ((READ_ONCE(rzs->table[index].flags) & packed) != BIT(RZS_ALLOCATED))
			continue;
		rzs_slot_lock(rzs, index);
		if (rzs_test_flag(rzs, index, RZS_ALLOCATED) &&
		    !rzs_test_flag(rzs, index, RZS_HUGE))
			xv_migrate(pool, &rzs->table[index].handle);
		rzs_slot_unlock(rzs, index);
	}
}

/* Compact the pool; init_lock held for read, compact_lock held. */
static unsigned long rzs_compact(struct ramzswap *rzs)
{
	return xv_compact(rzs->pool, rzs_compact_walk, rzs);
}

static unsigned long rzs_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	struct ramzswap *rzs = rzs_shrinker_priv(s);

	/* registered after the pool was made, freed before it goes */
	return xv_compactable_pages(rzs->pool);
}

static unsigned long rzs_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct ramzswap *rzs = rzs_shrinker_priv(s);
	unsigned long freed = 0;

	if (!down_read_trylock(&rzs->init_lock))
		return SHRINK_STOP;
	if (rzs_init_done(rzs) && mutex_trylock(&rzs->compact_lock)) {
		freed = rzs_compact(rzs);
		mutex_unlock(&rzs->compact_lock);
	}
	up_read(&rzs->init_lock);
	return freed ? freed : SHRINK_STOP;
}

static ssize_t compact_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);

	/* as reset: zram's scripts write 1 */
	if (!rzs_is_trigger(buf, len))
		return -EINVAL;
	down_read(&rzs->init_lock);
	if (!rzs_init_done(rzs)) {
		up_read(&rzs->init_lock);
		return -EINVAL;
	}
	mutex_lock(&rzs->compact_lock);
	rzs_compact(rzs);
	mutex_unlock(&rzs->compact_lock);
	up_read(&rzs->init_lock);
	return len;
}

static ssize_t disksize_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_table_entry *table;
	struct xv_pool *pool;
	u64 disksize, nr_pages;
	u32 *ac_time;
	int err;

	err = rzs_parse_size(buf, len, &disksize);
	if (err)
		return err;
	if (!disksize)
		return -EINVAL;
	nr_pages = rzs_bytes_to_pages(disksize);
	if (nr_pages > RZS_MAX_PAGES)
		return -EINVAL;
	disksize = nr_pages << PAGE_SHIFT;

	down_write(&rzs->init_lock);
	if (rzs_init_done(rzs)) {
		err = -EBUSY;
		goto out_unlock;
	}

	table = __vmalloc(array_size(nr_pages, sizeof(*table)),
			  GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	if (!table) {
		err = -ENOMEM;
		goto out_unlock;
	}

	ac_time = __vmalloc(array_size(nr_pages, sizeof(*ac_time)),
			    GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	if (!ac_time) {
		err = -ENOMEM;
		goto out_free_table;
	}

	pool = xv_create_pool(rzs->disk->disk_name);
	if (IS_ERR_OR_NULL(pool)) {
		err = pool ? PTR_ERR(pool) : -ENOMEM;
		goto out_free_ac_time;
	}

	err = rzs_comps_create(rzs);
	if (err)
		goto out_destroy_pool;

	rzs->table = table;
	rzs->ac_time = ac_time;
	rzs->pool = pool;
	rzs->disksize = disksize;
	/* its scans only try init_lock, which is ours until we return */
	rzs->shrinker = rzs_shrinker_new(rzs->disk->disk_name, rzs, rzs_shrink_count,
					 rzs_shrink_scan);
	if (!rzs->shrinker) {
		rzs_meta_free(rzs);
		rzs->disksize = 0;
		err = -ENOMEM;
		goto out_unlock;
	}
	set_capacity_and_notify(rzs->disk, disksize >> SECTOR_SHIFT);
	up_write(&rzs->init_lock);
	return len;

out_destroy_pool:
	xv_destroy_pool(pool);
out_free_ac_time:
	vfree(ac_time);
out_free_table:
	vfree(table);
out_unlock:
	up_write(&rzs->init_lock);
	return err;
}

static ssize_t initstate_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	bool done;

	down_read(&rzs->init_lock);
	done = rzs_init_done(rzs);
	up_read(&rzs->init_lock);
	return sysfs_emit(buf, "%u\n", done);
}

static ssize_t reset_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct gendisk *disk = rzs->disk;

	if (!rzs_is_trigger(buf, len))
		return -EINVAL;

	mutex_lock(&disk->open_mutex);
	if (disk_openers(disk) || rzs->claim) {
		mutex_unlock(&disk->open_mutex);
		return -EBUSY;
	}
	/* From now on nobody can open the device until the reset is done. */
	rzs->claim = true;
	mutex_unlock(&disk->open_mutex);

	sync_blockdev(disk->part0);
	rzs_reset_device(rzs);

	mutex_lock(&disk->open_mutex);
	rzs->claim = false;
	mutex_unlock(&disk->open_mutex);
	return len;
}

static ssize_t mem_limit_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);

	return sysfs_emit(buf, "%llu\n",
			  (u64)READ_ONCE(rzs->limit_pages) << PAGE_SHIFT);
}

static ssize_t mem_limit_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	u64 limit, pages;

	if (rzs_parse_size(buf, len, &limit))
		return -EINVAL;
	pages = rzs_bytes_to_pages(limit);
	if (pages > ULONG_MAX)
		return -EINVAL;

	down_write(&rzs->init_lock);
	WRITE_ONCE(rzs->limit_pages, pages);
	up_write(&rzs->init_lock);
	return len;
}

static ssize_t mem_used_max_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	u64 max_used;

	max_used = atomic64_read(&rzs->stats.max_used_pages);
	return sysfs_emit(buf, "%llu\n", max_used << PAGE_SHIFT);
}

static ssize_t mem_used_max_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);

	if (rzs_has_nul(buf, len) || !sysfs_streq(buf, "0"))
		return -EINVAL;

	down_read(&rzs->init_lock);
	if (rzs_init_done(rzs))
		atomic64_set(&rzs->stats.max_used_pages,
			     xv_get_total_pages(rzs->pool));
	up_read(&rzs->init_lock);
	return len;
}

/*
 * max_comp_streams: zram's old knob.  Streams are per CPU here (as in zram
 * since 4.7), so a write of a positive number is accepted and changes
 * nothing, and a read gives the number of online CPUs, as zram does.
 */
static ssize_t max_comp_streams_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", num_online_cpus());
}

static ssize_t max_comp_streams_store(struct device *dev,
				      struct device_attribute *attr,
				      const char *buf, size_t len)
{
	return rzs_is_trigger(buf, len) ? len : -EINVAL;
}

static ssize_t comp_algorithm_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	ssize_t sz;

	down_read(&rzs->init_lock);
	sz = rzs_comp_available_show(rzs->comp_name[RZS_PRIMARY_COMP], buf);
	up_read(&rzs->init_lock);
	return sz;
}

static ssize_t comp_algorithm_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	char name[RZS_COMP_NAME_LEN];
	size_t sz = len;
	int err = 0;

	if (sz && buf[sz - 1] == '\n')
		sz--;
	if (!sz || sz >= sizeof(name))
		return -EINVAL;
	memcpy(name, buf, sz);
	name[sz] = '\0';
	if (strlen(name) != sz || !rzs_comp_available(name))
		return -EINVAL;

	down_write(&rzs->init_lock);
	if (rzs_init_done(rzs))
		err = -EBUSY;
	else
		rzs_comp_set(rzs, RZS_PRIMARY_COMP, name);
	up_write(&rzs->init_lock);
	return err ? err : len;
}

static ssize_t mm_stat_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_stats *st = &rzs->stats;
	struct xv_pool_stats xs = { };
	ssize_t ret;

	down_read(&rzs->init_lock);
	if (rzs_init_done(rzs))
		xv_get_stats(rzs->pool, &xs);
	ret = sysfs_emit(buf,
			 "%8llu %8llu %8llu %8llu %8llu %8llu %8llu %8llu %8llu\n",
			 (u64)atomic64_read(&st->pages_stored) << PAGE_SHIFT,
			 (u64)atomic64_read(&st->compr_data_size),
			 xs.bytes_in_pool,
			 (u64)READ_ONCE(rzs->limit_pages) << PAGE_SHIFT,
			 (u64)atomic64_read(&st->max_used_pages) << PAGE_SHIFT,
			 (u64)atomic64_read(&st->same_pages),
			 xs.pages_compacted,
			 (u64)atomic64_read(&st->huge_pages),
			 (u64)atomic64_read(&st->huge_pages_since));
	up_read(&rzs->init_lock);
	return ret;
}

static ssize_t io_stat_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_stats *st = &rzs->stats;
	ssize_t ret;

	down_read(&rzs->init_lock);
	ret = sysfs_emit(buf, "%8llu %8llu %8llu %8llu\n",
			 (u64)atomic64_read(&st->failed_reads),
			 (u64)atomic64_read(&st->failed_writes),
			 (u64)atomic64_read(&st->invalid_io),
			 (u64)atomic64_read(&st->notify_free));
	up_read(&rzs->init_lock);
	return ret;
}

static ssize_t xv_stat_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct xv_pool_stats xs = { };

	down_read(&rzs->init_lock);
	if (rzs_init_done(rzs))
		xv_get_stats(rzs->pool, &xs);
	up_read(&rzs->init_lock);
	return sysfs_emit(buf, "%8llu %8llu %8llu %8llu %8llu %8llu %8llu %8llu\n",
			  xs.objects, xs.bytes_requested, xs.bytes_in_pool,
			  xs.pages_total, xs.pages_highmem, xs.alloc_failures,
			  xs.pages_stashed, xs.meta_bytes);
}

static ssize_t debug_stat_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_stats *st = &rzs->stats;

	return sysfs_emit(buf, "version: 1\n%8llu %8llu %8llu %8llu\n",
			  (u64)atomic64_read(&st->num_reads),
			  (u64)atomic64_read(&st->num_writes),
			  (u64)atomic64_read(&st->writestall),
			  (u64)atomic64_read(&st->miss_free));
}

/* ---- zram's key=value attributes ---------------------------------------- */

/*
 * A copy of a "key=value ..." write for next_arg(), which cuts it up; NUL
 * inside the write is malformed (see rzs_has_nul()).  kfree() the result.
 */
static char *rzs_args_dup(const char *buf, size_t len)
{
	if (rzs_has_nul(buf, len))
		return ERR_PTR(-EINVAL);
	return kstrndup(buf, len, GFP_KERNEL) ?: ERR_PTR(-ENOMEM);
}

/* The priority whose algorithm is @name, or -EINVAL.  init_lock held. */
static int rzs_prio_of(struct ramzswap *rzs, const char *name, int first)
{
	int prio;

	for (prio = first; prio < RZS_MAX_COMPS; prio++)
		if (rzs->comp_name[prio][0] && !strcmp(rzs->comp_name[prio], name))
			return prio;
	return -EINVAL;
}

static ssize_t recomp_algorithm_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	ssize_t sz = 0;
	int prio;

	down_read(&rzs->init_lock);
	for (prio = RZS_PRIMARY_COMP + 1; prio < RZS_MAX_COMPS; prio++) {
		if (!rzs->comp_name[prio][0])
			continue;
		sz += scnprintf(buf + sz, PAGE_SIZE - sz, "#%d: ", prio);
		sz += rzs_comp_available_show(rzs->comp_name[prio], buf + sz);
	}
	up_read(&rzs->init_lock);
	return sz;
}

/* "algo=NAME [priority=1..3]" (priority 1 by default), before disksize. */
static ssize_t recomp_algorithm_store(struct device *dev,
				      struct device_attribute *attr,
				      const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	char *args, *copy, *param, *val, *algo = NULL;
	int prio = RZS_PRIMARY_COMP + 1, err = 0;

	copy = rzs_args_dup(buf, len);
	if (IS_ERR(copy))
		return PTR_ERR(copy);
	args = skip_spaces(copy);
	while (*args && !err) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			err = -EINVAL;
		else if (!strcmp(param, "algo"))
			algo = val;
		else if (!strcmp(param, "priority"))
			err = kstrtoint(val, 10, &prio) ? -EINVAL : 0;
		else
			err = -EINVAL;
	}
	if (!err && (!algo || strlen(algo) >= RZS_COMP_NAME_LEN ||
		     !rzs_comp_available(algo) || prio <= RZS_PRIMARY_COMP ||
		     prio >= RZS_MAX_COMPS))
		err = -EINVAL;
	if (!err) {
		down_write(&rzs->init_lock);
		if (rzs_init_done(rzs))
			err = -EBUSY;
		else
			rzs_comp_set(rzs, prio, algo);
		up_write(&rzs->init_lock);
	}
	kfree(copy);
	return err ? err : len;
}

/*
 * "algo=NAME|priority=N [level=L]", before disksize: the parameters of
 * that algorithm from the next initialisation on.  A write sets all of
 * them, so one without level= gives the algorithm its default level back.
 * zram's dict= (a trained zstd dictionary) is not supported.
 */
static ssize_t algorithm_params_store(struct device *dev,
				      struct device_attribute *attr,
				      const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	char *args, *copy, *param, *val, *algo = NULL;
	int prio = RZS_PRIMARY_COMP, level = RZS_NO_LEVEL, err = 0;

	copy = rzs_args_dup(buf, len);
	if (IS_ERR(copy))
		return PTR_ERR(copy);
	args = skip_spaces(copy);
	while (*args && !err) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			err = -EINVAL;
		else if (!strcmp(param, "algo"))
			algo = val;
		else if (!strcmp(param, "priority"))
			err = kstrtoint(val, 10, &prio) ? -EINVAL : 0;
		else if (!strcmp(param, "level"))
			err = kstrtoint(val, 10, &level) || level == RZS_NO_LEVEL ?
			      -EINVAL : 0;
		else if (!strcmp(param, "dict"))
			err = -EOPNOTSUPP;
		else
			err = -EINVAL;
	}
	if (err)
		goto out;

	down_write(&rzs->init_lock);
	if (rzs_init_done(rzs)) {
		err = -EBUSY;
	} else {
		if (algo)
			prio = rzs_prio_of(rzs, algo, RZS_PRIMARY_COMP);
		if (prio < RZS_PRIMARY_COMP || prio >= RZS_MAX_COMPS ||
		    !rzs->comp_name[prio][0])
			err = -EINVAL;
		else
			err = rzs_comp_check_level(rzs->comp_name[prio], level);
		if (!err)
			rzs->comp_level[prio] = level;
	}
	up_write(&rzs->init_lock);
out:
	kfree(copy);
	return err ? err : len;
}

/* ---- idle pages, writeback and recompression ---------------------------- */

/*
 * Mark pool pages idle: all of them (@all), or those last accessed before
 * @cutoff (boot seconds), clearing the mark of the others.  Same-filled and written-back pages
 * are never idle (nothing is left to do with them), nor is a page that
 * writeback or recompression is working on.
 */
static void rzs_mark_idle(struct ramzswap *rzs, bool all, u32 cutoff)
{
	unsigned long index, nr_pages = rzs->disksize >> PAGE_SHIFT;

	for (index = 0; index < nr_pages; index++) {
		if (!(index % 1024))
			cond_resched();
		rzs_slot_lock(rzs, index);
		if (rzs_test_flag(rzs, index, RZS_ALLOCATED) &&
		    !rzs_test_flag(rzs, index, RZS_PP)) {
			if (all || rzs->ac_time[index] < cutoff)
				rzs_set_flag(rzs, index, RZS_IDLE);
			else
				rzs_clear_flag(rzs, index, RZS_IDLE);
		}
		rzs_slot_unlock(rzs, index);
	}
}

/* "all", or an age in seconds: pages not accessed for that long. */
static ssize_t idle_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	bool all = false;
	u32 cutoff = 0;
	u64 age;

	if (rzs_has_nul(buf, len))
		return -EINVAL;
	if (sysfs_streq(buf, "all")) {
		all = true;
	} else {
		u32 now = rzs_now();

		/* any base, as zram reads it */
		if (kstrtoull(buf, 0, &age))
			return -EINVAL;
		/* older than boot: none; an age of 0: all until now */
		cutoff = age >= now ? 0 : now - (u32)age;
	}

	down_read(&rzs->init_lock);
	if (!rzs_init_done(rzs)) {
		up_read(&rzs->init_lock);
		return -EINVAL;
	}
	rzs_mark_idle(rzs, all, cutoff);
	up_read(&rzs->init_lock);
	return len;
}

/* What writeback and recompression select, on top of a stored pool page. */
#define RZS_SEL_IDLE		BIT(0)
#define RZS_SEL_HUGE		BIT(1)
#define RZS_SEL_INCOMPRESSIBLE	BIT(2)

/*
 * Claim entry @index for writeback or recompression if it matches @sel:
 * a pool object (not same-filled, not written back), not being written by
 * a partial writer, not claimed already.  Sets RZS_PP; rzs_free_slot()
 * clears it, which is how the claimer learns the page was freed or
 * rewritten meanwhile.  Entry lock held.
 */
static bool rzs_pp_claim(struct ramzswap *rzs, unsigned long index,
			 unsigned int sel)
{
	unsigned long flags = rzs->table[index].flags;

	if (!(flags & BIT(RZS_ALLOCATED)) ||
	    (flags & (BIT(RZS_PP) | BIT(RZS_RMW))))
		return false;
	if (((sel & RZS_SEL_IDLE) && !(flags & BIT(RZS_IDLE))) ||
	    ((sel & RZS_SEL_HUGE) && !(flags & BIT(RZS_HUGE))) ||
	    ((sel & RZS_SEL_INCOMPRESSIBLE) &&
	     !(flags & BIT(RZS_INCOMPRESSIBLE))))
		return false;
	rzs_set_flag(rzs, index, RZS_PP);
	return true;
}

static void rzs_pp_release(struct ramzswap *rzs, unsigned long index)
{
	rzs_slot_lock(rzs, index);
	rzs_clear_flag(rzs, index, RZS_PP);
	rzs_slot_unlock(rzs, index);
}

/* Take one 4 KiB unit of writeback budget; false when it is spent. */
static bool rzs_wb_budget(struct ramzswap *rzs)
{
	bool ok = true;

	spin_lock(&rzs->wb_limit_lock);
	if (rzs->wb_limit_enable) {
		if (rzs->wb_limit < (PAGE_SIZE >> 12))
			ok = false;
		else
			rzs->wb_limit -= PAGE_SIZE >> 12;
	}
	spin_unlock(&rzs->wb_limit_lock);
	return ok;
}

static void rzs_wb_budget_undo(struct ramzswap *rzs)
{
	spin_lock(&rzs->wb_limit_lock);
	if (rzs->wb_limit_enable)
		rzs->wb_limit += PAGE_SIZE >> 12;
	spin_unlock(&rzs->wb_limit_lock);
}

/*
 * Write entry @index back if it matches @sel, through @page, into block
 * *@blk (taken first if *@blk is ULONG_MAX; left for the next page if this
 * one is not written back).  pp_lock held.
 *
 * Return: 0 (written back or skipped); -EDQUOT when the writeback budget
 * is spent; -ENOSPC when the backing device is full; or a read or write error
 * for this page (its data stays where it was).
 */
static int rzs_writeback_slot(struct ramzswap *rzs, unsigned long index,
			      unsigned int sel, struct page *page,
			      unsigned long *blk)
{
	bool claimed;
	int ret;

	if (*blk == ULONG_MAX) {
		ret = rzs_backing_alloc(&rzs->backing, blk);
		if (ret)
			return ret;
	}

	rzs_slot_lock(rzs, index);
	claimed = rzs_pp_claim(rzs, index, sel);
	rzs_slot_unlock(rzs, index);
	if (!claimed)
		return 0;
	if (!rzs_wb_budget(rzs)) {
		rzs_pp_release(rzs, index);
		return -EDQUOT;
	}

	ret = rzs_read_slot(rzs, index, page, false, NULL);
	if (!ret)
		ret = rzs_backing_write(&rzs->backing, *blk, page);
	if (ret) {
		rzs_wb_budget_undo(rzs);
		rzs_pp_release(rzs, index);
		return ret;
	}
	atomic64_inc(&rzs->stats.bd_writes);

	rzs_slot_lock(rzs, index);
	if (rzs_test_flag(rzs, index, RZS_PP)) {
		rzs_free_slot(rzs, index);
		rzs->table[index].handle = *blk;
		rzs_set_flag(rzs, index, RZS_WB);
		atomic64_inc(&rzs->stats.pages_stored);
		atomic64_inc(&rzs->stats.bd_count);
		*blk = ULONG_MAX;
	} else {
		/* freed or rewritten meanwhile: the write was for nothing */
		rzs_wb_budget_undo(rzs);
	}
	rzs_slot_unlock(rzs, index);
	return 0;
}

/* Pages of one writeback request: [lo, hi) */
struct rzs_range {
	unsigned long lo, hi;
};

#define RZS_WB_MAX_RANGES	16

/*
 * Parse a writeback write: "idle", "huge", "huge_idle", "incompressible",
 * or one or more "page_index=N" and "page_indexes=LOW-HIGH" (inclusive).
 * Return the number of ranges in @r (all pages for a type), or -EINVAL.
 */
static int rzs_parse_writeback(char *args, unsigned long nr_pages,
			       unsigned int *sel, struct rzs_range *r)
{
	static const struct {
		const char *name;
		unsigned int sel;
	} types[] = {
		{ "idle", RZS_SEL_IDLE },
		{ "huge", RZS_SEL_HUGE },
		{ "huge_idle", RZS_SEL_IDLE | RZS_SEL_HUGE },
		{ "incompressible", RZS_SEL_INCOMPRESSIBLE },
	};
	char *param, *val, *dash;
	int i, n = 0;

	args = skip_spaces(args);
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		if (sysfs_streq(args, types[i].name)) {
			*sel = types[i].sel;
			r[0].lo = 0;
			r[0].hi = nr_pages;
			return 1;
		}
	}

	*sel = 0;
	while (*args) {
		unsigned long lo, hi;

		args = next_arg(args, &param, &val);
		if (!val || n == RZS_WB_MAX_RANGES)
			return -EINVAL;
		if (!strcmp(param, "page_index")) {
			if (kstrtoul(val, 10, &lo))
				return -EINVAL;
			hi = lo;
		} else if (!strcmp(param, "page_indexes")) {
			dash = strchr(val, '-');
			if (!dash)
				return -EINVAL;
			*dash = '\0';
			if (kstrtoul(val, 10, &lo) || kstrtoul(dash + 1, 10, &hi))
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		if (lo > hi || hi >= nr_pages)
			return -EINVAL;
		r[n].lo = lo;
		r[n++].hi = hi + 1;
	}
	return n ? n : -EINVAL;
}

static ssize_t writeback_store(struct device *dev, struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_range ranges[RZS_WB_MAX_RANGES];
	unsigned long index, blk = ULONG_MAX;
	struct page *page = NULL;
	int i, n, ret = 0, err;
	unsigned int sel;
	char *copy;

	copy = rzs_args_dup(buf, len);
	if (IS_ERR(copy))
		return PTR_ERR(copy);

	down_read(&rzs->init_lock);
	if (!rzs_init_done(rzs)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	n = rzs_parse_writeback(copy, rzs->disksize >> PAGE_SHIFT, &sel, ranges);
	if (n < 0) {
		ret = n;
		goto out_unlock;
	}
	if (!rzs->backing.file) {
		ret = -ENODEV;
		goto out_unlock;
	}
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		ret = -ENOMEM;
		goto out_unlock;
	}

	mutex_lock(&rzs->pp_lock);
	for (i = 0; i < n; i++) {
		for (index = ranges[i].lo; index < ranges[i].hi; index++) {
			err = rzs_writeback_slot(rzs, index, sel, page, &blk);
			cond_resched();
			if (!err)
				continue;
			/* an I/O error costs that page only: go on, report it */
			ret = err == -EDQUOT ? -EIO : err;	/* zram's -EIO */
			if (err == -EDQUOT || err == -ENOSPC)
				goto out_done;
		}
	}
out_done:
	if (blk != ULONG_MAX)
		rzs_backing_free(&rzs->backing, blk);
	mutex_unlock(&rzs->pp_lock);
	__free_page(page);
out_unlock:
	up_read(&rzs->init_lock);
	kfree(copy);
	return ret ? ret : len;
}

/* writeback_limit_enable: 0 or 1; reset clears it. */
static ssize_t writeback_limit_enable_store(struct device *dev,
					    struct device_attribute *attr,
					    const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	bool enable;

	if (rzs_has_nul(buf, len))
		return -EINVAL;
	if (sysfs_streq(buf, "1"))
		enable = true;
	else if (sysfs_streq(buf, "0"))
		enable = false;
	else
		return -EINVAL;
	spin_lock(&rzs->wb_limit_lock);
	rzs->wb_limit_enable = enable;
	spin_unlock(&rzs->wb_limit_lock);
	return len;
}

static ssize_t writeback_limit_enable_show(struct device *dev,
					   struct device_attribute *attr,
					   char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	bool enable;

	spin_lock(&rzs->wb_limit_lock);
	enable = rzs->wb_limit_enable;
	spin_unlock(&rzs->wb_limit_lock);
	return sysfs_emit(buf, "%d\n", enable);
}

/* writeback_limit: the budget left, in 4 KiB units (zram's unit). */
static ssize_t writeback_limit_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	u64 val;

	if (rzs_has_nul(buf, len) || kstrtoull(buf, 10, &val))
		return -EINVAL;
	spin_lock(&rzs->wb_limit_lock);
	rzs->wb_limit = val;
	spin_unlock(&rzs->wb_limit_lock);
	return len;
}

static ssize_t writeback_limit_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	u64 val;

	spin_lock(&rzs->wb_limit_lock);
	val = rzs->wb_limit;
	spin_unlock(&rzs->wb_limit_lock);
	return sysfs_emit(buf, "%llu\n", val);
}

static ssize_t backing_dev_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	ssize_t ret;

	down_read(&rzs->init_lock);
	ret = rzs_backing_show(&rzs->backing, buf);
	up_read(&rzs->init_lock);
	return ret;
}

/*
 * A block device's path, before disksize (-EBUSY after, as in zram); it
 * replaces the one set before.  "none" drops it.  Reset drops it too.
 */
static ssize_t backing_dev_store(struct device *dev,
				 struct device_attribute *attr,
				 const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_backing backing = { };
	size_t sz = len;
	char *path;
	int err;

	if (sz && buf[sz - 1] == '\n')
		sz--;
	if (!sz || sz >= PATH_MAX || rzs_has_nul(buf, sz))
		return -EINVAL;
	path = kstrndup(buf, sz, GFP_KERNEL);
	if (!path)
		return -ENOMEM;

	down_write(&rzs->init_lock);
	if (rzs_init_done(rzs)) {
		err = -EBUSY;
		goto out;
	}
	if (!strcmp(path, "none")) {
		rzs_backing_close(&rzs->backing);
		err = 0;
		goto out;
	}
	err = rzs_backing_open(&backing, path);
	if (err)
		goto out;
	rzs_backing_close(&rzs->backing);
	rzs->backing = backing;
	pr_info("%s: backing device %s, %lu pages\n", rzs->disk->disk_name,
		path, backing.nr_blocks);
out:
	up_write(&rzs->init_lock);
	kfree(path);
	return err ? err : len;
}

static ssize_t bd_stat_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	struct rzs_stats *st = &rzs->stats;
	const unsigned int shift = PAGE_SHIFT - 12;	/* in 4 KiB units */

	return sysfs_emit(buf, "%8llu %8llu %8llu\n",
			  (u64)atomic64_read(&st->bd_count) << shift,
			  (u64)atomic64_read(&st->bd_reads) << shift,
			  (u64)atomic64_read(&st->bd_writes) << shift);
}

/**
 * struct rzs_recomp_req - what one write to `recompress` asks for
 * @sel: RZS_SEL_IDLE and/or RZS_SEL_HUGE; 0 for every pool page
 * @threshold: only pages stored in at least this many bytes, and only a
 *	       result below it counts; 0 for none
 * @max_pages: pages to try at most; 0 for no limit
 * @prio: the one priority to use; 0 for each configured one in turn
 */
struct rzs_recomp_req {
	unsigned int sel;
	unsigned int threshold;
	u64 max_pages;
	int prio;
};

/*
 * Try to store @page (the content of entry @index, @old bytes now) smaller
 * with the algorithm of priority @prio.  Returns a new pool object in
 * *@handle and its size, 0 if that algorithm does not do better, or a
 * negative errno.  The stream is held across no sleeping allocation.
 */
static int rzs_recompress_one(struct ramzswap *rzs, int prio, struct page *page,
			      unsigned int old, unsigned int threshold,
			      unsigned long *handle)
{
	struct rzs_comp *comp = rzs->comp[prio];
	struct rzs_strm *strm;
	unsigned int len;
	void *src, *dst;
	int ret;

	strm = rzs_strm_get(comp);
	src = kmap_local_page(page);
	ret = rzs_compress(comp, strm, src, &len);
	kunmap_local(src);
	if (ret || len >= old || len >= RZS_HUGE_THRESHOLD ||
	    (threshold && len >= threshold)) {
		rzs_strm_put(strm);
		return ret;
	}
	ret = xv_malloc(rzs->pool, len, RZS_GFP_FAST, handle);
	if (!ret) {
		dst = xv_map(rzs->pool, *handle, XV_MM_WO);
		if (dst) {
			memcpy(dst, strm->buffer, len);
			xv_unmap(rzs->pool, *handle);
		} else {
			xv_free(rzs->pool, *handle);
			ret = -EIO;
		}
	}
	rzs_strm_put(strm);
	return ret ? ret : len;
}

/*
 * Recompress entry @index if it matches @req, through @page.  Each
 * configured secondary algorithm above the page's own is tried in
 * priority order (or only @req->prio) until one stores it smaller; a huge
 * page that none of them could shrink is marked incompressible and not
 * tried again.  pp_lock held.
 *
 * Return: 1 if the page was tried, 0 if it did not match, or -errno.
 */
static int rzs_recompress_slot(struct ramzswap *rzs, unsigned long index,
			       const struct rzs_recomp_req *req,
			       struct page *page)
{
	unsigned long handle = 0;
	unsigned int old = 0;
	int prio, cur = 0, len = 0, ret;
	bool claimed, huge = false;

	rzs_slot_lock(rzs, index);
	claimed = !rzs_test_flag(rzs, index, RZS_INCOMPRESSIBLE) &&
		  rzs_pp_claim(rzs, index, req->sel);
	if (claimed) {
		old = rzs_get_obj_size(rzs, index);
		cur = rzs_get_prio(rzs, index);
		huge = rzs_test_flag(rzs, index, RZS_HUGE);
		if (old < req->threshold || (req->prio && cur >= req->prio)) {
			rzs_clear_flag(rzs, index, RZS_PP);
			claimed = false;
		}
	}
	rzs_slot_unlock(rzs, index);
	if (!claimed)
		return 0;

	ret = rzs_read_slot(rzs, index, page, false, NULL);
	for (prio = cur + 1; !ret && !len && prio < RZS_MAX_COMPS; prio++) {
		if (!rzs->comp[prio] || (req->prio && prio != req->prio))
			continue;
		len = rzs_recompress_one(rzs, prio, page, old, req->threshold,
					 &handle);
		if (len < 0)
			ret = len;
	}

	rzs_slot_lock(rzs, index);
	if (!rzs_test_flag(rzs, index, RZS_PP)) {
		/* freed or rewritten meanwhile */
		if (len > 0)
			xv_free(rzs->pool, handle);
	} else if (len > 0) {
		rzs_free_slot(rzs, index);
		rzs->table[index].handle = handle;
		rzs_set_obj_size(rzs, index, len);
		rzs_set_flag(rzs, index, RZS_ALLOCATED);
		rzs_set_prio(rzs, index, prio - 1);
		atomic64_add(len, &rzs->stats.compr_data_size);
		atomic64_inc(&rzs->stats.pages_stored);
	} else {
		rzs_clear_flag(rzs, index, RZS_PP);
		if (!ret && huge && !req->prio)
			rzs_set_flag(rzs, index, RZS_INCOMPRESSIBLE);
	}
	rzs_slot_unlock(rzs, index);
	return ret ? ret : 1;
}

/* "[type=idle|huge|huge_idle] [threshold=B] [max_pages=N] [algo=A|priority=P]" */
static int rzs_parse_recompress(struct ramzswap *rzs, char *args,
				struct rzs_recomp_req *req)
{
	char *param, *val, *algo = NULL;
	int prio;

	memset(req, 0, sizeof(*req));
	args = skip_spaces(args);
	while (*args) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			return -EINVAL;
		if (!strcmp(param, "type")) {
			if (!strcmp(val, "idle"))
				req->sel = RZS_SEL_IDLE;
			else if (!strcmp(val, "huge"))
				req->sel = RZS_SEL_HUGE;
			else if (!strcmp(val, "huge_idle"))
				req->sel = RZS_SEL_IDLE | RZS_SEL_HUGE;
			else
				return -EINVAL;
		} else if (!strcmp(param, "threshold")) {
			if (kstrtouint(val, 10, &req->threshold) ||
			    !req->threshold || req->threshold > PAGE_SIZE)
				return -EINVAL;
		} else if (!strcmp(param, "max_pages")) {
			if (kstrtoull(val, 10, &req->max_pages))
				return -EINVAL;
		} else if (!strcmp(param, "algo")) {
			algo = val;
		} else if (!strcmp(param, "priority")) {
			if (kstrtoint(val, 10, &req->prio) ||
			    req->prio <= RZS_PRIMARY_COMP ||
			    req->prio >= RZS_MAX_COMPS)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	if (algo) {
		req->prio = rzs_prio_of(rzs, algo, RZS_PRIMARY_COMP + 1);
		if (req->prio < 0)
			return -EINVAL;
	}
	if (req->prio)
		return rzs->comp[req->prio] ? 0 : -EINVAL;
	for (prio = RZS_PRIMARY_COMP + 1; prio < RZS_MAX_COMPS; prio++)
		if (rzs->comp[prio])
			return 0;
	return -EINVAL;		/* no secondary algorithm */
}

static ssize_t recompress_store(struct device *dev,
				struct device_attribute *attr,
				const char *buf, size_t len)
{
	struct ramzswap *rzs = dev_to_rzs(dev);
	unsigned long index, nr_pages;
	struct rzs_recomp_req req;
	struct page *page;
	u64 tried = 0;
	char *copy;
	int ret;

	copy = rzs_args_dup(buf, len);
	if (IS_ERR(copy))
		return PTR_ERR(copy);

	down_read(&rzs->init_lock);
	ret = rzs_init_done(rzs) ? rzs_parse_recompress(rzs, copy, &req) :
				   -EINVAL;
	if (ret)
		goto out_unlock;
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		ret = -ENOMEM;
		goto out_unlock;
	}

	mutex_lock(&rzs->pp_lock);
	nr_pages = rzs->disksize >> PAGE_SHIFT;
	for (index = 0; index < nr_pages; index++) {
		if (req.max_pages && tried >= req.max_pages)
			break;
		ret = rzs_recompress_slot(rzs, index, &req, page);
		cond_resched();
		if (ret < 0)
			break;
		tried += ret;
		ret = 0;
	}
	mutex_unlock(&rzs->pp_lock);
	__free_page(page);
out_unlock:
	up_read(&rzs->init_lock);
	kfree(copy);
	return ret ? ret : len;
}

/* ---- debugfs: block_state ------------------------------------------------ */

static struct dentry *rzs_debugfs_root;

/*
 * zram's block_state: one line per stored page, "index  access-time  flags"
 * with the flags s(ame) w(ritten back) h(uge) i(dle) r(ecompressed)
 * n(o algorithm could compress it).  Access times are kept in whole
 * seconds here, so the microseconds read 000000.
 */
static ssize_t rzs_block_state_read(struct file *file, char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	struct ramzswap *rzs = file->private_data;
	unsigned long index, nr_pages;
	ssize_t written = 0;
	char *kbuf;

	count = min_t(size_t, count, SZ_64K);
	kbuf = kvmalloc(count, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;

	down_read(&rzs->init_lock);
	if (!rzs_init_done(rzs)) {
		up_read(&rzs->init_lock);
		kvfree(kbuf);
		return -EINVAL;
	}
	nr_pages = rzs->disksize >> PAGE_SHIFT;
	for (index = *ppos; index < nr_pages; index++, (*ppos)++) {
		int copied;

		rzs_slot_lock(rzs, index);
		if (!rzs_slot_stored(rzs, index)) {
			rzs_slot_unlock(rzs, index);
			continue;
		}
		copied = snprintf(kbuf + written, count - written,
				  "%12lu %12u.%06u %c%c%c%c%c%c\n", index,
				  rzs->ac_time[index], 0,
				  rzs_test_flag(rzs, index, RZS_SAME) ? 's' : '.',
				  rzs_test_flag(rzs, index, RZS_WB) ? 'w' : '.',
				  rzs_test_flag(rzs, index, RZS_HUGE) ? 'h' : '.',
				  rzs_test_flag(rzs, index, RZS_IDLE) ? 'i' : '.',
				  rzs_get_prio(rzs, index) ? 'r' : '.',
				  rzs_test_flag(rzs, index, RZS_INCOMPRESSIBLE) ?
				  'n' : '.');
		rzs_slot_unlock(rzs, index);
		if (copied >= count - written)
			break;		/* this line goes in the next read */
		written += copied;
	}
	up_read(&rzs->init_lock);

	if (copy_to_user(ubuf, kbuf, written))
		written = -EFAULT;
	kvfree(kbuf);
	return written;
}

static const struct file_operations rzs_block_state_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = rzs_block_state_read,
	.llseek = default_llseek,
};

static void rzs_debugfs_register(struct ramzswap *rzs)
{
	rzs->debugfs = debugfs_create_dir(rzs->disk->disk_name,
					  rzs_debugfs_root);
	debugfs_create_file("block_state", 0400, rzs->debugfs, rzs,
			    &rzs_block_state_fops);
}

static DEVICE_ATTR_RW(disksize);
static DEVICE_ATTR_RO(initstate);
static DEVICE_ATTR_WO(reset);
static DEVICE_ATTR_WO(compact);
static DEVICE_ATTR_RW(mem_limit);
static DEVICE_ATTR_RW(mem_used_max);
static DEVICE_ATTR_RW(comp_algorithm);
static DEVICE_ATTR_RW(max_comp_streams);
static DEVICE_ATTR_RO(mm_stat);
static DEVICE_ATTR_RO(io_stat);
static DEVICE_ATTR_RO(xv_stat);
static DEVICE_ATTR_RO(debug_stat);
static DEVICE_ATTR_WO(idle);
static DEVICE_ATTR_RW(backing_dev);
static DEVICE_ATTR_WO(writeback);
static DEVICE_ATTR_RW(writeback_limit);
static DEVICE_ATTR_RW(writeback_limit_enable);
static DEVICE_ATTR_RO(bd_stat);
static DEVICE_ATTR_RW(recomp_algorithm);
static DEVICE_ATTR_WO(recompress);
static DEVICE_ATTR_WO(algorithm_params);

static struct attribute *rzs_disk_attrs[] = {
	&dev_attr_disksize.attr,
	&dev_attr_initstate.attr,
	&dev_attr_reset.attr,
	&dev_attr_compact.attr,
	&dev_attr_mem_limit.attr,
	&dev_attr_mem_used_max.attr,
	&dev_attr_comp_algorithm.attr,
	&dev_attr_max_comp_streams.attr,
	&dev_attr_mm_stat.attr,
	&dev_attr_io_stat.attr,
	&dev_attr_xv_stat.attr,
	&dev_attr_debug_stat.attr,
	&dev_attr_idle.attr,
	&dev_attr_backing_dev.attr,
	&dev_attr_writeback.attr,
	&dev_attr_writeback_limit.attr,
	&dev_attr_writeback_limit_enable.attr,
	&dev_attr_bd_stat.attr,
	&dev_attr_recomp_algorithm.attr,
	&dev_attr_recompress.attr,
	&dev_attr_algorithm_params.attr,
	NULL,
};
ATTRIBUTE_GROUPS(rzs_disk);

/* ---- devices ------------------------------------------------------------ */

/* Create a device; rzs_index_mutex held.  Returns its id or -errno. */
static int rzs_add(void)
{
	struct ramzswap *rzs;
	int ret, id;

	rzs = kzalloc(sizeof(*rzs), GFP_KERNEL);
	if (!rzs)
		return -ENOMEM;

	ret = idr_alloc(&rzs_index_idr, rzs, 0, RZS_MAX_DEVICES, GFP_KERNEL);
	if (ret < 0)
		goto out_free;
	id = ret;

	init_rwsem(&rzs->init_lock);
	mutex_init(&rzs->compact_lock);
	mutex_init(&rzs->pp_lock);
	spin_lock_init(&rzs->wb_limit_lock);
	rzs_comp_config_reset(rzs);
	rzs_comp_set(rzs, RZS_PRIMARY_COMP, rzs_default_comp);

	rzs->disk = rzs_alloc_disk(logical_block_size);
	if (IS_ERR(rzs->disk)) {
		ret = PTR_ERR(rzs->disk);
		goto out_remove_id;
	}
	rzs->disk->major = rzs_major;
	rzs->disk->first_minor = id;
	rzs->disk->minors = 1;
	rzs->disk->flags |= GENHD_FL_NO_PART;
	rzs->disk->fops = &rzs_devops;
	rzs->disk->private_data = rzs;
	snprintf(rzs->disk->disk_name, DISK_NAME_LEN, "ramzswap%d", id);
	set_capacity(rzs->disk, 0);

	ret = device_add_disk(NULL, rzs->disk, rzs_disk_groups);
	if (ret)
		goto out_put_disk;

	rzs_debugfs_register(rzs);
	pr_info("added device %s\n", rzs->disk->disk_name);
	return id;

out_put_disk:
	put_disk(rzs->disk);
out_remove_id:
	idr_remove(&rzs_index_idr, id);
out_free:
	kfree(rzs);
	return ret;
}

/* Remove a device unless it is open; rzs_index_mutex held. */
static int rzs_remove(struct ramzswap *rzs)
{
	bool claimed;

	mutex_lock(&rzs->disk->open_mutex);
	if (disk_openers(rzs->disk)) {
		mutex_unlock(&rzs->disk->open_mutex);
		return -EBUSY;
	}
	claimed = rzs->claim;
	rzs->claim = true;
	mutex_unlock(&rzs->disk->open_mutex);

	/*
	 * If reset_store() holds the claim, del_gendisk() waits for it (it
	 * drains sysfs); otherwise reset here.
	 */
	if (!claimed) {
		sync_blockdev(rzs->disk->part0);
		rzs_reset_device(rzs);
	}

	pr_info("removed device %s\n", rzs->disk->disk_name);
	debugfs_remove_recursive(rzs->debugfs);
	del_gendisk(rzs->disk);
	/* disksize_store() may have run before del_gendisk(): reset again. */
	rzs_reset_device(rzs);
	put_disk(rzs->disk);
	kfree(rzs);
	return 0;
}

/*
 * Reading hot_add creates a device and returns its id; it is 0400 as in
 * zram, because a read changes the system.
 */
static ssize_t hot_add_show(rzs_class_const struct class *class,
			    rzs_class_const struct class_attribute *attr, char *buf)
{
	int ret;

	mutex_lock(&rzs_index_mutex);
	ret = rzs_add();
	mutex_unlock(&rzs_index_mutex);
	if (ret < 0)
		return ret;
	return sysfs_emit(buf, "%d\n", ret);
}

static struct class_attribute class_attr_hot_add =
	__ATTR(hot_add, 0400, hot_add_show, NULL);

static ssize_t hot_remove_store(rzs_class_const struct class *class,
				rzs_class_const struct class_attribute *attr,
				const char *buf, size_t count)
{
	struct ramzswap *rzs;
	int ret, id;

	if (rzs_has_nul(buf, count) || kstrtoint(buf, 10, &id) || id < 0)
		return -EINVAL;

	mutex_lock(&rzs_index_mutex);
	rzs = idr_find(&rzs_index_idr, id);
	if (rzs) {
		ret = rzs_remove(rzs);
		if (!ret)
			idr_remove(&rzs_index_idr, id);
	} else {
		ret = -ENODEV;
	}
	mutex_unlock(&rzs_index_mutex);
	return ret ? ret : count;
}
static CLASS_ATTR_WO(hot_remove);

static struct attribute *rzs_control_class_attrs[] = {
	&class_attr_hot_add.attr,
	&class_attr_hot_remove.attr,
	NULL,
};
ATTRIBUTE_GROUPS(rzs_control_class);

static rzs_class_const struct class rzs_control_class = {
	.name = "ramzswap-control",
	.class_groups = rzs_control_class_groups,
};

static int rzs_remove_cb(int id, void *ptr, void *data)
{
	/* Module refcount: no device can be open when we get here. */
	WARN_ON_ONCE(rzs_remove(ptr));
	return 0;
}

static void rzs_destroy_devices(void)
{
	mutex_lock(&rzs_index_mutex);
	idr_for_each(&rzs_index_idr, rzs_remove_cb, NULL);
	idr_destroy(&rzs_index_idr);
	mutex_unlock(&rzs_index_mutex);
}

static const char *rzs_pick_default_comp(void)
{
	static const char * const prefs[] = { "lzo-rle", "lzo", "lz4", "zstd" };
	int i;

	for (i = 0; i < ARRAY_SIZE(prefs); i++)
		if (rzs_comp_available(prefs[i]))
			return prefs[i];
	return NULL;
}

static int __init rzs_init(void)
{
	unsigned int i;
	int ret;

	BUILD_BUG_ON(__NR_RZS_PAGEFLAGS > BITS_PER_LONG);
	BUILD_BUG_ON(RZS_HUGE_THRESHOLD >= PAGE_SIZE);

	if (num_devices < 1 || num_devices > RZS_MAX_DEVICES) {
		pr_err("num_devices=%u is out of range (1-%d)\n", num_devices,
		       RZS_MAX_DEVICES);
		return -EINVAL;
	}
	if (logical_block_size != 512 && logical_block_size != 4096) {
		pr_err("logical_block_size=%u must be 512 or 4096\n",
		       logical_block_size);
		return -EINVAL;
	}
	rzs_default_comp = rzs_pick_default_comp();
	if (!rzs_default_comp) {
		pr_err("no compression algorithm available\n");
		return -ENODEV;
	}

	ret = rzs_backing_init();
	if (ret)
		return ret;
	ret = rzs_comp_init();
	if (ret) {
		pr_err("cannot register the CPU hotplug state: %d\n", ret);
		rzs_backing_exit();
		return ret;
	}

	rzs_major = register_blkdev(0, "ramzswap");
	if (rzs_major < 0) {
		pr_err("cannot register a block major: %d\n", rzs_major);
		rzs_comp_exit();
		rzs_backing_exit();
		return rzs_major;
	}
	rzs_debugfs_root = debugfs_create_dir("ramzswap", NULL);

	for (i = 0; i < num_devices; i++) {
		mutex_lock(&rzs_index_mutex);
		ret = rzs_add();
		mutex_unlock(&rzs_index_mutex);
		if (ret < 0)
			goto out_devices;
	}

	/* Last: hot_add must not run before the major is known. */
	ret = class_register(&rzs_control_class);
	if (ret) {
		pr_err("cannot register the ramzswap-control class: %d\n", ret);
		goto out_devices;
	}
	return 0;

out_devices:
	rzs_destroy_devices();
	debugfs_remove_recursive(rzs_debugfs_root);
	unregister_blkdev(rzs_major, "ramzswap");
	rzs_comp_exit();
	rzs_backing_exit();
	return ret;
}

static void __exit rzs_exit(void)
{
	/* No hot_add or hot_remove from here on. */
	class_unregister(&rzs_control_class);
	rzs_destroy_devices();
	debugfs_remove_recursive(rzs_debugfs_root);
	unregister_blkdev(rzs_major, "ramzswap");
	rzs_comp_exit();
	rzs_backing_exit();
}

module_init(rzs_init);
module_exit(rzs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The ramzswap authors");
MODULE_DESCRIPTION("Compressed RAM block device on top of xvmalloc");
MODULE_VERSION(RAMZSWAP_VERSION);
