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
 * Two kinds of object.  An object of up to XV_MAX_PACKED (PAGE_SIZE - 4)
 * bytes is packed: a block with a 4-byte header in an area, as described
 * below.  A larger one (PAGE_SIZE - 3 to PAGE_SIZE bytes: in a compressed
 * swap device, a page stored raw) is a whole-page object: one page of its
 * own with no header, so it costs exactly one page and is never bounced.
 * Packed, a 4096-byte object would need a 4100-byte block: three filled a
 * 16 KiB area with 12 bytes spilling into its fourth page (1.33 pages
 * each), and every such object crossed a page.  The cut-off is where a
 * block stops fitting in a page: an object of up to PAGE_SIZE - 4 bytes
 * packs at least as densely as a page of its own (a uniform run of
 * 4092-byte objects fills areas exactly), a larger one never does.
 *
 * Whole-page objects.  xv_malloc() allocates the page with the caller's
 * gfp plus __GFP_HIGHMEM and without the pool lock, which it takes only
 * to count the object (objects, bytes_requested, pages_total,
 * pages_highmem include whole-page objects; the pool keeps their own
 * totals beside them for xv_check_pool()).  The handle is XV_WHOLE_TAG
 * (the top bit of an unsigned long) or'ed with the page's pfn, so it is
 * never 0 and never a block address (those stay below 2^31, see
 * Addresses).  The exact size lives in page->private with a per-pool
 * cookie above it, which xv_map(), xv_free() and the others check to
 * catch a stale or foreign handle (the page allocator clears or reuses
 * the word of a freed page; xv_free() clears it first).  xv_map() of such
 * an object is kmap_local_page() of its page; xv_free() gives the page
 * back at once.  The pool keeps no list of them: xv_check_pool() checks
 * their counters against each other but cannot walk them, and
 * xv_destroy_pool() cannot free those still allocated.
 *
 * Areas.  Blocks live in areas: linear spaces of XV_AREA_SIZE (16 KiB)
 * bytes backed by XV_AREA_PAGES (4) order-0 pages that need not be
 * contiguous, allocated with the caller's gfp plus __GFP_HIGHMEM.  Blocks
 * are laid end to end and may cross page boundaries, so an object larger
 * than PAGE_SIZE / 2 no longer pins a page that only small objects could
 * share (the fragmentation of the 2009 allocator, where a block could not
 * leave its page).  Areas are sparse: a page lying entirely inside a free
 * block, apart from that block's header and links (first 12 bytes) and
 * footer (last 4), goes back to the page allocator at once, and comes back
 * when an allocation needs it; an area left entirely free is released
 * whole.  So the pool grows and shrinks page by page, every page entirely
 * free is returned at once, and a new area starts with only the pages its
 * first object needs.  Areas are numbered; the pool's area table (a
 * directory of one-page chunks of struct xv_area, each the list of an
 * area's pages) turns an id into its pages in O(1) without the pool lock.
 *
 * Addresses.  A block is named by a u32 "block address": area id << 12 |
 * offset / 4.  Packed objects' handles are block addresses (so 0 is never
 * a valid handle) and so are the free-list links kept inside free blocks.
 * Ids are recycled LIFO through the table's free slots.  Where unsigned
 * long has 32 bits (i386) the top bit of a handle is the whole-page tag,
 * so block addresses have 31 bits: at most 2^19 - 1 areas (8 GiB of
 * packed objects) per pool; elsewhere 2^20 - 1 (16 GiB).
 *
 * Blocks.  Each block starts with a u32 header: free flag, prev-free flag,
 * block size in 4-byte units and, for an allocated block, the exact size
 * asked for (xv_obj_size() returns it), so the per-object overhead is the
 * 4-byte header plus rounding to 4 bytes (and, rarely, a tail of under 16
 * bytes too small to split off).  A free block (16 bytes at least) holds
 * after its header the next and previous block addresses of its free list
 * (the previous one is stale in the head of a list, whose removal so needs
 * no write to its successor) and in its last u32 a copy of its header
 * (footer), which the following block finds when its prev-free flag is
 * set.  Blocks are 4-byte aligned, so no u32 field ever straddles a page:
 * header, link and footer accesses reach the one page holding the field
 * with kmap_local_page().  Under the pool lock, one xv_malloc() or
 * xv_free() keeps the pages it mapped (up to XV_KMC_SLOTS) mapped for its
 * further accesses, mostly to the same one to three pages, and unmaps them
 * in reverse order before the lock is dropped: every kmap_local_page() of
 * a highmem page costs a PTE update and a TLB flush on unmap.
 *
 * Free lists.  Two-level segregated fit (Masmano et al., 2004): the first
 * level splits sizes by power of two, the second divides each power of
 * two into 32 linear ranges (sizes below 128 bytes get one list per 4-byte
 * size).  A bitmap per level and find-first-set pick the first non-empty
 * list whose every block fits (after checking the head of the request's
 * own list), so xv_malloc() and xv_free() do a bounded number of steps
 * whatever the size of the pool: at most 2 (alloc) or 3 (free) list
 * removals or insertions and 16 header/link accesses, which map at most
 * as many pages.  Neighbours are coalesced at once on free: no two free
 * blocks are ever adjacent.  On a split the object
 * takes the front of the free block.
 *
 * Mapping.  An object inside one page (a whole-page object included) is
 * mapped with kmap_local_page().
 * One that crosses a page boundary is copied into a per-CPU bounce buffer
 * of PAGE_SIZE bytes (in for XV_MM_RW and XV_MM_RO) and back on xv_unmap()
 * (for XV_MM_RW and XV_MM_WO).  Between xv_map() and xv_unmap() preemption
 * is disabled and a CPU holds at most one mapping.  The per-CPU state is a
 * plain per-CPU structure reached with get_cpu_ptr() (no local_lock_t:
 * lockdep keys in a module's per-CPU memory are a known trap).
 *
 * Compaction.  Frees leave areas sparse; xv_compact() empties the
 * sparsest ones.  A handle is a place, so a moved object needs a new
 * handle, and only the owner knows where it keeps its handles: it passes
 * a walk that calls xv_migrate() on each of them under its own lock for
 * that handle (ramzswap: the table entry's lock), the same lock it holds
 * to map, read or free the object.  So an object is never moved while
 * mapped, and the lock order is the owner's lock, then the pool lock, as
 * in xv_free().  Each round isolates up to 256 areas (2 MiB of live
 * blocks) whose pages exceed their live blocks by half a page or more, the
 * emptiest first: their free blocks leave the free lists, so no
 * allocation lands there, and xv_free() coalesces in them without lists.
 * xv_migrate() copies an object from an isolated area into a block found
 * the usual way (GFP_NOWAIT, through a PAGE_SIZE buffer of the pool) and
 * frees the old one; an emptied area goes back whole.  An object the
 * owner has not published yet (allocated, being written) is not in the
 * walk, so its area cannot empty: what is left of a round is put back on
 * the lists.  An area is tried once per xv_compact(), and rounds stop
 * when one gives back no pages net of those its moves took.  Each area's
 * table entry counts its live block bytes (@used) for the choice.  The
 * per-area state (struct xv_area: 4 page pointers, used, flags) is the
 * only lowmem an area costs: 24 bytes per 16 KiB on i386, 0.15% of the
 * pool.
 *
 * Locking.  One spinlock per pool, taken with interrupts disabled, so any
 * context whose gfp allows the allocation may call xv_malloc() and
 * xv_free().  When the block it found lacks pages, or no block fits and a
 * new area is needed, xv_malloc() drops the lock, allocates the pages (at
 * most three; rarely a table chunk too) with the caller's gfp, retakes the
 * lock and looks again: with GFP_NOWAIT it never sleeps.  Pages are freed
 * after the lock is dropped.
 * xv_map(), xv_read(), xv_write() and xv_obj_size() take no lock: a live
 * object's header changes only in its prev-free bit, written whole under
 * the lock, and a whole-page object's private word not at all.
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
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
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

/* The header at @off, or XV_HDR_FREE if its page is absent (bad handles). */
static u32 xv_rd_hdr(const struct xv_area *area, u32 off)
{
	return READ_ONCE(area->pages[off >> PAGE_SHIFT]) ? xv_rd(area, off) : XV_HDR_FREE;
}

/*
 * The mapping cache of one xv_malloc() or xv_free() call, under the pool
 * lock: the pages it has mapped, in the order kmap_local_page() mapped
 * them, kept mapped for the call's further accesses to the same pages
 * (header, links and footer of a block, its neighbours' headers: mostly
 * one to three pages).  Once XV_KMC_SLOTS pages are held, an access to
 * yet another page maps it only for that access.  xv_kmc_flush() undoes
 * the mappings in reverse order (kmap_local is a stack) and must run
 * before the lock is dropped and before a cached page is freed.
 */
#define XV_KMC_SLOTS	4

struct xv_kmc {
	unsigned int nr;
	struct page *page[XV_KMC_SLOTS];
	void *addr[XV_KMC_SLOTS];
};

static void xv_kmc_flush(struct xv_kmc *c)
{
	while (c->nr) {
		c->nr--;
		kunmap_local(c->addr[c->nr]);
	}
}

/* Where @c has @page mapped, mapping it if a slot is free; else NULL. */
static void *xv_kmc_get(struct xv_kmc *c, struct page *page)
{
	unsigned int i;

	for (i = 0; i < c->nr; i++) {
		if (c->page[i] == page)
			return c->addr[i];
	}
	if (c->nr == XV_KMC_SLOTS)
		return NULL;
	c->page[c->nr] = page;
	c->addr[c->nr] = kmap_local_page(page);
	return c->addr[c->nr++];
}

static u32 xv_crd(struct xv_kmc *c, const struct xv_area *area, u32 off)
{
	struct page *page = area->pages[off >> PAGE_SHIFT];
	char *base = xv_kmc_get(c, page);
	u32 val;

	if (base)
		return READ_ONCE(*(u32 *)(base + offset_in_page(off)));
	base = kmap_local_page(page);
	val = READ_ONCE(*(u32 *)(base + offset_in_page(off)));
	kunmap_local(base);
	return val;
}

static void xv_cwr(struct xv_kmc *c, const struct xv_area *area, u32 off, u32 val)
{
	struct page *page = area->pages[off >> PAGE_SHIFT];
	char *base = xv_kmc_get(c, page);

	if (base) {
		WRITE_ONCE(*(u32 *)(base + offset_in_page(off)), val);
		return;
	}
	base = kmap_local_page(page);
	WRITE_ONCE(*(u32 *)(base + offset_in_page(off)), val);
	kunmap_local(base);
}

/* Set field @field of the free block at @addr (another area, maybe). */
static void xv_wr_link(struct xv_pool *pool, struct xv_kmc *c, u32 addr, u32 field,
		       u32 val)
{
	xv_cwr(c, xv_area_of(pool, xv_addr_id(addr)), xv_addr_off(addr) + field, val);
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

static void xv_list_insert(struct xv_pool *pool, struct xv_kmc *c,
			   const struct xv_area *area, u32 addr, u32 bsize)
{
	u32 fl, sl, head, off = xv_addr_off(addr);

	xv_class(bsize, &fl, &sl);
	head = pool->free_lists[fl][sl];
	/* The head's back link is never read: it is left as it is. */
	xv_cwr(c, area, off + XV_NEXT_OFF, head);
	if (head)
		xv_wr_link(pool, c, head, XV_PREV_OFF, addr);
	pool->free_lists[fl][sl] = addr;
	pool->sl_bitmap[fl] |= 1U << sl;
	pool->fl_bitmap |= 1U << fl;
	xv_trace_listop(pool);
}

static void xv_list_remove(struct xv_pool *pool, struct xv_kmc *c,
			   const struct xv_area *area, u32 addr, u32 bsize)
{
	u32 fl, sl, prev, next, off = xv_addr_off(addr);

	xv_class(bsize, &fl, &sl);
	next = xv_crd(c, area, off + XV_NEXT_OFF);
	if (pool->free_lists[fl][sl] != addr) {
		prev = xv_crd(c, area, off + XV_PREV_OFF);
		if (next)
			xv_wr_link(pool, c, next, XV_PREV_OFF, prev);
		xv_wr_link(pool, c, prev, XV_NEXT_OFF, next);
	} else {
		/* The next block becomes the head: its back link goes stale. */
		pool->free_lists[fl][sl] = next;
		if (!next) {
			pool->sl_bitmap[fl] &= ~(1U << sl);
			if (!pool->sl_bitmap[fl])
				pool->fl_bitmap &= ~(1U << fl);
		}
	}
	xv_trace_listop(pool);
}

/*
 * Write the header and footer of a free block and, unless its area is
 * isolated for compaction, put it on its list.  A block that ends the
 * area has no footer: no block follows to read it.
 */
static void xv_make_free(struct xv_pool *pool, struct xv_kmc *c,
			 const struct xv_area *area, u32 id, u32 off, u32 bsize)
{
	u32 hdr = xv_hdr_free(bsize);

	xv_cwr(c, area, off, hdr);
	if (off + bsize < XV_AREA_SIZE)
		xv_cwr(c, area, off + bsize - XV_HDR_SIZE, hdr);
	if (!(area->flags & XV_AREA_ISOLATED))
		xv_list_insert(pool, c, area, xv_addr(id, off), bsize);
}

/*
 * A free block of at least @need bytes (its size goes to @bsize), or 0.
 * Looks at the head of the list @need belongs to, then at the first
 * non-empty list above it, all of whose blocks are large enough.
 */
static u32 xv_find(struct xv_pool *pool, struct xv_kmc *c, u32 need, u32 *bsize)
{
	u32 fl, sl, addr, map;

	xv_class(need, &fl, &sl);
	addr = pool->free_lists[fl][sl];
	if (addr) {
		*bsize = xv_hdr_bsize(xv_crd(c, xv_area_of(pool, xv_addr_id(addr)),
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
	*bsize = xv_hdr_bsize(xv_crd(c, xv_area_of(pool, xv_addr_id(addr)),
				     xv_addr_off(addr)));
	return addr;
}

/*
 * The bytes of a free block of @bsize bytes at @off that must be in memory
 * once an object of a @need-byte block is carved out of it: the object's
 * block and the header and links of the rest, if it is split off.
 */
static u32 xv_take_end(u32 off, u32 bsize, u32 need)
{
	return bsize - need < XV_MIN_BLOCK ? off + bsize : off + need + XV_FREE_HEAD;
}

/*
 * Carve an object of @size bytes (a block of @need bytes) out of the free
 * block at @addr of @bsize bytes, off the lists if @listed.  Returns the
 * object's block address.
 */
static u32 xv_take(struct xv_pool *pool, struct xv_kmc *c, u32 addr, u32 bsize,
		   bool listed, u32 need, u32 size)
{
	u32 id = xv_addr_id(addr), off = xv_addr_off(addr);
	struct xv_area *area = xv_area_of(pool, id);
	u32 end = off + bsize, rest = bsize - need;

	if (listed)
		xv_list_remove(pool, c, area, addr, bsize);
	pool->objects++;
	pool->bytes_requested += size;
	if (rest < XV_MIN_BLOCK)
		need = bsize;
	area->used += need;
	pool->used_bytes += need;

	if (rest < XV_MIN_BLOCK) {
		/* Whole block; the one after it no longer follows a free one. */
		xv_cwr(c, area, off, xv_hdr_used(bsize, size, 0));
		if (end < XV_AREA_SIZE)
			xv_cwr(c, area, end, xv_crd(c, area, end) & ~XV_HDR_PREV_FREE);
		return addr;
	}
	/* Object in front, free rest behind: the next block keeps PREV_FREE. */
	xv_cwr(c, area, off, xv_hdr_used(need, size, 0));
	xv_make_free(pool, c, area, id, off + need, rest);
	return addr;
}

/* ---- pages: growth, sparse areas ----------------------------------------- */

/*
 * A free block [start, end) needs its header and links and, unless it ends
 * the area, its footer; the pages entirely within the rest, its body, are
 * given back.  Returns the first and (exclusive) last such page.
 */
static void xv_body_pages(u32 start, u32 end, u32 *first, u32 *last)
{
	u32 lo = start + XV_FREE_HEAD;
	u32 hi = end < XV_AREA_SIZE ? end - XV_HDR_SIZE : end;

	*first = (lo + PAGE_SIZE - 1) >> PAGE_SHIFT;
	*last = hi >> PAGE_SHIFT;
}

/* Under the lock: move the present body pages of a free block to @out. */
static unsigned int xv_release_body(struct xv_pool *pool, struct xv_area *area,
				    u32 start, u32 end, struct page **out)
{
	unsigned int n = 0;
	u32 pg, last;

	for (xv_body_pages(start, end, &pg, &last); pg < last; pg++) {
		struct page *page = area->pages[pg];

		if (!page)
			continue;
		WRITE_ONCE(area->pages[pg], NULL);
		pool->pages_total--;
		if (PageHighMem(page))
			pool->pages_highmem--;
		out[n++] = page;
	}
	return n;
}

/* Pages [*first, *last] of an area hold bytes [start, end). */
static void xv_span(u32 start, u32 end, u32 *first, u32 *last)
{
	*first = start >> PAGE_SHIFT;
	*last = (end - 1) >> PAGE_SHIFT;
}

/* How many pages under bytes [start, end) of @area are missing? */
static unsigned int xv_missing(const struct xv_area *area, u32 start, u32 end)
{
	unsigned int n = 0;
	u32 pg, last;

	for (xv_span(start, end, &pg, &last); pg <= last; pg++)
		n += !area->pages[pg];
	return n;
}

/* Pages and a table chunk xv_malloc() allocated with the lock dropped. */
struct xv_grow {
	struct page *pages[XV_AREA_PAGES];
	unsigned int nr;
	struct xv_area *chunk;
};

/* Under the lock: fill the holes under bytes [start, end) from @g. */
static void xv_populate(struct xv_pool *pool, struct xv_area *area, u32 start,
			u32 end, struct xv_grow *g)
{
	u32 pg, last;

	for (xv_span(start, end, &pg, &last); pg <= last; pg++) {
		struct page *page;

		if (area->pages[pg])
			continue;
		page = g->pages[--g->nr];
		g->pages[g->nr] = NULL;
		WRITE_ONCE(area->pages[pg], page);
		pool->pages_total++;
		if (PageHighMem(page))
			pool->pages_highmem++;
	}
}

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
	while (g->nr)
		__free_page(g->pages[--g->nr]);
	kfree(g->chunk);
	g->chunk = NULL;
}

/* Without the lock: have @g hold @pages pages and, if @chunk, a chunk. */
static int xv_grow_alloc(struct xv_pool *pool, struct xv_grow *g,
			 unsigned int pages, bool chunk, gfp_t flags)
{
	gfp_t gfp = flags & ~(GFP_ZONEMASK | __GFP_COMP | __GFP_ZERO);

	if (chunk && !g->chunk) {
		if (!xv_fail_now(pool))
			g->chunk = kzalloc(PAGE_SIZE, gfp);
		if (!g->chunk)
			return -ENOMEM;
	}
	while (g->nr < pages) {
		struct page *page = NULL;

		if (!xv_fail_now(pool))
			page = alloc_page(gfp | __GFP_HIGHMEM);
		if (!page)
			return -ENOMEM;
		g->pages[g->nr++] = page;
	}
	return 0;
}

/*
 * Under the lock: take a free id for a new area, back bytes [0, @end) of
 * it with pages from @g and return the address of its single free block,
 * which covers the whole area and is on no list.
 */
static u32 xv_install(struct xv_pool *pool, struct xv_kmc *c, struct xv_grow *g, u32 end)
{
	struct xv_area *area;
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
	memset(area, 0, sizeof(*area));
	xv_populate(pool, area, 0, end, g);
	pool->nr_areas++;
	xv_cwr(c, area, 0, xv_hdr_free(XV_AREA_SIZE));
	return xv_addr(id, 0);
}

/* Under the lock: take area @id out of the table; its pages go to @out. */
static unsigned int xv_uninstall(struct xv_pool *pool, u32 id, struct page **out)
{
	struct xv_area *area = xv_area_of(pool, id);
	unsigned int i, n = 0;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		struct page *page = area->pages[i];

		if (!page)
			continue;
		pool->pages_total--;
		if (PageHighMem(page))
			pool->pages_highmem--;
		out[n++] = page;
	}
	memset(area, 0, sizeof(*area));
	WRITE_ONCE(area->next_free, (unsigned long)pool->free_id << 1 | 1);
	pool->free_id = id;
	pool->nr_areas--;
	return n;
}

/* ---- whole-page objects -------------------------------------------------- */

static bool xv_is_whole(unsigned long handle)
{
	return handle & XV_WHOLE_TAG;
}

/*
 * The page of the whole-page object @handle of @pool and its size, or
 * NULL if @handle names none (its page's private word does not hold the
 * pool's cookie and a whole-page size).
 */
static struct page *xv_whole_page(struct xv_pool *pool, unsigned long handle, u32 *size)
{
	unsigned long pfn = handle & ~XV_WHOLE_TAG, priv;
	struct page *page;

	if (!pfn_valid(pfn))
		return NULL;
	page = pfn_to_page(pfn);
	priv = READ_ONCE(page->private);
	*size = priv & XV_WHOLE_SIZE_MASK;
	if ((priv & ~XV_WHOLE_SIZE_MASK) != pool->whole_cookie ||
	    *size <= XV_MAX_PACKED || *size > XV_MAX_OBJ)
		return NULL;
	return page;
}

/*
 * Count a whole-page object of @size bytes in (@in) or out: the counters
 * are the only thing the pool lock guards for such an object.
 */
static void xv_whole_account(struct xv_pool *pool, struct page *page, u32 size, bool in)
{
	unsigned int high = PageHighMem(page) ? 1 : 0;
	unsigned long irqflags;

	spin_lock_irqsave(&pool->lock, irqflags);
	if (in) {
		pool->objects++;
		pool->bytes_requested += size;
		pool->pages_total++;
		pool->pages_highmem += high;
		pool->whole_objects++;
		pool->whole_bytes += size;
		pool->whole_highmem += high;
	} else {
		pool->objects--;
		pool->bytes_requested -= size;
		pool->pages_total--;
		pool->pages_highmem -= high;
		pool->whole_objects--;
		pool->whole_bytes -= size;
		pool->whole_highmem -= high;
	}
	spin_unlock_irqrestore(&pool->lock, irqflags);
}

/* xv_malloc() of more than XV_MAX_PACKED bytes: a page of its own. */
static int xv_whole_alloc(struct xv_pool *pool, size_t size, gfp_t flags,
			  unsigned long *handle)
{
	gfp_t gfp = flags & ~(GFP_ZONEMASK | __GFP_COMP | __GFP_ZERO);
	struct page *page = NULL;
	unsigned long irqflags;

	if (!xv_fail_now(pool))
		page = alloc_page(gfp | __GFP_HIGHMEM);
	if (!page) {
		spin_lock_irqsave(&pool->lock, irqflags);
		pool->alloc_failures++;
		spin_unlock_irqrestore(&pool->lock, irqflags);
		return -ENOMEM;
	}
	set_page_private(page, pool->whole_cookie | size);
	xv_whole_account(pool, page, size, true);
	*handle = XV_WHOLE_TAG | page_to_pfn(page);
	return 0;
}

static void xv_whole_free(struct xv_pool *pool, unsigned long handle)
{
	struct page *page;
	u32 size;

	page = xv_whole_page(pool, handle, &size);
	if (WARN_ONCE(!page, "xvmalloc: pool %s: bad handle %#lx freed\n", pool->name,
		      handle))
		return;
	xv_whole_account(pool, page, size, false);
	set_page_private(page, 0);
	__free_page(page);
}

/* ---- API ---------------------------------------------------------------- */

static u32 xv_alloc_packed(struct xv_pool *pool, size_t size, gfp_t flags, bool count,
			   unsigned int *grew);

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
	mutex_init(&pool->compact_lock);
	pool->next_id = 1;
	/* any non-zero bits above the size; the pool's address tells pools apart */
	pool->whole_cookie = ((unsigned long)pool >> 4 | 1) << XV_WHOLE_SIZE_BITS;
	atomic_set(&pool->fail_nth, 0);
	return pool;
}
EXPORT_SYMBOL_GPL(xv_create_pool);

/**
 * xv_destroy_pool() - free a pool and all its pages
 * @pool: the pool, or NULL
 *
 * Warns (once) if objects are still allocated; frees the packed ones
 * anyway, but cannot find whole-page objects (see xv_malloc()), whose
 * pages are then lost.  No other call on @pool may run or follow.
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
		for (i = 0; i < XV_AREA_PAGES; i++) {
			if (area->pages[i])
				__free_page(area->pages[i]);
		}
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
 * An object of up to PAGE_SIZE - 4 bytes is packed with others: this
 * takes a bounded number of steps when the pool has room; otherwise the
 * pool grows by the pages the object needs, allocated with @flags with
 * the pool lock dropped.  A larger one gets a page of its own (with
 * @flags, without the lock), holding nothing else: no header, one page.
 *
 * Context: any context @flags allows; never sleeps unless @flags does.
 * Return: 0, -EINVAL if @size is 0 or too large, -ENOMEM if the pool
 * could not grow (counted in alloc_failures).
 */
int xv_malloc(struct xv_pool *pool, size_t size, gfp_t flags,
	      unsigned long *handle)
{
	*handle = 0;
	if (!size || size > XV_MAX_OBJ)
		return -EINVAL;
	might_sleep_if(gfpflags_allow_blocking(flags));
	if (size > XV_MAX_PACKED)
		return xv_whole_alloc(pool, size, flags, handle);
	*handle = xv_alloc_packed(pool, size, flags, true, NULL);
	return *handle ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_GPL(xv_malloc);

/*
 * A packed object of @size bytes; its block address, or 0 if the pool
 * could not grow (counted in alloc_failures if @count).  The pages it
 * added to the pool go to *@grew, if not NULL.
 */
static u32 xv_alloc_packed(struct xv_pool *pool, size_t size, gfp_t flags, bool count,
			   unsigned int *grew)
{
	struct xv_grow grow = {};
	struct xv_kmc kmc = {};
	unsigned long irqflags;
	u32 need, bsize, end, addr;
	bool failed = false, chunk;
	unsigned int missing = 0;

	need = xv_block_size(size);

	spin_lock_irqsave(&pool->lock, irqflags);
	for (;;) {
		chunk = false;
		addr = xv_find(pool, &kmc, need, &bsize);
		if (addr) {
			/* a free block; its body pages may have to come back */
			struct xv_area *area = xv_area_of(pool, xv_addr_id(addr));
			u32 off = xv_addr_off(addr);

			end = xv_take_end(off, bsize, need);
			missing = xv_missing(area, off, end);
			if (missing <= grow.nr) {
				xv_populate(pool, area, off, end, &grow);
				addr = xv_take(pool, &kmc, addr, bsize, true, need, size);
				break;
			}
		} else if (!xv_ids_exhausted(pool)) {
			/* a new area, with pages for the object only */
			end = xv_take_end(0, XV_AREA_SIZE, need);
			missing = ((end - 1) >> PAGE_SHIFT) + 1;
			chunk = xv_need_chunk(pool, &grow);
			if (missing <= grow.nr && !chunk) {
				addr = xv_install(pool, &kmc, &grow, end);
				addr = xv_take(pool, &kmc, addr, XV_AREA_SIZE, false, need, size);
				break;
			}
		} else {
			failed = true;
		}
		if (failed) {
			if (count)
				pool->alloc_failures++;
			addr = 0;
			break;
		}
		/* Allocate without the lock, then look again: others ran meanwhile. */
		xv_kmc_flush(&kmc);
		spin_unlock_irqrestore(&pool->lock, irqflags);
		failed = xv_grow_alloc(pool, &grow, missing, chunk, flags) < 0;
		spin_lock_irqsave(&pool->lock, irqflags);
	}
	xv_kmc_flush(&kmc);
	spin_unlock_irqrestore(&pool->lock, irqflags);
	xv_grow_release(&grow);
	/* on success, @missing pages were just put under the object */
	if (grew)
		*grew = addr ? missing : 0;
	return addr;
}

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
	u32 id = xv_addr_id(handle), off = xv_addr_off(handle);
	struct page *pages[XV_AREA_PAGES];
	struct xv_kmc kmc = {};
	unsigned int n = 0;
	struct xv_area *area;
	unsigned long irqflags;
	u32 hdr, bsize, nhdr;
	bool listed;

	if (!handle)
		return;
	if (xv_is_whole(handle)) {
		xv_whole_free(pool, handle);
		return;
	}
	spin_lock_irqsave(&pool->lock, irqflags);
	area = upper_32_bits(handle) ? NULL : xv_area_get(pool, id);
	hdr = area && READ_ONCE(area->pages[off >> PAGE_SHIFT]) ?
	      xv_crd(&kmc, area, off) : XV_HDR_FREE;
	if (WARN_ONCE(hdr & XV_HDR_FREE, "xvmalloc: pool %s: bad handle %#lx freed\n",
		      pool->name, handle))
		goto unlock;

	bsize = xv_hdr_bsize(hdr);
	pool->objects--;
	pool->bytes_requested -= xv_hdr_osize(hdr);
	area->used -= bsize;
	pool->used_bytes -= bsize;
	/* An isolated area's free blocks are on no list (see xv_compact()). */
	listed = !(area->flags & XV_AREA_ISOLATED);
	if (hdr & XV_HDR_PREV_FREE) {
		u32 psize = xv_hdr_bsize(xv_crd(&kmc, area, off - XV_HDR_SIZE));

		off -= psize;
		bsize += psize;
		if (listed)
			xv_list_remove(pool, &kmc, area, xv_addr(id, off), psize);
	}
	if (off + bsize < XV_AREA_SIZE) {
		nhdr = xv_crd(&kmc, area, off + bsize);
		if (nhdr & XV_HDR_FREE) {
			if (listed)
				xv_list_remove(pool, &kmc, area, xv_addr(id, off + bsize),
					       xv_hdr_bsize(nhdr));
			bsize += xv_hdr_bsize(nhdr);
		} else {
			xv_cwr(&kmc, area, off + bsize, nhdr | XV_HDR_PREV_FREE);
		}
	}
	if (bsize == XV_AREA_SIZE) {
		n = xv_uninstall(pool, id, pages);
	} else {
		xv_make_free(pool, &kmc, area, id, off, bsize);
		n = xv_release_body(pool, area, off, off + bsize, pages);
	}
	if (!listed)
		pool->compact_freed += n;
unlock:
	xv_kmc_flush(&kmc);
	spin_unlock_irqrestore(&pool->lock, irqflags);
	while (n)
		__free_page(pages[--n]);
}
EXPORT_SYMBOL_GPL(xv_free);

/* Where a live object is: in an area at an offset, or a page of its own. */
struct xv_loc {
	struct xv_area *area;	/* packed: the area, @off the data's offset in it */
	struct page *page;	/* whole-page: the page; @area is NULL */
	u32 off;
	u32 size;		/* exactly what was given to xv_malloc() */
};

/* Find a live object; false (with a warning) if @handle names none. */
static bool xv_locate(struct xv_pool *pool, unsigned long handle, struct xv_loc *loc)
{
	u32 hdr = XV_HDR_FREE;

	loc->area = NULL;
	loc->page = NULL;
	loc->off = 0;
	if (xv_is_whole(handle)) {
		loc->page = xv_whole_page(pool, handle, &loc->size);
		if (WARN_ONCE(!loc->page, "xvmalloc: pool %s: bad handle %#lx\n",
			      pool->name, handle))
			return false;
		return true;
	}
	if (!upper_32_bits(handle))
		loc->area = xv_area_get(pool, xv_addr_id(handle));
	if (loc->area)
		hdr = xv_rd_hdr(loc->area, xv_addr_off(handle));
	if (WARN_ONCE(hdr & XV_HDR_FREE, "xvmalloc: pool %s: bad handle %#lx\n",
		      pool->name, handle))
		return false;
	loc->off = xv_addr_off(handle) + XV_HDR_SIZE;
	loc->size = xv_hdr_osize(hdr);
	return true;
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
 * within one page (a whole-page object included: its address is that of
 * its page) is mapped in place with kmap_local_page(); one that crosses a
 * page boundary is copied into a per-CPU buffer (unless @mm is
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
	struct xv_loc loc;

	if (!xv_locate(pool, handle, &loc))
		return NULL;
	st = get_cpu_ptr(&xv_map_state);
	if (WARN_ONCE(st->pool, "xvmalloc: nested %s() on one CPU\n", __func__)) {
		put_cpu_ptr(&xv_map_state);
		return NULL;
	}
	st->pool = pool;
	st->area = loc.area;
	st->handle = handle;
	st->off = loc.off;
	st->size = loc.size;
	st->mm = mm;
	if (loc.page) {
		st->kaddr = kmap_local_page(loc.page);
		return st->kaddr;
	}
	if (!xv_crosses(loc.off, loc.size)) {
		st->kaddr = kmap_local_page(loc.area->pages[loc.off >> PAGE_SHIFT]) +
			    offset_in_page(loc.off);
		return st->kaddr;
	}
	st->kaddr = NULL;
	if (mm != XV_MM_WO)
		xv_copy_from(loc.area, loc.off, loc.size, st->buf);
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
	struct xv_loc loc;

	if (!xv_locate(pool, handle, &loc))
		return;
	if (loc.page)
		memcpy_from_page(dst, loc.page, 0, loc.size);
	else
		xv_copy_from(loc.area, loc.off, loc.size, dst);
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
	struct xv_loc loc;

	if (!xv_locate(pool, handle, &loc))
		return;
	if (loc.page)
		memcpy_to_page(loc.page, 0, src, loc.size);
	else
		xv_copy_to(loc.area, loc.off, loc.size, src);
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
	struct xv_loc loc;

	return xv_locate(pool, handle, &loc) ? loc.size : 0;
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
	stats->pages_compacted = pool->pages_compacted;
	spin_unlock_irqrestore(&pool->lock, irqflags);
}
EXPORT_SYMBOL_GPL(xv_get_stats);

/* ---- compaction ----------------------------------------------------------- */

/*
 * One round of xv_compact() isolates at most this many areas, holding at
 * most XV_COMPACT_BYTES of live blocks: what a round may have to allocate
 * before it frees anything.
 */
#define XV_COMPACT_AREAS	256
#define XV_COMPACT_BYTES	(2U << 20)
/* Area ids looked at per hold of the pool lock while choosing. */
#define XV_COMPACT_SCAN		128

static unsigned int xv_present(const struct xv_area *area)
{
	unsigned int i, n = 0;

	for (i = 0; i < XV_AREA_PAGES; i++)
		n += !!area->pages[i];
	return n;
}

/*
 * Under the lock: take the free blocks of area @id off their lists
 * (@isolate) or put them back.  While isolated, no allocation lands in the
 * area and xv_free() coalesces in it without touching a list.
 */
static void xv_isolate(struct xv_pool *pool, u32 id, bool isolate)
{
	struct xv_area *area = xv_area_of(pool, id);
	struct xv_kmc kmc = {};
	u32 off, hdr, bsize;

	for (off = 0; off < XV_AREA_SIZE; off += bsize) {
		hdr = xv_crd(&kmc, area, off);
		bsize = xv_hdr_bsize(hdr);
		if (!bsize)
			break;		/* corrupt; xv_check_pool() says where */
		if (!(hdr & XV_HDR_FREE))
			continue;
		if (isolate)
			xv_list_remove(pool, &kmc, area, xv_addr(id, off), bsize);
		else
			xv_list_insert(pool, &kmc, area, xv_addr(id, off), bsize);
	}
	xv_kmc_flush(&kmc);
	if (isolate)
		area->flags |= XV_AREA_ISOLATED | XV_AREA_TRIED;
	else
		area->flags &= ~XV_AREA_ISOLATED;
}

/* Does @area hold @halves half pages or more beyond its live blocks? */
static bool xv_compact_candidate(const struct xv_area *area, unsigned int halves)
{
	if (xv_slot_free(area) || area->flags & XV_AREA_TRIED)
		return false;
	return xv_present(area) * PAGE_SIZE >= area->used + halves * PAGE_SIZE / 2;
}

/*
 * Choose and isolate the areas of one round: those not yet tried whose
 * present pages exceed their live blocks by half a page or more (emptying
 * one gives back more pages than its blocks need elsewhere, where they
 * fill holes or a new area end to end), the emptiest first.  Returns how
 * many ids went to @ids.
 */
static unsigned int xv_compact_select(struct xv_pool *pool, u32 *ids)
{
	unsigned int nr = 0, waste;
	unsigned long irqflags;
	u32 bytes = 0, id, last;
	struct xv_area *area;
	bool full = false;

	/* waste: pages beyond the live blocks, in halves, the most first */
	for (waste = 2 * XV_AREA_PAGES; waste >= 1 && !full; waste--) {
		for (id = 1; id < READ_ONCE(pool->next_id) && !full; id = last) {
			last = id + XV_COMPACT_SCAN;
			spin_lock_irqsave(&pool->lock, irqflags);
			for (; id < last && id < pool->next_id; id++) {
				area = xv_area_of(pool, id);
				if (!xv_compact_candidate(area, waste))
					continue;
				if (nr == XV_COMPACT_AREAS ||
				    bytes + area->used > XV_COMPACT_BYTES) {
					full = true;
					break;
				}
				xv_isolate(pool, id, true);
				bytes += area->used;
				ids[nr++] = id;
			}
			spin_unlock_irqrestore(&pool->lock, irqflags);
			cond_resched();
		}
	}
	return nr;
}

/* Pages this xv_compact() has given back so far, less those it took. */
static long xv_compact_net(struct xv_pool *pool)
{
	unsigned long irqflags;
	long net;

	spin_lock_irqsave(&pool->lock, irqflags);
	net = (long)pool->compact_freed - (long)pool->compact_grown;
	spin_unlock_irqrestore(&pool->lock, irqflags);
	return net;
}

/* Put back what is left of a round's areas and forget the tries. */
static void xv_compact_release(struct xv_pool *pool, const u32 *ids, unsigned int nr,
			       bool untry)
{
	unsigned long irqflags;
	struct xv_area *area;
	unsigned int i;
	u32 id;

	for (i = 0; i < nr; i++) {
		spin_lock_irqsave(&pool->lock, irqflags);
		/* emptied areas were released; an id may be in use again */
		area = xv_area_get(pool, ids[i]);
		if (area && area->flags & XV_AREA_ISOLATED)
			xv_isolate(pool, ids[i], false);
		spin_unlock_irqrestore(&pool->lock, irqflags);
	}
	if (!untry)
		return;
	/* in chunks, as xv_compact_select() scans: interrupts stay off briefly */
	for (id = 1; id < READ_ONCE(pool->next_id); ) {
		spin_lock_irqsave(&pool->lock, irqflags);
		for (i = 0; i < XV_COMPACT_SCAN && id < pool->next_id; i++, id++) {
			area = xv_area_of(pool, id);
			if (!xv_slot_free(area))
				area->flags &= ~XV_AREA_TRIED;
		}
		spin_unlock_irqrestore(&pool->lock, irqflags);
		cond_resched();
	}
}

/**
 * xv_compact() - move objects out of sparse areas and free their pages
 * @pool: the pool
 * @walk: the owner's walk over its live handles: called with @pool and
 *	@arg, it must call xv_migrate() on every handle it holds, each under
 *	whatever lock keeps that handle from being mapped, read, written or
 *	freed meanwhile (and it stores the handle xv_migrate() leaves)
 * @arg: passed to @walk
 *
 * Handles name places, so a moved object gets a new handle: the owner,
 * not the pool, knows where handles are kept, hence @walk.  In rounds:
 * xvmalloc isolates the sparsest areas (their free blocks leave the free
 * lists, so nothing new is placed there), @walk moves every object the
 * owner has in them into blocks elsewhere, and each area emptied goes
 * back to the page allocator whole; what could not be emptied (an object
 * just allocated and not yet in the owner's table, or memory ran out) is
 * put back on the lists.  Rounds go on while they free pages and areas
 * remain that were not tried.  Moves allocate with GFP_NOWAIT and the
 * copy goes through a buffer of the pool: nothing sleeps under @walk's
 * locks.  Allocation, freeing and mapping go on meanwhile on other CPUs.
 *
 * Context: process context, may sleep; one xv_compact() per pool at a
 * time (others wait).  @walk runs in the calling task.
 * Return: pages given back by the areas compacted less the pages the
 * moves took (what pages_compacted in xv_get_stats() grows by).
 */
unsigned long xv_compact(struct xv_pool *pool, void (*walk)(struct xv_pool *, void *),
			 void *arg)
{
	unsigned long net, irqflags;
	unsigned int nr;
	long before;
	u32 *ids;
	void *buf;

	might_sleep();
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	ids = kmalloc_array(XV_COMPACT_AREAS, sizeof(*ids), GFP_KERNEL);
	if (!buf || !ids) {
		kfree(ids);
		kfree(buf);
		return 0;
	}
	mutex_lock(&pool->compact_lock);
	pool->compact_buf = buf;
	WRITE_ONCE(pool->compactor, current);
	for (;;) {
		nr = xv_compact_select(pool, ids);
		if (!nr)
			break;
		before = xv_compact_net(pool);
		walk(pool, arg);
		xv_compact_release(pool, ids, nr, false);
		if (xv_compact_net(pool) <= before || fatal_signal_pending(current))
			break;
		cond_resched();
	}
	xv_compact_release(pool, ids, 0, true);
	WRITE_ONCE(pool->compactor, NULL);
	pool->compact_buf = NULL;
	spin_lock_irqsave(&pool->lock, irqflags);
	net = pool->compact_freed > pool->compact_grown ?
	      pool->compact_freed - pool->compact_grown : 0;
	pool->pages_compacted += net;
	pool->compact_freed = 0;
	pool->compact_grown = 0;
	spin_unlock_irqrestore(&pool->lock, irqflags);
	mutex_unlock(&pool->compact_lock);
	kfree(ids);
	kfree(buf);
	return net;
}
EXPORT_SYMBOL_GPL(xv_compact);

/* Is @handle mapped on some CPU?  A debugging check (CONFIG_DEBUG_VM). */
static bool xv_mapped_somewhere(struct xv_pool *pool, unsigned long handle)
{
	struct xv_map_state *st;
	int cpu;

	if (!IS_ENABLED(CONFIG_DEBUG_VM))
		return false;
	for_each_possible_cpu(cpu) {
		st = per_cpu_ptr(&xv_map_state, cpu);
		if (READ_ONCE(st->pool) == pool && READ_ONCE(st->handle) == handle)
			return true;
	}
	return false;
}

/**
 * xv_migrate() - move one object out of an area xv_compact() isolated
 * @pool: the pool
 * @handle: where the owner keeps the object's handle; set to the new
 *	handle if the object moved
 *
 * Only for xv_compact()'s @walk, in the task running it.  An object in an
 * isolated area is copied to a new block (allocated with GFP_NOWAIT, never
 * in an isolated area) and the old block freed; any other object, a
 * whole-page one included, stays where it is.  The caller holds the
 * owner's lock for *@handle: the object must not be mapped, read,
 * written or freed until *@handle has been stored.
 *
 * Context: any context the walk holds; does not sleep.
 * Return: 1 if the object moved, 0 if it stays, -ENOMEM if no block could
 * be had, -EBUSY if it is mapped (a bug, warned once), -EINVAL if called
 * outside xv_compact()'s walk.
 */
int xv_migrate(struct xv_pool *pool, unsigned long *handle)
{
	unsigned long old = *handle, irqflags;
	struct xv_area *area;
	unsigned int grew;
	u32 size, new;

	if (WARN_ONCE(READ_ONCE(pool->compactor) != current,
		      "xvmalloc: pool %s: %s() outside xv_compact()\n", pool->name, __func__))
		return -EINVAL;
	if (!old || xv_is_whole(old) || upper_32_bits(old))
		return 0;
	/* the owner holds @old live: its area stays, its flags are ours */
	area = xv_area_get(pool, xv_addr_id(old));
	if (!area || !(READ_ONCE(area->flags) & XV_AREA_ISOLATED))
		return 0;
	if (WARN_ONCE(xv_mapped_somewhere(pool, old),
		      "xvmalloc: pool %s: handle %#lx mapped while compacted\n",
		      pool->name, old))
		return -EBUSY;
	size = xv_obj_size(pool, old);
	if (!size)
		return 0;	/* not a live object: xv_obj_size() warned */
	new = xv_alloc_packed(pool, size, GFP_NOWAIT | __GFP_NOWARN, false, &grew);
	if (!new)
		return -ENOMEM;
	if (grew) {
		spin_lock_irqsave(&pool->lock, irqflags);
		pool->compact_grown += grew;
		spin_unlock_irqrestore(&pool->lock, irqflags);
	}
	xv_read(pool, old, pool->compact_buf);
	xv_write(pool, new, pool->compact_buf);
	WRITE_ONCE(*handle, new);
	xv_free(pool, old);
	return 1;
}
EXPORT_SYMBOL_GPL(xv_migrate);

/**
 * xv_compactable_pages() - about how many pages xv_compact() could free
 * @pool: the pool
 *
 * The pages the areas hold beyond their live blocks and one page of slack
 * per area: an estimate from two counters (for a shrinker's count), not a
 * promise.
 *
 * Context: any context; takes no lock.
 */
unsigned long xv_compactable_pages(struct xv_pool *pool)
{
	unsigned long area_pages = READ_ONCE(pool->pages_total) - READ_ONCE(pool->whole_objects);
	unsigned long live = DIV_ROUND_UP(READ_ONCE(pool->used_bytes), PAGE_SIZE);
	unsigned long slack = live + READ_ONCE(pool->nr_areas);

	return area_pages > slack ? area_pages - slack : 0;
}
EXPORT_SYMBOL_GPL(xv_compactable_pages);

/* ---- consistency check -------------------------------------------------- */

#define XV_CHECK_MAX_REPORTS	10

struct xv_checker {
	struct xv_pool *pool;
	struct xv_pool_check info;
	u64 bytes_requested;
	u64 unlisted;		/* free blocks of isolated areas: on no list */
	unsigned long pages;
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

/* Bit i set for each page i of an area under bytes [start, end). */
static u32 xv_page_mask(u32 start, u32 end)
{
	u32 first, last;

	xv_span(start, end, &first, &last);
	return (2U << last) - (1U << first);
}

/* Walk the blocks of area @id; false if the walk had to stop early. */
static bool xv_check_area(struct xv_checker *c, u32 id)
{
	const struct xv_area *area = xv_area_of(c->pool, id);
	u32 off = 0, hdr, bsize, osize, end, present = 0, needed = 0, used = 0;
	bool prev_free = false;
	unsigned int i;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (!area->pages[i])
			continue;
		present |= 1U << i;
		c->pages++;
		if (PageHighMem(area->pages[i]))
			c->highmem++;
	}
	c->info.areas++;
	while (off < XV_AREA_SIZE) {
		if (!(present & 1U << (off >> PAGE_SHIFT))) {
			xv_bad(c, id, off, "block header in missing page %u", off >> PAGE_SHIFT);
			return false;
		}
		hdr = xv_rd(area, off);
		bsize = xv_hdr_bsize(hdr);
		if (bsize < XV_MIN_BLOCK || bsize > XV_AREA_SIZE - off) {
			xv_bad(c, id, off, "header %#x: bad block size %u", hdr, bsize);
			return false;
		}
		end = off + bsize;
		if (!(hdr & XV_HDR_PREV_FREE) != !prev_free)
			xv_bad(c, id, off, "header %#x: prev-free flag wrong", hdr);
		if (hdr & XV_HDR_FREE) {
			if (prev_free)
				xv_bad(c, id, off, "two free blocks in a row");
			if (xv_hdr_osize(hdr))
				xv_bad(c, id, off, "free block header %#x has an object size", hdr);
			needed |= xv_page_mask(off, off + XV_FREE_HEAD);
			if (end < XV_AREA_SIZE) {
				needed |= xv_page_mask(end - XV_HDR_SIZE, end);
				if (present & 1U << ((end - XV_HDR_SIZE) >> PAGE_SHIFT) &&
				    xv_rd(area, end - XV_HDR_SIZE) != hdr)
					xv_bad(c, id, off, "footer %#x does not match header %#x",
					       xv_rd(area, end - XV_HDR_SIZE), hdr);
			}
			if (bsize == XV_AREA_SIZE)
				xv_bad(c, id, off, "entirely free area was not released");
			c->info.free_blocks++;
			c->info.free_bytes += bsize;
			if (area->flags & XV_AREA_ISOLATED)
				c->unlisted++;
			c->info.largest_free = max_t(u64, c->info.largest_free, bsize);
		} else {
			osize = xv_hdr_osize(hdr);
			if (!osize || osize > XV_MAX_PACKED || xv_block_size(osize) > bsize ||
			    bsize - xv_block_size(osize) >= XV_MIN_BLOCK)
				xv_bad(c, id, off, "object size %u in a block of %u", osize, bsize);
			needed |= xv_page_mask(off, end);
			c->info.used_blocks++;
			c->info.used_bytes += bsize;
			used += bsize;
			c->bytes_requested += osize;
			if (osize && xv_crosses(off + XV_HDR_SIZE, osize))
				c->info.crossing_objects++;
		}
		prev_free = hdr & XV_HDR_FREE;
		off = end;
	}
	if (needed & ~present)
		xv_bad(c, id, 0, "pages %#x under blocks are missing", needed & ~present);
	if (present & ~needed)
		xv_bad(c, id, 0, "free pages %#x were not released", present & ~needed);
	if (used != area->used)
		xv_bad(c, id, 0, "%u bytes of blocks in use, the area counts %u", used,
		       area->used);
	return true;
}

/* Is @addr the address of a block in an area in use? */
static const struct xv_area *xv_check_addr(struct xv_checker *c, u32 addr)
{
	const struct xv_area *area = xv_area_get(c->pool, xv_addr_id(addr));

	u32 off = xv_addr_off(addr);

	if (!area || off > XV_AREA_SIZE - XV_MIN_BLOCK ||
	    xv_missing(area, off, off + XV_FREE_HEAD))
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
		if (prev && xv_rd(area, off + XV_PREV_OFF) != prev)
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
 * Whole-page objects are on no list: only their counters are checked (the
 * sizes they add up to must be whole-page sizes, their pages and highmem
 * pages must be what the pool's totals hold beyond the areas').
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
	if (walked && listed + c.unlisted != c.info.free_blocks)
		xv_bad(&c, 0, 0, "%llu free blocks (%llu isolated) but %llu on lists",
		       c.info.free_blocks, c.unlisted, listed);
	if (walked && c.info.used_bytes != pool->used_bytes)
		xv_bad(&c, 0, 0, "%llu bytes of blocks in use, the pool counts %llu",
		       c.info.used_bytes, pool->used_bytes);
	c.info.whole_objects = pool->whole_objects;
	if (pool->whole_highmem > pool->whole_objects ||
	    pool->whole_bytes < (u64)pool->whole_objects * (XV_MAX_PACKED + 1) ||
	    pool->whole_bytes > (u64)pool->whole_objects * XV_MAX_OBJ ||
	    pool->whole_objects > pool->objects || pool->whole_bytes > pool->bytes_requested)
		xv_bad(&c, 0, 0, "whole pages: %lu of %llu bytes (%lu high); all: %llu of %llu",
		       pool->whole_objects, pool->whole_bytes, pool->whole_highmem,
		       pool->objects, pool->bytes_requested);
	if (walked && (c.info.used_blocks + pool->whole_objects != pool->objects ||
		       c.bytes_requested + pool->whole_bytes != pool->bytes_requested))
		xv_bad(&c, 0, 0, "%llu objects of %llu bytes, counters say %llu of %llu",
		       c.info.used_blocks + pool->whole_objects,
		       c.bytes_requested + pool->whole_bytes, pool->objects,
		       pool->bytes_requested);
	c.pages += pool->whole_objects;
	c.highmem += pool->whole_highmem;
	if (c.info.areas != pool->nr_areas || free_slots + pool->nr_areas + 1 != pool->next_id ||
	    c.pages != pool->pages_total || c.highmem != pool->pages_highmem)
		xv_bad(&c, 0, 0, "%llu areas, %lu pages (%lu highmem), counters say %u, %lu (%lu)",
		       c.info.areas, c.pages, c.highmem, pool->nr_areas, pool->pages_total,
		       pool->pages_highmem);
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
	BUILD_BUG_ON(XV_AREA_PAGES > 32);
	/* a block address never has the whole-page tag */
	BUILD_BUG_ON(((u64)XV_MAX_AREAS << XV_OFF_BITS | XV_OFF_MASK) >= XV_WHOLE_TAG);
	BUILD_BUG_ON(XV_MAX_PACKED + XV_HDR_SIZE > PAGE_SIZE);

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
MODULE_VERSION(RAMZSWAP_VERSION);
