// SPDX-License-Identifier: GPL-2.0
/*
 * xvmalloc - an O(1) allocator for compressed pages
 *
 * Objects of 1 to PAGE_SIZE bytes live in pages that come, where the
 * machine has it, from high memory.  They are named by opaque handles and
 * reached through xv_map()/xv_unmap() or copied with xv_read()/xv_write().
 *
 * Design
 *
 * Areas.  The pool grows by areas of XV_AREA_PAGES (4) order-0 pages that
 * need not be contiguous, allocated with the caller's gfp plus
 * __GFP_HIGHMEM.  Each area is one linear space of XV_AREA_SIZE (16 KiB)
 * bytes in which blocks are laid end to end and may cross page boundaries,
 * so an object larger than PAGE_SIZE / 2 no longer pins a page that only
 * small objects could share (the fragmentation of the 2009 allocator,
 * where a block could not leave its page).  An area that becomes entirely
 * free goes back to the page allocator at once.  Areas are numbered; the
 * pool's area table (a directory of one-page chunks of struct xv_area,
 * each the list of an area's pages) turns an id into its pages in O(1)
 * without taking the pool lock.
 *
 * Addresses.  A block is named by a u32 "block address": area id << 12 |
 * offset / 4.  Handles are block addresses (so 0 is never a valid handle)
 * and so are the free-list links kept inside free blocks.  Ids are
 * recycled LIFO through the table's free slots; at most 2^20 - 1 areas
 * (16 GiB) per pool.
 *
 * Blocks.  Each block starts with a u32 header: free flag, prev-free flag,
 * block size in 4-byte units and, for an allocated block, the exact size
 * asked for (xv_obj_size() returns it), so the per-object overhead is the
 * 4-byte header plus rounding to 4 bytes (and, rarely, a tail of under 16
 * bytes too small to split off).  A free block (16 bytes at least) holds
 * after its header the next and previous block addresses of its free list
 * and in its last u32 a copy of its header (footer), which the following
 * block finds when its prev-free flag is set.  Blocks are 4-byte aligned,
 * so no u32 field ever straddles a page: header, link and footer accesses
 * kmap_local_page() the one page holding the field, touch it and unmap it
 * at once, never sleeping in between.
 *
 * Free lists.  Two-level segregated fit (Masmano et al., 2004): the first
 * level splits sizes by power of two, the second divides each power of
 * two into 32 linear ranges (sizes below 128 bytes get one list per 4-byte
 * size).  A bitmap per level and find-first-set pick the first non-empty
 * list whose every block fits (after checking the head of the request's
 * own list), so xv_malloc() and xv_free() do a bounded number of steps,
 * at most 3 list removals or insertions and about 30 word accesses,
 * whatever the size of the pool.  Neighbours are coalesced at once on
 * free: no two free blocks are ever adjacent.  On a split the object
 * takes the front of the free block, or its end when only that keeps the
 * object within one page.
 *
 * Mapping.  An object inside one page is mapped with kmap_local_page().
 * One that crosses a page boundary is copied into a per-CPU bounce buffer
 * of PAGE_SIZE bytes (in for XV_MM_RW and XV_MM_RO) and back on xv_unmap()
 * (for XV_MM_RW and XV_MM_WO).  Between xv_map() and xv_unmap() preemption
 * is disabled and a CPU holds at most one mapping.  The per-CPU state is a
 * plain per-CPU structure reached with get_cpu_ptr() (no local_lock_t:
 * lockdep keys in a module's per-CPU memory are a known trap).
 *
 * Locking.  One spinlock per pool, taken with interrupts disabled, so any
 * context whose gfp allows the allocation may call xv_malloc() and
 * xv_free().  To grow, xv_malloc() drops the lock, allocates pages (and
 * rarely a table chunk) with the caller's gfp, retakes the lock and looks
 * again before installing the new area: with GFP_NOWAIT it never sleeps.
 * xv_map(), xv_read(), xv_write() and xv_obj_size() take no lock: a live
 * object's header changes only in its prev-free bit, written whole under
 * the lock.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/cpuhotplug.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "xvmalloc_int.h"

/* ---- block addresses, headers, size classes --------------------------- */

static u32 xv_addr(u32 id, u32 off)
{
	return id << XV_OFF_BITS | off >> XV_ALIGN_SHIFT;
}

static u32 xv_addr_id(u32 addr)
{
	return addr >> XV_OFF_BITS;
}

static u32 xv_addr_off(u32 addr)
{
	return (addr & XV_OFF_MASK) << XV_ALIGN_SHIFT;
}

static u32 xv_hdr_bsize(u32 hdr)
{
	return ((hdr >> XV_HDR_BSIZE_SHIFT) & XV_HDR_BSIZE_MASK) << XV_ALIGN_SHIFT;
}

static u32 xv_hdr_osize(u32 hdr)
{
	return (hdr >> XV_HDR_OSIZE_SHIFT) & XV_HDR_OSIZE_MASK;
}

static u32 xv_hdr_free(u32 bsize)
{
	return XV_HDR_FREE | (bsize >> XV_ALIGN_SHIFT) << XV_HDR_BSIZE_SHIFT;
}

static u32 xv_hdr_used(u32 bsize, u32 osize, u32 prev_free)
{
	return prev_free | (bsize >> XV_ALIGN_SHIFT) << XV_HDR_BSIZE_SHIFT |
	       osize << XV_HDR_OSIZE_SHIFT;
}

/* Bytes of the block holding an object of @size bytes. */
static u32 xv_block_size(u32 size)
{
	return max(round_up(size + XV_HDR_SIZE, XV_ALIGN), XV_MIN_BLOCK);
}

/* Does [off, off + len) of an area cross a page boundary? */
static bool xv_crosses(u32 off, u32 len)
{
	return (off >> PAGE_SHIFT) != ((off + len - 1) >> PAGE_SHIFT);
}

/* The list a free block of @size bytes belongs on. */
static void xv_class(u32 size, u32 *fl, u32 *sl)
{
	u32 t;

	if (size < XV_SMALL_BLOCK) {
		*fl = 0;
		*sl = size >> XV_ALIGN_SHIFT;
		return;
	}
	t = __fls(size);
	*sl = (size >> (t - XV_SL_LOG2)) ^ XV_SL_COUNT;
	*fl = t - XV_FL_SHIFT + 1;
}

/* ---- the area table ---------------------------------------------------- */

static struct xv_area *xv_area_of(struct xv_pool *pool, u32 id)
{
	struct xv_area *chunk = READ_ONCE(pool->dir[id / XV_CHUNK_AREAS]);

	return &chunk[id % XV_CHUNK_AREAS];
}

static bool xv_slot_free(const struct xv_area *area)
{
	return READ_ONCE(area->next_free) & 1;
}

/* The area with id @id if it is in use, else NULL. */
static struct xv_area *xv_area_get(struct xv_pool *pool, u32 id)
{
	struct xv_area *area;

	if (!id || id >= READ_ONCE(pool->next_id))
		return NULL;
	area = xv_area_of(pool, id);
	return xv_slot_free(area) ? NULL : area;
}

/* ---- word access inside an area ---------------------------------------- */

static u32 xv_rd(const struct xv_area *area, u32 off)
{
	u32 *p = kmap_local_page(area->pages[off >> PAGE_SHIFT]) + offset_in_page(off);
	u32 val = READ_ONCE(*p);

	kunmap_local(p);
	return val;
}

static void xv_wr(const struct xv_area *area, u32 off, u32 val)
{
	u32 *p = kmap_local_page(area->pages[off >> PAGE_SHIFT]) + offset_in_page(off);

	WRITE_ONCE(*p, val);
	kunmap_local(p);
}

/* Set field @field of the free block at @addr (another area, maybe). */
static void xv_wr_link(struct xv_pool *pool, u32 addr, u32 field, u32 val)
{
	xv_wr(xv_area_of(pool, xv_addr_id(addr)), xv_addr_off(addr) + field, val);
}

/* Copy @len bytes at @off of an area (two pages at most) to @dst. */
static void xv_copy_from(const struct xv_area *area, u32 off, u32 len, void *dst)
{
	u32 pg = off >> PAGE_SHIFT, poff = offset_in_page(off);
	u32 first = min_t(u32, len, PAGE_SIZE - poff);

	memcpy_from_page(dst, area->pages[pg], poff, first);
	if (first < len)
		memcpy_from_page((char *)dst + first, area->pages[pg + 1], 0, len - first);
}

static void xv_copy_to(const struct xv_area *area, u32 off, u32 len, const void *src)
{
	u32 pg = off >> PAGE_SHIFT, poff = offset_in_page(off);
	u32 first = min_t(u32, len, PAGE_SIZE - poff);

	memcpy_to_page(area->pages[pg], poff, src, first);
	if (first < len)
		memcpy_to_page(area->pages[pg + 1], 0, (const char *)src + first, len - first);
}

/* ---- free lists --------------------------------------------------------- */

static void xv_list_insert(struct xv_pool *pool, const struct xv_area *area,
			   u32 addr, u32 bsize)
{
	u32 fl, sl, head, off = xv_addr_off(addr);

	xv_class(bsize, &fl, &sl);
	head = pool->free_lists[fl][sl];
	xv_wr(area, off + XV_NEXT_OFF, head);
	xv_wr(area, off + XV_PREV_OFF, 0);
	if (head)
		xv_wr_link(pool, head, XV_PREV_OFF, addr);
	pool->free_lists[fl][sl] = addr;
	pool->sl_bitmap[fl] |= 1U << sl;
	pool->fl_bitmap |= 1U << fl;
	xv_trace_listop(pool);
}

static void xv_list_remove(struct xv_pool *pool, const struct xv_area *area,
			   u32 addr, u32 bsize)
{
	u32 fl, sl, off = xv_addr_off(addr);
	u32 next = xv_rd(area, off + XV_NEXT_OFF);
	u32 prev = xv_rd(area, off + XV_PREV_OFF);

	xv_class(bsize, &fl, &sl);
	if (next)
		xv_wr_link(pool, next, XV_PREV_OFF, prev);
	if (prev) {
		xv_wr_link(pool, prev, XV_NEXT_OFF, next);
	} else {
		pool->free_lists[fl][sl] = next;
		if (!next) {
			pool->sl_bitmap[fl] &= ~(1U << sl);
			if (!pool->sl_bitmap[fl])
				pool->fl_bitmap &= ~(1U << fl);
		}
	}
	xv_trace_listop(pool);
}

/* Write the header and footer of a free block and put it on its list. */
static void xv_make_free(struct xv_pool *pool, const struct xv_area *area,
			 u32 id, u32 off, u32 bsize)
{
	u32 hdr = xv_hdr_free(bsize);

	xv_wr(area, off, hdr);
	xv_wr(area, off + bsize - XV_HDR_SIZE, hdr);
	xv_list_insert(pool, area, xv_addr(id, off), bsize);
}

/*
 * A free block of at least @need bytes (its size goes to @bsize), or 0.
 * Looks at the head of the list @need belongs to, then at the first
 * non-empty list above it, all of whose blocks are large enough.
 */
static u32 xv_find(struct xv_pool *pool, u32 need, u32 *bsize)
{
	u32 fl, sl, addr, map;

	xv_class(need, &fl, &sl);
	addr = pool->free_lists[fl][sl];
	if (addr) {
		*bsize = xv_hdr_bsize(xv_rd(xv_area_of(pool, xv_addr_id(addr)),
					    xv_addr_off(addr)));
		if (*bsize >= need)
			return addr;
	}
	if (++sl == XV_SL_COUNT) {
		sl = 0;
		fl++;
	}
	map = fl < XV_FL_COUNT ? pool->sl_bitmap[fl] & (~0U << sl) : 0;
	if (!map) {
		map = pool->fl_bitmap & (~0U << (fl + 1));
		if (!map)
			return 0;
		fl = __ffs(map);
		map = pool->sl_bitmap[fl];
	}
	addr = pool->free_lists[fl][__ffs(map)];
	*bsize = xv_hdr_bsize(xv_rd(xv_area_of(pool, xv_addr_id(addr)), xv_addr_off(addr)));
	return addr;
}

/*
 * Carve an object of @size bytes (a block of @need bytes) out of the free
 * block at @addr of @bsize bytes, off the lists if @listed.  Returns the
 * object's block address.
 */
static u32 xv_take(struct xv_pool *pool, u32 addr, u32 bsize, bool listed,
		   u32 need, u32 size)
{
	u32 id = xv_addr_id(addr), off = xv_addr_off(addr);
	const struct xv_area *area = xv_area_of(pool, id);
	u32 end = off + bsize, rest = bsize - need;

	if (listed)
		xv_list_remove(pool, area, addr, bsize);
	pool->objects++;
	pool->bytes_requested += size;

	if (rest < XV_MIN_BLOCK) {
		/* Whole block; the one after it no longer follows a free one. */
		xv_wr(area, off, xv_hdr_used(bsize, size, 0));
		if (end < XV_AREA_SIZE)
			xv_wr(area, end, xv_rd(area, end) & ~XV_HDR_PREV_FREE);
		return addr;
	}
	if (XV_AVOID_CROSSING &&
	    xv_crosses(off + XV_HDR_SIZE, size) &&
	    !xv_crosses(end - need + XV_HDR_SIZE, size)) {
		/* Object at the end, free rest in front. */
		xv_make_free(pool, area, id, off, rest);
		xv_wr(area, off + rest, xv_hdr_used(need, size, XV_HDR_PREV_FREE));
		if (end < XV_AREA_SIZE)
			xv_wr(area, end, xv_rd(area, end) & ~XV_HDR_PREV_FREE);
		return xv_addr(id, off + rest);
	}
	/* Object in front, free rest behind: the next block keeps PREV_FREE. */
	xv_wr(area, off, xv_hdr_used(need, size, 0));
	xv_make_free(pool, area, id, off + need, rest);
	return addr;
}

/* ---- growth ------------------------------------------------------------- */

/* What xv_malloc() allocated with the lock dropped, not yet installed. */
struct xv_grow {
	struct page *pages[XV_AREA_PAGES];
	struct xv_area *chunk;
	bool have_pages;
};

/* Test hook: should this internal allocation fail? */
static bool xv_fail_now(struct xv_pool *pool)
{
	return atomic_read(&pool->fail_nth) && atomic_dec_and_test(&pool->fail_nth);
}

static bool xv_ids_exhausted(struct xv_pool *pool)
{
	return !pool->free_id && pool->next_id > XV_MAX_AREAS;
}

/* Does taking a new id need a table chunk we do not have? */
static bool xv_need_chunk(struct xv_pool *pool, const struct xv_grow *g)
{
	return !pool->free_id && !g->chunk && !pool->dir[pool->next_id / XV_CHUNK_AREAS];
}

static void xv_grow_release(struct xv_grow *g)
{
	unsigned int i;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (g->pages[i])
			__free_page(g->pages[i]);
		g->pages[i] = NULL;
	}
	g->have_pages = false;
	kfree(g->chunk);
	g->chunk = NULL;
}

/* Called without the lock: allocate the pages and, if @chunk, a chunk. */
static int xv_grow_alloc(struct xv_pool *pool, struct xv_grow *g, bool chunk,
			 gfp_t flags)
{
	gfp_t gfp = flags & ~(GFP_ZONEMASK | __GFP_COMP | __GFP_ZERO);
	unsigned int i;

	if (chunk) {
		if (!xv_fail_now(pool))
			g->chunk = kzalloc(PAGE_SIZE, gfp);
		if (!g->chunk)
			return -ENOMEM;
	}
	if (g->have_pages)
		return 0;
	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (!xv_fail_now(pool))
			g->pages[i] = alloc_page(gfp | __GFP_HIGHMEM);
		if (!g->pages[i]) {
			xv_grow_release(g);
			return -ENOMEM;
		}
	}
	g->have_pages = true;
	return 0;
}

/*
 * Under the lock: give the grown pages an id and return the address of
 * the area's single free block (not on any list).
 */
static u32 xv_install(struct xv_pool *pool, struct xv_grow *g)
{
	struct xv_area *area;
	unsigned int i;
	u32 id;

	if (pool->free_id) {
		id = pool->free_id;
		area = xv_area_of(pool, id);
		pool->free_id = area->next_free >> 1;
	} else {
		id = pool->next_id;
		if (!pool->dir[id / XV_CHUNK_AREAS]) {
			WRITE_ONCE(pool->dir[id / XV_CHUNK_AREAS], g->chunk);
			g->chunk = NULL;
		}
		area = xv_area_of(pool, id);
		WRITE_ONCE(pool->next_id, id + 1);
	}
	for (i = 0; i < XV_AREA_PAGES; i++) {
		area->pages[i] = g->pages[i];
		if (PageHighMem(g->pages[i]))
			pool->pages_highmem++;
		g->pages[i] = NULL;
	}
	g->have_pages = false;
	pool->nr_areas++;
	pool->pages_total += XV_AREA_PAGES;
	xv_wr(area, 0, xv_hdr_free(XV_AREA_SIZE));
	return xv_addr(id, 0);
}

/* Under the lock: take area @id out of the table; its pages go to @pages. */
static void xv_uninstall(struct xv_pool *pool, u32 id, struct page **pages)
{
	struct xv_area *area = xv_area_of(pool, id);
	unsigned int i;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		pages[i] = area->pages[i];
		if (PageHighMem(pages[i]))
			pool->pages_highmem--;
		area->pages[i] = NULL;
	}
	WRITE_ONCE(area->next_free, (unsigned long)pool->free_id << 1 | 1);
	pool->free_id = id;
	pool->nr_areas--;
	pool->pages_total -= XV_AREA_PAGES;
}

/* ---- API ---------------------------------------------------------------- */

/**
 * xv_create_pool() - create an empty pool
 * @name: name used in messages; copied
 *
 * Context: process context; allocates with GFP_KERNEL.
 * Return: the pool, or NULL if memory ran out.
 */
struct xv_pool *xv_create_pool(const char *name)
{
	struct xv_pool *pool;

	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return NULL;
	pool->name = kstrdup(name ? name : "xvmalloc", GFP_KERNEL);
	pool->dir = kvcalloc(XV_DIR_LEN, sizeof(*pool->dir), GFP_KERNEL);
	if (!pool->name || !pool->dir) {
		kvfree(pool->dir);
		kfree(pool->name);
		kfree(pool);
		return NULL;
	}
	spin_lock_init(&pool->lock);
	pool->next_id = 1;
	atomic_set(&pool->fail_nth, 0);
	return pool;
}
EXPORT_SYMBOL_GPL(xv_create_pool);

/**
 * xv_destroy_pool() - free a pool and all its pages
 * @pool: the pool, or NULL
 *
 * Warns (once) if objects are still allocated; frees them anyway.  No
 * other call on @pool may run or follow.
 *
 * Context: process context.
 */
void xv_destroy_pool(struct xv_pool *pool)
{
	struct xv_area *area;
	unsigned int i;
	u32 id;

	if (!pool)
		return;
	WARN_ONCE(pool->objects, "xvmalloc: pool %s destroyed with %llu objects (%llu bytes)\n",
		  pool->name, pool->objects, pool->bytes_requested);
	for (id = 1; id < pool->next_id; id++) {
		area = xv_area_of(pool, id);
		if (xv_slot_free(area))
			continue;
		for (i = 0; i < XV_AREA_PAGES; i++)
			__free_page(area->pages[i]);
	}
	for (i = 0; i < XV_DIR_LEN; i++)
		kfree(pool->dir[i]);
	kvfree(pool->dir);
	kfree(pool->name);
	kfree(pool);
}
EXPORT_SYMBOL_GPL(xv_destroy_pool);

/**
 * xv_malloc() - allocate an object
 * @pool: the pool
 * @size: its size in bytes, 1 to %XV_MAX_ALLOC_SIZE
 * @flags: gfp flags for growing the pool; zone modifiers and __GFP_COMP
 *	are ignored (pool pages always come with __GFP_HIGHMEM)
 * @handle: set to the object's handle on success, to 0 on failure
 *
 * Takes a bounded number of steps when the pool has room; otherwise the
 * pool grows by one area, allocated with @flags with the pool lock
 * dropped.
 *
 * Context: any context @flags allows; never sleeps unless @flags does.
 * Return: 0, -EINVAL if @size is 0 or too large, -ENOMEM if the pool
 * could not grow (counted in alloc_failures).
 */
int xv_malloc(struct xv_pool *pool, size_t size, gfp_t flags,
	      unsigned long *handle)
{
	struct xv_grow grow = {};
	unsigned long irqflags;
	u32 need, bsize, addr = 0;
	bool failed = false, chunk;

	*handle = 0;
	if (!size || size > XV_MAX_OBJ)
		return -EINVAL;
	might_sleep_if(gfpflags_allow_blocking(flags));
	need = xv_block_size(size);

	spin_lock_irqsave(&pool->lock, irqflags);
	for (;;) {
		addr = xv_find(pool, need, &bsize);
		if (addr) {
			addr = xv_take(pool, addr, bsize, true, need, size);
			break;
		}
		if (failed || xv_ids_exhausted(pool)) {
			pool->alloc_failures++;
			break;
		}
		if (grow.have_pages && !xv_need_chunk(pool, &grow)) {
			addr = xv_install(pool, &grow);
			addr = xv_take(pool, addr, XV_AREA_SIZE, false, need, size);
			break;
		}
		/* Grow without the lock, then look again: others run meanwhile. */
		chunk = xv_need_chunk(pool, &grow);
		spin_unlock_irqrestore(&pool->lock, irqflags);
		failed = xv_grow_alloc(pool, &grow, chunk, flags) < 0;
		spin_lock_irqsave(&pool->lock, irqflags);
	}
	spin_unlock_irqrestore(&pool->lock, irqflags);
	xv_grow_release(&grow);
	*handle = addr;
	return addr ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_GPL(xv_malloc);

/**
 * xv_free() - free an object
 * @pool: the pool
 * @handle: from xv_malloc(); 0 is ignored
 *
 * Coalesces the block with free neighbours; an area left entirely free
 * goes back to the page allocator.  The object must not be mapped.
 *
 * Context: any context.
 */
void xv_free(struct xv_pool *pool, unsigned long handle)
{
	struct page *pages[XV_AREA_PAGES] = {};
	u32 id = xv_addr_id(handle), off = xv_addr_off(handle);
	struct xv_area *area;
	unsigned long irqflags;
	u32 hdr, bsize, nhdr;
	unsigned int i;

	if (!handle)
		return;
	spin_lock_irqsave(&pool->lock, irqflags);
	area = upper_32_bits(handle) ? NULL : xv_area_get(pool, id);
	hdr = area ? xv_rd(area, off) : XV_HDR_FREE;
	if (WARN_ONCE(hdr & XV_HDR_FREE, "xvmalloc: pool %s: bad handle %#lx freed\n",
		      pool->name, handle))
		goto unlock;

	bsize = xv_hdr_bsize(hdr);
	pool->objects--;
	pool->bytes_requested -= xv_hdr_osize(hdr);
	if (hdr & XV_HDR_PREV_FREE) {
		u32 psize = xv_hdr_bsize(xv_rd(area, off - XV_HDR_SIZE));

		off -= psize;
		bsize += psize;
		xv_list_remove(pool, area, xv_addr(id, off), psize);
	}
	if (off + bsize < XV_AREA_SIZE) {
		nhdr = xv_rd(area, off + bsize);
		if (nhdr & XV_HDR_FREE) {
			xv_list_remove(pool, area, xv_addr(id, off + bsize), xv_hdr_bsize(nhdr));
			bsize += xv_hdr_bsize(nhdr);
		} else {
			xv_wr(area, off + bsize, nhdr | XV_HDR_PREV_FREE);
		}
	}
	if (bsize == XV_AREA_SIZE)
		xv_uninstall(pool, id, pages);
	else
		xv_make_free(pool, area, id, off, bsize);
unlock:
	spin_unlock_irqrestore(&pool->lock, irqflags);
	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (pages[i])
			__free_page(pages[i]);
	}
}
EXPORT_SYMBOL_GPL(xv_free);

/*
 * The area of a live object, the offset of its data in the area and its
 * size, or NULL (with a warning) if @handle names no live object.
 */
static struct xv_area *xv_obj(struct xv_pool *pool, unsigned long handle,
			      u32 *off, u32 *size)
{
	struct xv_area *area = NULL;
	u32 hdr = XV_HDR_FREE;

	if (!upper_32_bits(handle))
		area = xv_area_get(pool, xv_addr_id(handle));
	if (area)
		hdr = xv_rd(area, xv_addr_off(handle));
	if (WARN_ONCE(hdr & XV_HDR_FREE, "xvmalloc: pool %s: bad handle %#lx\n",
		      pool->name, handle))
		return NULL;
	*off = xv_addr_off(handle) + XV_HDR_SIZE;
	*size = xv_hdr_osize(hdr);
	return area;
}

/* Per-CPU state of the one mapping a CPU may hold. */
struct xv_map_state {
	char *buf;			/* PAGE_SIZE bounce buffer */
	void *kaddr;			/* kmap_local address, or NULL if bounced */
	struct xv_pool *pool;		/* non-NULL while mapped */
	struct xv_area *area;
	unsigned long handle;
	u32 off;
	u32 size;
	enum xv_mapmode mm;
};

static DEFINE_PER_CPU(struct xv_map_state, xv_map_state);

/**
 * xv_map() - map an object for access
 * @pool: the pool
 * @handle: a live object
 * @mm: %XV_MM_RW, %XV_MM_RO or %XV_MM_WO
 *
 * Returns the address of the object's xv_obj_size() bytes.  An object
 * within one page is mapped in place with kmap_local_page(); one that
 * crosses a page boundary is copied into a per-CPU buffer (unless @mm is
 * %XV_MM_WO) and copied back by xv_unmap() (unless @mm is %XV_MM_RO).
 *
 * Preemption stays disabled until xv_unmap(), which must come before the
 * caller sleeps, on the same CPU.  A CPU may hold one mapping at a time:
 * do not map from interrupt context while a task may hold a mapping.
 * Local mappings (kmap_local_page()) taken after xv_map() must be undone
 * before xv_unmap().  The object must not be freed while mapped.
 *
 * Context: any context but as above; disables preemption.
 * Return: the address, or NULL if @handle is not a live object or this CPU
 * already holds a mapping (both bugs; a warning is printed).
 */
void *xv_map(struct xv_pool *pool, unsigned long handle, enum xv_mapmode mm)
{
	struct xv_map_state *st;
	struct xv_area *area;
	u32 off, size;

	area = xv_obj(pool, handle, &off, &size);
	if (!area)
		return NULL;
	st = get_cpu_ptr(&xv_map_state);
	if (WARN_ONCE(st->pool, "xvmalloc: nested %s() on one CPU\n", __func__)) {
		put_cpu_ptr(&xv_map_state);
		return NULL;
	}
	st->pool = pool;
	st->area = area;
	st->handle = handle;
	st->off = off;
	st->size = size;
	st->mm = mm;
	if (!xv_crosses(off, size)) {
		st->kaddr = kmap_local_page(area->pages[off >> PAGE_SHIFT]) +
			    offset_in_page(off);
		return st->kaddr;
	}
	st->kaddr = NULL;
	if (mm != XV_MM_WO)
		xv_copy_from(area, off, size, st->buf);
	return st->buf;
}
EXPORT_SYMBOL_GPL(xv_map);

/**
 * xv_unmap() - end the mapping made by xv_map()
 * @pool: the pool
 * @handle: the handle given to xv_map()
 *
 * Writes a bounced object back unless it was mapped %XV_MM_RO, undoes the
 * mapping and enables preemption again.
 *
 * Context: the same context as the matching xv_map().
 */
void xv_unmap(struct xv_pool *pool, unsigned long handle)
{
	struct xv_map_state *st = this_cpu_ptr(&xv_map_state);

	if (WARN_ONCE(!st->pool, "xvmalloc: %s() without xv_map()\n", __func__))
		return;
	WARN_ONCE(st->pool != pool || st->handle != handle,
		  "xvmalloc: %s(%#lx) does not match xv_map(%#lx)\n",
		  __func__, handle, st->handle);
	if (st->kaddr)
		kunmap_local(st->kaddr);
	else if (st->mm != XV_MM_RO)
		xv_copy_to(st->area, st->off, st->size, st->buf);
	st->kaddr = NULL;
	st->pool = NULL;
	st->area = NULL;
	st->handle = 0;
	put_cpu_ptr(&xv_map_state);
}
EXPORT_SYMBOL_GPL(xv_unmap);

/**
 * xv_read() - copy an object out
 * @pool: the pool
 * @handle: a live object
 * @dst: xv_obj_size() bytes of room
 *
 * Context: any context; takes no lock and needs no mapping.
 */
void xv_read(struct xv_pool *pool, unsigned long handle, void *dst)
{
	struct xv_area *area;
	u32 off, size;

	area = xv_obj(pool, handle, &off, &size);
	if (area)
		xv_copy_from(area, off, size, dst);
}
EXPORT_SYMBOL_GPL(xv_read);

/**
 * xv_write() - copy an object in
 * @pool: the pool
 * @handle: a live object
 * @src: xv_obj_size() bytes to store
 *
 * Context: any context; takes no lock and needs no mapping.
 */
void xv_write(struct xv_pool *pool, unsigned long handle, const void *src)
{
	struct xv_area *area;
	u32 off, size;

	area = xv_obj(pool, handle, &off, &size);
	if (area)
		xv_copy_to(area, off, size, src);
}
EXPORT_SYMBOL_GPL(xv_write);

/**
 * xv_obj_size() - the size of an object
 * @pool: the pool
 * @handle: a live object
 *
 * Context: any context.
 * Return: exactly the size given to xv_malloc(), or 0 for a bad handle.
 */
size_t xv_obj_size(struct xv_pool *pool, unsigned long handle)
{
	u32 off, size;

	return xv_obj(pool, handle, &off, &size) ? size : 0;
}
EXPORT_SYMBOL_GPL(xv_obj_size);

/**
 * xv_get_total_size_bytes() - memory the pool holds
 * @pool: the pool
 *
 * Return: bytes of the pages the pool holds, headers and free space
 * included.
 */
u64 xv_get_total_size_bytes(struct xv_pool *pool)
{
	return (u64)READ_ONCE(pool->pages_total) << PAGE_SHIFT;
}
EXPORT_SYMBOL_GPL(xv_get_total_size_bytes);

/**
 * xv_get_total_pages() - pages the pool holds
 * @pool: the pool
 *
 * Return: the number of order-0 pages the pool holds.
 */
unsigned long xv_get_total_pages(struct xv_pool *pool)
{
	return READ_ONCE(pool->pages_total);
}
EXPORT_SYMBOL_GPL(xv_get_total_pages);

/**
 * xv_get_stats() - a consistent snapshot of the pool's counters
 * @pool: the pool
 * @stats: filled in
 *
 * Context: any context.
 */
void xv_get_stats(struct xv_pool *pool, struct xv_pool_stats *stats)
{
	unsigned long irqflags;

	spin_lock_irqsave(&pool->lock, irqflags);
	stats->objects = pool->objects;
	stats->bytes_requested = pool->bytes_requested;
	stats->pages_total = pool->pages_total;
	stats->bytes_in_pool = (u64)pool->pages_total << PAGE_SHIFT;
	stats->pages_highmem = pool->pages_highmem;
	stats->alloc_failures = pool->alloc_failures;
	spin_unlock_irqrestore(&pool->lock, irqflags);
}
EXPORT_SYMBOL_GPL(xv_get_stats);

/* ---- consistency check -------------------------------------------------- */

#define XV_CHECK_MAX_REPORTS	10

struct xv_checker {
	struct xv_pool *pool;
	struct xv_pool_check info;
	u64 bytes_requested;
	unsigned long highmem;
	unsigned int errors;
};

static __printf(4, 5) void xv_bad(struct xv_checker *c, u32 id, u32 off,
				  const char *fmt, ...)
{
	char msg[96];
	va_list args;

	if (c->errors++ >= XV_CHECK_MAX_REPORTS)
		return;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	pr_err("pool %s: area %u offset %u: %s\n", c->pool->name, id, off, msg);
}

/* Walk the blocks of area @id; false if the walk had to stop early. */
static bool xv_check_area(struct xv_checker *c, u32 id)
{
	const struct xv_area *area = xv_area_of(c->pool, id);
	u32 off = 0, hdr, bsize, osize;
	bool prev_free = false;
	unsigned int i;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (!area->pages[i]) {
			xv_bad(c, id, 0, "page %u missing", i);
			return false;
		}
		if (PageHighMem(area->pages[i]))
			c->highmem++;
	}
	c->info.areas++;
	while (off < XV_AREA_SIZE) {
		hdr = xv_rd(area, off);
		bsize = xv_hdr_bsize(hdr);
		if (bsize < XV_MIN_BLOCK || bsize > XV_AREA_SIZE - off) {
			xv_bad(c, id, off, "header %#x: bad block size %u", hdr, bsize);
			return false;
		}
		if (!(hdr & XV_HDR_PREV_FREE) != !prev_free)
			xv_bad(c, id, off, "header %#x: prev-free flag wrong", hdr);
		if (hdr & XV_HDR_FREE) {
			if (prev_free)
				xv_bad(c, id, off, "two free blocks in a row");
			if (xv_hdr_osize(hdr))
				xv_bad(c, id, off, "free block header %#x has an object size", hdr);
			if (xv_rd(area, off + bsize - XV_HDR_SIZE) != hdr)
				xv_bad(c, id, off, "footer %#x does not match header %#x",
				       xv_rd(area, off + bsize - XV_HDR_SIZE), hdr);
			if (bsize == XV_AREA_SIZE)
				xv_bad(c, id, off, "entirely free area was not released");
			c->info.free_blocks++;
			c->info.free_bytes += bsize;
			c->info.largest_free = max_t(u64, c->info.largest_free, bsize);
		} else {
			osize = xv_hdr_osize(hdr);
			if (!osize || osize > XV_MAX_OBJ || xv_block_size(osize) > bsize ||
			    bsize - xv_block_size(osize) >= XV_MIN_BLOCK)
				xv_bad(c, id, off, "object size %u in a block of %u", osize, bsize);
			c->info.used_blocks++;
			c->info.used_bytes += bsize;
			c->bytes_requested += osize;
			if (osize && xv_crosses(off + XV_HDR_SIZE, osize))
				c->info.crossing_objects++;
		}
		prev_free = hdr & XV_HDR_FREE;
		off += bsize;
	}
	return true;
}

/* Is @addr the address of a block in an area in use? */
static const struct xv_area *xv_check_addr(struct xv_checker *c, u32 addr)
{
	const struct xv_area *area = xv_area_get(c->pool, xv_addr_id(addr));

	if (!area || xv_addr_off(addr) > XV_AREA_SIZE - XV_MIN_BLOCK)
		return NULL;
	return area;
}

/* Walk one free list; returns the number of blocks on it. */
static u64 xv_check_list(struct xv_checker *c, u32 fl, u32 sl, u64 limit)
{
	struct xv_pool *pool = c->pool;
	u32 addr = pool->free_lists[fl][sl], prev = 0, hdr, bfl, bsl;
	const struct xv_area *area;
	u64 n = 0;

	while (addr) {
		u32 id = xv_addr_id(addr), off = xv_addr_off(addr);

		area = xv_check_addr(c, addr);
		if (!area) {
			xv_bad(c, id, off, "list %u/%u: link %#x to no block", fl, sl, addr);
			break;
		}
		hdr = xv_rd(area, off);
		xv_class(xv_hdr_bsize(hdr), &bfl, &bsl);
		if (!(hdr & XV_HDR_FREE) || bfl != fl || bsl != sl) {
			xv_bad(c, id, off, "list %u/%u: block header %#x does not belong", fl, sl,
			       hdr);
			break;
		}
		if (xv_rd(area, off + XV_PREV_OFF) != prev)
			xv_bad(c, id, off, "list %u/%u: back link %#x, expected %#x", fl, sl,
			       xv_rd(area, off + XV_PREV_OFF), prev);
		if (++n > limit) {
			xv_bad(c, id, off, "list %u/%u: longer than free blocks exist (a cycle?)",
			       fl, sl);
			break;
		}
		prev = addr;
		addr = xv_rd(area, off + XV_NEXT_OFF);
	}
	return n;
}

/**
 * xv_check_pool_info() - check a pool's consistency and describe it
 * @pool: the pool
 * @info: filled in with what the walk found, or NULL
 *
 * Walks every area block by block (sizes, flags, footers, coalescing, the
 * exact sizes), every free list (links both ways, each block's class) and
 * both bitmap levels, and compares the totals with the pool's counters.
 * Holds the pool lock with interrupts disabled throughout, for a time
 * proportional to the pool size: for tests and debugging.
 *
 * Context: any context.
 * Return: 0 if the pool is consistent, else -EUCLEAN after reporting each
 * problem (up to ten) with pr_err().
 */
int xv_check_pool_info(struct xv_pool *pool, struct xv_pool_check *info)
{
	struct xv_checker c = { .pool = pool };
	u64 listed = 0, free_slots = 0, chain = 0;
	unsigned long irqflags;
	u32 id, fl, sl;
	bool walked = true;

	spin_lock_irqsave(&pool->lock, irqflags);
	for (id = 1; id < pool->next_id; id++) {
		if (xv_slot_free(xv_area_of(pool, id)))
			free_slots++;
		else if (!xv_check_area(&c, id))
			walked = false;
	}
	for (id = pool->free_id; id && chain <= free_slots; chain++) {
		if (id >= pool->next_id || !xv_slot_free(xv_area_of(pool, id))) {
			xv_bad(&c, id, 0, "free area id chain leads to a slot in use");
			break;
		}
		id = xv_area_of(pool, id)->next_free >> 1;
	}
	if (chain != free_slots)
		xv_bad(&c, 0, 0, "%llu free area slots but %llu chained", free_slots, chain);

	if (pool->fl_bitmap >> XV_FL_COUNT)
		xv_bad(&c, 0, 0, "first-level bitmap %#x out of range", pool->fl_bitmap);
	for (fl = 0; fl < XV_FL_COUNT; fl++) {
		if (!(pool->fl_bitmap & 1U << fl) != !pool->sl_bitmap[fl])
			xv_bad(&c, 0, 0, "first-level bit %u is wrong", fl);
		for (sl = 0; sl < XV_SL_COUNT; sl++) {
			if (!(pool->sl_bitmap[fl] & 1U << sl) != !pool->free_lists[fl][sl])
				xv_bad(&c, 0, 0, "second-level bit %u/%u is wrong", fl, sl);
			listed += xv_check_list(&c, fl, sl, c.info.free_blocks);
		}
	}
	if (walked && listed != c.info.free_blocks)
		xv_bad(&c, 0, 0, "%llu free blocks but %llu on lists", c.info.free_blocks,
		       listed);
	if (walked && (c.info.used_blocks != pool->objects ||
		       c.bytes_requested != pool->bytes_requested))
		xv_bad(&c, 0, 0, "%llu objects of %llu bytes, counters say %llu of %llu",
		       c.info.used_blocks, c.bytes_requested, pool->objects,
		       pool->bytes_requested);
	if (c.info.areas != pool->nr_areas || free_slots + pool->nr_areas + 1 != pool->next_id ||
	    pool->pages_total != (unsigned long)pool->nr_areas * XV_AREA_PAGES ||
	    c.highmem != pool->pages_highmem)
		xv_bad(&c, 0, 0, "%llu areas (%lu highmem pages), counters say %u (%lu of %lu)",
		       c.info.areas, c.highmem, pool->nr_areas, pool->pages_highmem,
		       pool->pages_total);
	spin_unlock_irqrestore(&pool->lock, irqflags);

	if (c.errors > XV_CHECK_MAX_REPORTS)
		pr_err("pool %s: %u more problems\n", pool->name,
		       c.errors - XV_CHECK_MAX_REPORTS);
	if (info)
		*info = c.info;
	return c.errors ? -EUCLEAN : 0;
}
EXPORT_SYMBOL_GPL(xv_check_pool_info);

/**
 * xv_check_pool() - check a pool's consistency
 * @pool: the pool
 *
 * See xv_check_pool_info().
 *
 * Context: any context.
 * Return: 0 if the pool is consistent, else -EUCLEAN.
 */
int xv_check_pool(struct xv_pool *pool)
{
	return xv_check_pool_info(pool, NULL);
}
EXPORT_SYMBOL_GPL(xv_check_pool);

/**
 * xv_pool_fail_nth() - make an internal allocation fail, for tests
 * @pool: the pool
 * @nth: 1 fails the next page or table allocation of @pool, 2 the one
 *	after, and so on; 0 disables
 */
void xv_pool_fail_nth(struct xv_pool *pool, unsigned int nth)
{
	atomic_set(&pool->fail_nth, nth);
}
EXPORT_SYMBOL_NS_GPL(xv_pool_fail_nth, XVMALLOC_TESTING);

/* ---- module ------------------------------------------------------------- */

static int xv_cpu_prepare(unsigned int cpu)
{
	struct xv_map_state *st = per_cpu_ptr(&xv_map_state, cpu);

	if (!st->buf)
		st->buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	return st->buf ? 0 : -ENOMEM;
}

static int xv_cpu_dead(unsigned int cpu)
{
	struct xv_map_state *st = per_cpu_ptr(&xv_map_state, cpu);

	kfree(st->buf);
	st->buf = NULL;
	return 0;
}

static int xv_cpuhp_state;

static int __init xv_init(void)
{
	int ret;

	BUILD_BUG_ON(XV_HDR_OSIZE_SHIFT + XV_HDR_OSIZE_BITS > 32);
	BUILD_BUG_ON(XV_FL_COUNT > 31);
	BUILD_BUG_ON(XV_CHUNK_AREAS < 1);

	ret = cpuhp_setup_state(CPUHP_BP_PREPARE_DYN, "mm/xvmalloc:prepare",
				xv_cpu_prepare, xv_cpu_dead);
	if (ret < 0)
		return ret;
	xv_cpuhp_state = ret;
	return 0;
}

static void __exit xv_exit(void)
{
	cpuhp_remove_state(xv_cpuhp_state);
}

module_init(xv_init);
module_exit(xv_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("ramzswap project");
MODULE_DESCRIPTION("xvmalloc: O(1) TLSF allocator for compressed pages in high memory");
