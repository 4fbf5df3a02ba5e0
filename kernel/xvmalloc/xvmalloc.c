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
 * 4-page area with 12 bytes spilling into its fourth page (1.33 pages
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
 * Areas.  Blocks live in areas: linear spaces of XV_AREA_SIZE (64 KiB)
 * bytes backed by XV_AREA_PAGES (16) order-0 pages that need not be
 * contiguous, allocated with the caller's gfp plus __GFP_HIGHMEM.  Blocks
 * are laid end to end and may cross page boundaries, so an object larger
 * than PAGE_SIZE / 2 no longer pins a page that only small objects could
 * share (the fragmentation of the 2009 allocator, where a block could not
 * leave its page).  Areas are sparse: a free block keeps nothing in its
 * pages (see Free blocks), so a page lying entirely inside one leaves the
 * area at once, and comes back when an allocation needs it; an area left
 * entirely free is released whole.  So the pool grows and shrinks page by
 * page and a new area starts with only the pages its first object needs.
 * Areas are numbered; the pool's area table (a directory of one-page
 * chunks of struct xv_area, each the list of an area's pages) turns an id
 * into its pages in O(1) without the pool lock.
 *
 * Why 16 pages.  Filled with no frees, a pool wastes the free rest at the
 * end of each area's last page that no later, smaller object took: with
 * compressed pages of a narrow range of sizes about half an object per
 * area.  On the bench's swap mix (a 96 MiB hog, a fifth of its pages
 * incompressible, held paged out; 6.1 perf guest, 2026-12-04) pool bytes /
 * bytes stored were 1.024 with 4-page areas, 1.013 with 8 and 1.0075 with
 * 16 (zsmalloc: 1.030); in the host build, objects of 1024..3072 bytes
 * fill to a density of 0.973, 0.985 and 0.990.  A larger area costs no
 * memory up front (areas are sparse) and less lowmem per pool byte; what
 * grows is an area's chain of free blocks, walked on unlink and on
 * coalescing: 1.6 to 2.6 blocks after a churn with 4 pages, 5.6 to 8.9
 * with 16 (host build).
 *
 * The stash.  A page an area gives up goes first to the pool's stash, up
 * to XV_STASH_MAX (8) pages and one page in XV_STASH_FRACTION (32) of the
 * pages in areas (so a pool of under 32 pages, or an emptied one, keeps
 * none); a growth takes stash pages under the lock before it drops the
 * lock to allocate, and when it does drop it, it also allocates (best
 * effort) what refills the stash, so a run of growths costs one drop of
 * the lock rather than one per page.  Stash pages are pool memory: they
 * count in pages_total and pages_highmem (xv_get_stats() reports them as
 * pages_stashed, ramzswap's mm_stat in its pool pages), xv_compact() gives
 * them back first (the stash holds nothing while it runs, so its "pages
 * given back" are) and xv_destroy_pool() frees them.
 *
 * Addresses.  A block is named by a u32 "block address": area id << 14 |
 * offset / 4.  Packed objects' handles are block addresses (so 0 is never
 * a valid handle).
 * Ids are recycled LIFO through the table's free slots.  Where unsigned
 * long has 32 bits (i386) the top bit of a handle is the whole-page tag,
 * so block addresses have 31 bits: at most 2^17 - 1 areas (8 GiB of
 * packed objects) per pool; elsewhere 2^18 - 1 (16 GiB).
 *
 * Blocks.  An allocated block starts with a u32 header: block size in
 * 4-byte units and the exact size asked for (xv_obj_size() returns it),
 * so the per-object overhead is the 4-byte header plus rounding to 4
 * bytes (and, rarely, a tail of under 16 bytes too small to split off).
 * xv_free() leaves the free flag in it, so a stale handle is refused while
 * the page stays.  Blocks are 4-byte aligned: no header straddles a page.
 *
 * Free blocks live in lowmem.  A free block (16 bytes at least) is a
 * struct xv_node of 16 bytes in the pool's node table (one-page chunks,
 * indexed by u32 node ids): its free-list links, its offset and size, and
 * the link to the next free block of its area by offset; the area's entry
 * holds the first, the last holds XV_NODE_END | area id (which is how a
 * node found on a free list names its area).  Its own pages hold nothing
 * of it.  So free-list search, unlink, insert and coalescing (the free
 * neighbours of a freed block are found on its area's chain) touch no
 * highmem: xv_malloc() maps one page, to write the object's header, and
 * xv_free() one, to read the header and mark it freed.  Under the pool
 * lock a call keeps the pages it mapped (up to XV_KMC_SLOTS) mapped for
 * its further accesses and unmaps them in reverse order before the lock is
 * dropped: every kmap_local_page() of a highmem page costs a PTE update
 * and a TLB flush on unmap.  A chain walk is bounded by the free blocks of
 * one area (5.6 to 8.9 after a churn in the host build), not by the pool.
 *
 * Nodes.  An allocation never needs a new node (the object takes the
 * front of a free block, which shrinks or goes; a new area's free rest
 * takes one, allocated with the lock dropped like its pages).  A free
 * that coalesces with neither neighbour does: xv_malloc() keeps
 * XV_NODES_LOW (32) spare, best effort and without the lock, and xv_free()
 * adds a chunk with GFP_NOWAIT if none is spare.  If that fails too the
 * block is left pending: its header says so (XV_HDR_PENDING), the next
 * u32 links it to the pool's other pending blocks, it still counts as
 * used space, and xv_malloc() (one per call) or xv_compact() (all) settles
 * it later; an object is never lost and xv_free() never fails.  When a
 * chunk and 2 * XV_NODES_LOW nodes are spare, xv_free() moves the nodes in
 * use out of the last chunk and frees it: the table follows the free
 * blocks down.
 *
 * Lowmem cost.  An area's entry (72 bytes on i386, 136 on 64-bit) plus a
 * node per free block, plus the chunks' slack: meta_bytes in
 * xv_get_stats() counts the table chunks and the node directory exactly
 * (xv_check_pool() recounts them); the fixed part per pool (struct
 * xv_pool and the area directory: 10.7 KiB on i386) is not in it.
 * Measured in the host build (tests/unit/xvmalloc_host, meta_bytes /
 * bytes_in_pool after the fill and after ten rounds of churn of 10000
 * objects, four size mixes, compressed-page-like sizes among them):
 * 0.14% to 0.16% after the fill and 0.29% to 0.41% after the churn with
 * the i386 layout (-m32; the compressed-page-like mix the highest), 0.24%
 * to 0.51% on 64-bit (8-byte page pointers); so under 0.5%.  After
 * freeing three objects in four (sparse areas, and area table chunks are
 * never freed) it reaches about 0.57% (i386) and 0.76% (64-bit), until
 * xv_compact().
 *
 * Free lists.  Two-level segregated fit (Masmano et al., 2004): the first
 * level splits sizes by power of two, the second divides each power of
 * two into 32 linear ranges (sizes below 128 bytes get one list per 4-byte
 * size).  A bitmap per level and find-first-set pick the first non-empty
 * list whose every block fits (after checking the head of the request's
 * own list), so xv_malloc() and xv_free() do a bounded number of steps
 * whatever the size of the pool: at most 2 (alloc) or 3 (free) list
 * removals or insertions.  Neighbours are coalesced at once on free: no
 * two free blocks are ever adjacent.  On a split the object takes the
 * front of the free block.
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
 * table entry counts its live block bytes (@used) for the choice.  Before
 * the rounds xv_compact() gives the stash back and settles the pending
 * blocks; the pages it returns count those.
 *
 * Locking.  One spinlock per pool, taken with interrupts disabled, so any
 * context whose gfp allows the allocation may call xv_malloc() and
 * xv_free().  When the block it found lacks pages the stash cannot give,
 * or no block fits and a new area is needed, xv_malloc() drops the lock,
 * allocates the pages (at most one more than the object spans, plus what
 * refills the stash; rarely a table or node chunk too) with the caller's
 * gfp, retakes the lock and looks again: with GFP_NOWAIT it never sleeps.
 * Pages are freed after the lock is dropped; xv_free() may allocate a
 * node chunk under the lock, with GFP_NOWAIT only.  Nodes are only read
 * under the lock.
 * xv_map(), xv_read(), xv_write() and xv_obj_size() take no lock: a live
 * object's header does not change, and a whole-page object's private word
 * not at all.
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

static u32 xv_hdr_used(u32 bsize, u32 osize)
{
	return (bsize >> XV_ALIGN_SHIFT) << XV_HDR_BSIZE_SHIFT | osize << XV_HDR_OSIZE_SHIFT;
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

/*
 * The mapping cache of one xv_malloc() or xv_free() call, under the pool
 * lock: the pages it has mapped, in the order kmap_local_page() mapped
 * them, kept mapped for the call's further accesses to the same pages
 * (a block's header and, for a pending block, the link beside it: one
 * page, two at most).  Once XV_KMC_SLOTS pages are held, an access to
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

/* ---- free-block nodes (lowmem) ------------------------------------------ */

static struct xv_node *xv_node(struct xv_pool *pool, u32 nid)
{
	return &pool->ndir[nid / XV_CHUNK_NODES][nid % XV_CHUNK_NODES];
}

static bool xv_chain_end(u32 nid)
{
	return !nid || nid & XV_NODE_END;
}

/* The area of node @nid: the id its area's chain ends with. */
static u32 xv_node_area(struct xv_pool *pool, u32 nid)
{
	while (!(nid & XV_NODE_END))
		nid = xv_node(pool, nid)->anext;
	return nid & ~XV_NODE_END;
}

static u32 xv_node_get(struct xv_pool *pool)
{
	u32 nid = pool->node_free;

	if (nid) {
		pool->node_free = xv_node(pool, nid)->next;
		pool->nodes_spare--;
	}
	return nid;
}

static void xv_node_put(struct xv_pool *pool, u32 nid)
{
	xv_node(pool, nid)->next = pool->node_free;
	pool->node_free = nid;
	pool->nodes_spare++;
}

/* A node chunk and, if the directory is full, a directory twice as long. */
struct xv_nodes_grow {
	struct xv_node *chunk;
	struct xv_node **dir;
	u32 dir_len;
};

static int xv_nodes_alloc(struct xv_pool *pool, struct xv_nodes_grow *ng, gfp_t gfp)
{
	u32 len = READ_ONCE(pool->ndir_len);

	if (!ng->chunk)
		ng->chunk = kmalloc(PAGE_SIZE, gfp);
	if (READ_ONCE(pool->node_chunks) >= len && !ng->dir) {
		ng->dir_len = max_t(u32, 2 * len, XV_NDIR_MIN);
		ng->dir = kmalloc_array(ng->dir_len, sizeof(*ng->dir), gfp);
	}
	return ng->chunk ? 0 : -ENOMEM;
}

/* Under the lock: add @ng's chunk to the node table if it fits. */
static void xv_nodes_install(struct xv_pool *pool, struct xv_nodes_grow *ng)
{
	struct xv_node **old;
	u32 i, base;

	if (pool->node_chunks == pool->ndir_len) {
		if (!ng->dir || ng->dir_len <= pool->ndir_len)
			return;
		old = pool->ndir;
		if (pool->ndir_len)
			memcpy(ng->dir, old, pool->ndir_len * sizeof(*old));
		pool->meta_bytes += (ng->dir_len - pool->ndir_len) * sizeof(*old);
		pool->ndir = ng->dir;
		pool->ndir_len = ng->dir_len;
		ng->dir = old;		/* freed by the caller */
	}
	if (!ng->chunk)
		return;
	base = pool->node_chunks * XV_CHUNK_NODES;
	pool->ndir[pool->node_chunks++] = ng->chunk;
	ng->chunk = NULL;
	pool->meta_bytes += PAGE_SIZE;
	/* node 0 is never handed out: it means "none" */
	for (i = XV_CHUNK_NODES; i-- > (base ? 0 : 1); )
		xv_node_put(pool, base + i);
}

static void xv_nodes_release(struct xv_nodes_grow *ng)
{
	kfree(ng->chunk);
	kfree(ng->dir);
	ng->chunk = NULL;
	ng->dir = NULL;
}

/* Under the lock, in any context: try to get spare nodes without sleeping. */
static bool xv_nodes_now(struct xv_pool *pool)
{
	struct xv_nodes_grow ng = {};

	if (pool->node_free)
		return true;
	xv_nodes_alloc(pool, &ng, GFP_NOWAIT | __GFP_NOWARN);
	xv_nodes_install(pool, &ng);
	xv_nodes_release(&ng);
	return pool->node_free;
}

/* Node @nid, in use, moves to @to: whatever links to it follows. */
static void xv_node_move(struct xv_pool *pool, u32 nid, u32 to)
{
	struct xv_node *n = xv_node(pool, nid);
	u32 id = xv_node_area(pool, nid), fl, sl, cur;
	struct xv_area *area = xv_area_of(pool, id);

	*xv_node(pool, to) = *n;
	if (!(area->flags & XV_AREA_ISOLATED)) {
		xv_class(n->size << XV_ALIGN_SHIFT, &fl, &sl);
		if (n->prev)
			xv_node(pool, n->prev)->next = to;
		else
			pool->free_lists[fl][sl] = to;
		if (n->next)
			xv_node(pool, n->next)->prev = to;
	}
	if (area->free_first == nid) {
		area->free_first = to;
		return;
	}
	for (cur = area->free_first; xv_node(pool, cur)->anext != nid; )
		cur = xv_node(pool, cur)->anext;
	xv_node(pool, cur)->anext = to;
}

/*
 * Under the lock: if a chunk and 2 * XV_NODES_LOW nodes are spare, empty the last
 * chunk of the node table (its nodes in use move to spare ones below) and
 * free it, so the table follows the number of free blocks down.  Bounded:
 * XV_CHUNK_NODES moves, each a walk of one area's chain.
 */
static void xv_nodes_shrink(struct xv_pool *pool)
{
	u32 last = pool->node_chunks - 1, base = last * XV_CHUNK_NODES, nid, *link;
	struct xv_node *chunk;

	if (pool->node_chunks < 2 || pool->nodes_spare < XV_CHUNK_NODES + 2 * XV_NODES_LOW)
		return;
	/* the last chunk's spare nodes leave the spare list, marked by anext 0 */
	for (link = &pool->node_free; *link; ) {
		nid = *link;
		if (nid < base) {
			link = &xv_node(pool, nid)->next;
			continue;
		}
		*link = xv_node(pool, nid)->next;
		xv_node(pool, nid)->anext = 0;
		pool->nodes_spare--;
	}
	for (nid = base; nid < base + XV_CHUNK_NODES; nid++) {
		if (xv_node(pool, nid)->anext)
			xv_node_move(pool, nid, xv_node_get(pool));
	}
	chunk = pool->ndir[last];
	pool->ndir[last] = NULL;
	pool->node_chunks--;
	pool->meta_bytes -= PAGE_SIZE;
	kfree(chunk);
}

/* ---- free lists ---------------------------------------------------------- */

static void xv_list_insert(struct xv_pool *pool, u32 nid)
{
	struct xv_node *n = xv_node(pool, nid);
	u32 fl, sl, head;

	xv_class(n->size << XV_ALIGN_SHIFT, &fl, &sl);
	head = pool->free_lists[fl][sl];
	n->next = head;
	n->prev = 0;
	if (head)
		xv_node(pool, head)->prev = nid;
	pool->free_lists[fl][sl] = nid;
	pool->sl_bitmap[fl] |= 1U << sl;
	pool->fl_bitmap |= 1U << fl;
	xv_trace_listop(pool);
}

static void xv_list_remove(struct xv_pool *pool, u32 nid)
{
	struct xv_node *n = xv_node(pool, nid);
	u32 fl, sl;

	xv_class(n->size << XV_ALIGN_SHIFT, &fl, &sl);
	if (n->prev) {
		xv_node(pool, n->prev)->next = n->next;
	} else {
		pool->free_lists[fl][sl] = n->next;
		if (!n->next) {
			pool->sl_bitmap[fl] &= ~(1U << sl);
			if (!pool->sl_bitmap[fl])
				pool->fl_bitmap &= ~(1U << fl);
		}
	}
	if (n->next)
		xv_node(pool, n->next)->prev = n->prev;
	xv_trace_listop(pool);
}

/*
 * A free block of at least @need bytes: its node, or 0.  Looks at the
 * head of the list @need belongs to, then at the first non-empty list
 * above it, all of whose blocks are large enough.
 */
static u32 xv_find(struct xv_pool *pool, u32 need)
{
	u32 fl, sl, nid, map;

	xv_class(need, &fl, &sl);
	nid = pool->free_lists[fl][sl];
	if (nid && xv_node(pool, nid)->size << XV_ALIGN_SHIFT >= need)
		return nid;
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
	return pool->free_lists[fl][__ffs(map)];
}

/* Take node @nid out of its area's chain (@area's free blocks by offset). */
static void xv_chain_unlink(struct xv_pool *pool, struct xv_area *area, u32 nid)
{
	u32 next = xv_node(pool, nid)->anext, cur = area->free_first;

	if (cur == nid) {
		area->free_first = next & XV_NODE_END ? 0 : next;
		return;
	}
	while (xv_node(pool, cur)->anext != nid)
		cur = xv_node(pool, cur)->anext;
	xv_node(pool, cur)->anext = next;
}

/*
 * Carve an object of @size bytes (a block of @need bytes) out of the front
 * of free block @nid of area @id, taking the block off its list if
 * @listed.  Writes the object's header: the only highmem access.  Returns
 * the object's block address.
 */
static u32 xv_take(struct xv_pool *pool, struct xv_kmc *c, u32 id, u32 nid, bool listed,
		   u32 need, u32 size)
{
	struct xv_area *area = xv_area_of(pool, id);
	struct xv_node *n = xv_node(pool, nid);
	u32 off = n->off << XV_ALIGN_SHIFT, bsize = n->size << XV_ALIGN_SHIFT;

	if (listed)
		xv_list_remove(pool, nid);
	if (bsize - need < XV_MIN_BLOCK) {
		need = bsize;
		xv_chain_unlink(pool, area, nid);
		xv_node_put(pool, nid);
	} else {
		n->off += need >> XV_ALIGN_SHIFT;
		n->size -= need >> XV_ALIGN_SHIFT;
		xv_list_insert(pool, nid);
	}
	pool->objects++;
	pool->bytes_requested += size;
	area->used += need >> XV_ALIGN_SHIFT;
	pool->used_bytes += need;
	xv_cwr(c, area, off, xv_hdr_used(need, size));
	return xv_addr(id, off);
}

/* ---- pages: growth, sparse areas, the stash ------------------------------ */

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

/*
 * How many pages the stash may hold: none while xv_compact() runs (what it
 * frees must go back), else up to XV_STASH_MAX but at most one page in
 * XV_STASH_FRACTION of the pages in areas, so a small pool keeps none and
 * an emptied pool holds no page.
 */
static unsigned int xv_stash_cap(const struct xv_pool *pool)
{
	unsigned long area_pages = pool->pages_total - pool->whole_objects - pool->stash_nr;

	if (pool->compactor)
		return 0;
	return min_t(unsigned long, XV_STASH_MAX, area_pages / XV_STASH_FRACTION);
}

/* Under the lock: a page leaves an area; to the stash or to @out. */
static void xv_page_out(struct xv_pool *pool, struct page *page, struct page **out,
			unsigned int *n)
{
	if (pool->stash_nr < xv_stash_cap(pool)) {
		pool->stash[pool->stash_nr++] = page;
		return;
	}
	pool->pages_total--;
	if (PageHighMem(page))
		pool->pages_highmem--;
	out[(*n)++] = page;
}

/* Under the lock: trim the stash to its cap, the excess to @out. */
static void xv_stash_trim(struct xv_pool *pool, struct page **out, unsigned int *n)
{
	unsigned int cap = xv_stash_cap(pool);

	while (pool->stash_nr > cap) {
		struct page *page = pool->stash[--pool->stash_nr];

		pool->pages_total--;
		if (PageHighMem(page))
			pool->pages_highmem--;
		out[(*n)++] = page;
	}
}

/* Under the lock: the pages entirely inside free block [start, end) go. */
static void xv_release_free(struct xv_pool *pool, struct xv_area *area, u32 start,
			    u32 end, struct page **out, unsigned int *n)
{
	u32 pg = DIV_ROUND_UP(start, PAGE_SIZE), last = end >> PAGE_SHIFT;

	for (; pg < last; pg++) {
		struct page *page = area->pages[pg];

		if (!page)
			continue;
		WRITE_ONCE(area->pages[pg], NULL);
		xv_page_out(pool, page, out, n);
	}
}

/* Pages, table chunks and nodes xv_malloc() allocated with the lock dropped. */
struct xv_grow {
	struct page *pages[XV_AREA_PAGES + XV_STASH_MAX];
	unsigned int nr;
	struct xv_area *chunk;
	struct xv_nodes_grow ng;
};

/* Under the lock: fill the holes under bytes [start, end), stash first. */
static void xv_populate(struct xv_pool *pool, struct xv_area *area, u32 start,
			u32 end, struct xv_grow *g)
{
	u32 pg, last;

	for (xv_span(start, end, &pg, &last); pg <= last; pg++) {
		struct page *page;

		if (area->pages[pg])
			continue;
		if (pool->stash_nr) {
			page = pool->stash[--pool->stash_nr];
		} else {
			page = g->pages[--g->nr];
			g->pages[g->nr] = NULL;
			pool->pages_total++;
			if (PageHighMem(page))
				pool->pages_highmem++;
		}
		WRITE_ONCE(area->pages[pg], page);
	}
}

/* Under the lock: what is left of @g's pages goes to the stash, if it has room. */
static void xv_grow_stash(struct xv_pool *pool, struct xv_grow *g)
{
	unsigned int cap = xv_stash_cap(pool);

	while (g->nr && pool->stash_nr < cap) {
		struct page *page = g->pages[--g->nr];

		pool->stash[pool->stash_nr++] = page;
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
	xv_nodes_release(&g->ng);
}

/*
 * Without the lock: have @g hold @pages pages and, if @chunk, a table
 * chunk; if @nodes, a node chunk.  Then, best effort, @extra more pages
 * for the stash: one drop of the lock brings what the next few
 * allocations need.
 */
static int xv_grow_alloc(struct xv_pool *pool, struct xv_grow *g, unsigned int pages,
			 unsigned int extra, bool chunk, bool nodes, gfp_t flags)
{
	gfp_t gfp = flags & ~(GFP_ZONEMASK | __GFP_COMP | __GFP_ZERO);

	if (chunk && !g->chunk) {
		if (!xv_fail_now(pool))
			g->chunk = kzalloc(PAGE_SIZE, gfp);
		if (!g->chunk)
			return -ENOMEM;
	}
	if (nodes && xv_nodes_alloc(pool, &g->ng, gfp))
		return -ENOMEM;
	while (g->nr < pages) {
		struct page *page = NULL;

		if (!xv_fail_now(pool))
			page = alloc_page(gfp | __GFP_HIGHMEM);
		if (!page)
			return -ENOMEM;
		g->pages[g->nr++] = page;
	}
	extra = min_t(unsigned int, pages + extra, ARRAY_SIZE(g->pages));
	while (g->nr < extra) {
		struct page *page = alloc_page(gfp | __GFP_HIGHMEM | __GFP_NOWARN);

		if (!page)
			break;
		g->pages[g->nr++] = page;
	}
	return 0;
}

/*
 * Under the lock: take a free id for a new area, back bytes [0, @end) of
 * it and give it one free block (node @nid, on no list) covering it all.
 * Returns the area id.
 */
static u32 xv_install(struct xv_pool *pool, struct xv_grow *g, u32 end, u32 nid)
{
	struct xv_area *area;
	struct xv_node *n;
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
			pool->meta_bytes += PAGE_SIZE;
		}
		area = xv_area_of(pool, id);
		WRITE_ONCE(pool->next_id, id + 1);
	}
	memset(area, 0, sizeof(*area));
	/* born during a compaction: not for it to try (its work stays bounded) */
	if (pool->compactor)
		area->flags = XV_AREA_TRIED;
	xv_populate(pool, area, 0, end, g);
	pool->nr_areas++;
	n = xv_node(pool, nid);
	n->off = 0;
	n->size = XV_AREA_SIZE >> XV_ALIGN_SHIFT;
	n->anext = XV_NODE_END | id;
	area->free_first = nid;
	return id;
}

/* Under the lock: take area @id out of the table; its pages go out. */
static void xv_uninstall(struct xv_pool *pool, u32 id, struct page **out, unsigned int *n)
{
	struct xv_area *area = xv_area_of(pool, id);
	unsigned int i;

	for (i = 0; i < XV_AREA_PAGES; i++) {
		if (area->pages[i])
			xv_page_out(pool, area->pages[i], out, n);
	}
	memset(area, 0, sizeof(*area));
	WRITE_ONCE(area->next_free, (unsigned long)pool->free_id << 1 | 1);
	pool->free_id = id;
	pool->nr_areas--;
}

/*
 * Under the lock: make bytes [off, off + bsize) of area @id, which were an
 * allocated (or pending) block, free: coalesce with the free blocks on
 * either side (found on the area's chain, in lowmem), put the result on
 * its list unless the area is isolated, and give back the pages now
 * entirely free (the area's, if it is all free).  Needs a spare node if
 * neither neighbour is free: returns false, changing nothing, if there is
 * none.
 */
static bool xv_unuse(struct xv_pool *pool, u32 id, u32 off, u32 bsize, struct page **out,
		     unsigned int *n)
{
	struct xv_area *area = xv_area_of(pool, id);
	bool listed = !(area->flags & XV_AREA_ISOLATED);
	u32 uoff = off >> XV_ALIGN_SHIFT, usize = bsize >> XV_ALIGN_SHIFT;
	u32 prev = 0, nid = area->free_first, keep;
	struct xv_node *pn = NULL, *nn = NULL, *k;

	for (; !xv_chain_end(nid); nid = xv_node(pool, nid)->anext) {
		if (xv_node(pool, nid)->off > uoff)
			break;
		prev = nid;
	}
	if (prev && xv_node(pool, prev)->off + xv_node(pool, prev)->size == uoff)
		pn = xv_node(pool, prev);
	if (!xv_chain_end(nid) && xv_node(pool, nid)->off == uoff + usize)
		nn = xv_node(pool, nid);
	if (!pn && !nn) {
		keep = xv_node_get(pool);
		if (!keep)
			return false;
		k = xv_node(pool, keep);
		k->off = uoff;
		k->size = usize;
		if (prev) {
			k->anext = xv_node(pool, prev)->anext;
			xv_node(pool, prev)->anext = keep;
		} else {
			k->anext = area->free_first ? area->free_first : XV_NODE_END | id;
			area->free_first = keep;
		}
	} else if (pn) {
		keep = prev;
		k = pn;
		if (listed)
			xv_list_remove(pool, keep);
		k->size += usize;
		if (nn) {
			if (listed)
				xv_list_remove(pool, nid);
			k->size += nn->size;
			k->anext = nn->anext;
			xv_node_put(pool, nid);
		}
	} else {
		keep = nid;
		k = nn;
		if (listed)
			xv_list_remove(pool, keep);
		k->off = uoff;
		k->size += usize;
	}
	area->used -= usize;
	pool->used_bytes -= bsize;
	if (k->size == XV_AREA_SIZE >> XV_ALIGN_SHIFT) {
		xv_node_put(pool, keep);
		xv_uninstall(pool, id, out, n);
		return true;
	}
	if (listed)
		xv_list_insert(pool, keep);
	xv_release_free(pool, area, k->off << XV_ALIGN_SHIFT,
			(k->off + k->size) << XV_ALIGN_SHIFT, out, n);
	return true;
}

/*
 * Under the lock: turn up to @max pending blocks (frees that found no node,
 * see xv_free()) into free blocks while spare nodes last.
 */
static void xv_settle(struct xv_pool *pool, struct xv_kmc *c, unsigned int max,
		      struct page **out, unsigned int *n)
{
	while (pool->pending && pool->node_free && max--) {
		u32 addr = pool->pending, id = xv_addr_id(addr), off = xv_addr_off(addr);
		struct xv_area *area = xv_area_of(pool, id);
		u32 hdr = xv_crd(c, area, off);

		pool->pending = xv_crd(c, area, off + XV_HDR_SIZE);
		pool->nr_pending--;
		xv_kmc_flush(c);	/* the block's pages may go */
		xv_unuse(pool, id, off, xv_hdr_bsize(hdr), out, n);
	}
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
	while (pool->stash_nr)
		__free_page(pool->stash[--pool->stash_nr]);
	for (i = 0; i < XV_DIR_LEN; i++)
		kfree(pool->dir[i]);
	for (i = 0; i < pool->node_chunks; i++)
		kfree(pool->ndir[i]);
	kfree(pool->ndir);
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
 * pool grows by the pages the object needs, taken from the pool's stash
 * or allocated with @flags with the pool lock dropped.  A larger one gets
 * a page of its own (with @flags, without the lock), holding nothing
 * else: no header, one page.
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
 * added under the object go to *@grew, if not NULL.
 */
static u32 xv_alloc_packed(struct xv_pool *pool, size_t size, gfp_t flags, bool count,
			   unsigned int *grew)
{
	struct page *out[XV_AREA_PAGES + XV_STASH_MAX];
	unsigned int missing = 0, extra, n = 0;
	struct xv_grow grow = {};
	struct xv_kmc kmc = {};
	unsigned long irqflags;
	bool failed = false, chunk, nodes;
	u32 need, addr, nid, id;

	need = xv_block_size(size);
	/* best effort, ahead of need: frees then rarely lack a node */
	if (READ_ONCE(pool->nodes_spare) < XV_NODES_LOW)
		xv_nodes_alloc(pool, &grow.ng, (flags & ~(GFP_ZONEMASK | __GFP_COMP |
						 __GFP_ZERO)) | __GFP_NOWARN);

	spin_lock_irqsave(&pool->lock, irqflags);
	xv_nodes_install(pool, &grow.ng);
	xv_settle(pool, &kmc, 1, out, &n);
	for (;;) {
		chunk = false;
		nodes = false;
		nid = xv_find(pool, need);
		if (nid) {
			/* a free block; its pages may have to come back */
			struct xv_node *fn = xv_node(pool, nid);
			u32 off = fn->off << XV_ALIGN_SHIFT;

			id = xv_node_area(pool, nid);
			missing = xv_missing(xv_area_of(pool, id), off, off + need);
			if (missing <= grow.nr + pool->stash_nr) {
				xv_populate(pool, xv_area_of(pool, id), off, off + need, &grow);
				addr = xv_take(pool, &kmc, id, nid, true, need, size);
				break;
			}
		} else if (!xv_ids_exhausted(pool)) {
			/* a new area, with pages for the object only */
			missing = ((need - 1) >> PAGE_SHIFT) + 1;
			chunk = xv_need_chunk(pool, &grow);
			nodes = !pool->node_free;
			if (missing <= grow.nr + pool->stash_nr && !chunk && !nodes) {
				nid = xv_node_get(pool);
				id = xv_install(pool, &grow, need, nid);
				addr = xv_take(pool, &kmc, id, nid, false, need, size);
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
		missing -= min(missing, pool->stash_nr);
		extra = xv_stash_cap(pool);
		extra = extra > pool->stash_nr ? extra - pool->stash_nr : 0;
		xv_kmc_flush(&kmc);
		spin_unlock_irqrestore(&pool->lock, irqflags);
		while (n)
			__free_page(out[--n]);
		failed = xv_grow_alloc(pool, &grow, missing, extra, chunk, nodes, flags) < 0;
		spin_lock_irqsave(&pool->lock, irqflags);
		xv_nodes_install(pool, &grow.ng);
	}
	xv_grow_stash(pool, &grow);
	xv_kmc_flush(&kmc);
	spin_unlock_irqrestore(&pool->lock, irqflags);
	while (n)
		__free_page(out[--n]);
	xv_grow_release(&grow);
	/* on success, @missing pages were just allocated for the object */
	if (grew)
		*grew = addr ? missing : 0;
	return addr;
}

/**
 * xv_free() - free an object
 * @pool: the pool
 * @handle: from xv_malloc(); 0 is ignored
 *
 * Coalesces the block with free neighbours; pages left entirely free go
 * to the pool's stash or back to the page allocator.  The object must not
 * be mapped.
 *
 * Context: any context.
 */
void xv_free(struct xv_pool *pool, unsigned long handle)
{
	u32 id = xv_addr_id(handle), off = xv_addr_off(handle);
	struct page *out[XV_AREA_PAGES + XV_STASH_MAX];
	struct xv_kmc kmc = {};
	unsigned int n = 0;
	struct xv_area *area;
	unsigned long irqflags;
	u32 hdr, bsize;
	bool isolated;

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
	/* a stale handle to it is refused from now on */
	xv_cwr(&kmc, area, off, xv_hdr_free(bsize));
	isolated = area->flags & XV_AREA_ISOLATED;
	if (!xv_unuse(pool, id, off, bsize, out, &n) &&
	    !(xv_nodes_now(pool) && xv_unuse(pool, id, off, bsize, out, &n))) {
		/* no node to be had: pending until xv_malloc() settles it */
		xv_cwr(&kmc, area, off, xv_hdr_free(bsize) | XV_HDR_PENDING);
		xv_cwr(&kmc, area, off + XV_HDR_SIZE, pool->pending);
		pool->pending = xv_addr(id, off);
		pool->nr_pending++;
	} else if (isolated) {
		pool->compact_freed += n;
	}
	xv_nodes_shrink(pool);
	xv_stash_trim(pool, out, &n);
unlock:
	xv_kmc_flush(&kmc);
	spin_unlock_irqrestore(&pool->lock, irqflags);
	while (n)
		__free_page(out[--n]);
}
EXPORT_SYMBOL_GPL(xv_free);

/* Where a live object is: in an area at an offset, or a page of its own. */
struct xv_loc {
	struct xv_area *area;	/* packed: the area, @off the data's offset in it */
	struct page *page;	/* whole-page: the page; @area is NULL */
	u32 off;
	u32 size;		/* exactly what was given to xv_malloc() */
};

/*
 * Find a live object; false (with a warning) if @handle names none.  With
 * @hmap, the page of a packed object's header is left mapped and *@hmap is
 * its address (the caller undoes it with kunmap_local()), so that xv_map()
 * of an object in that same page costs one mapping, not two.
 */
static bool xv_locate(struct xv_pool *pool, unsigned long handle, struct xv_loc *loc,
		      void **hmap)
{
	struct page *hpage = NULL;
	u32 hoff, hdr = XV_HDR_FREE;
	void *kaddr = NULL;

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
	hoff = xv_addr_off(handle);
	if (!upper_32_bits(handle))
		loc->area = xv_area_get(pool, xv_addr_id(handle));
	if (loc->area)
		hpage = READ_ONCE(loc->area->pages[hoff >> PAGE_SHIFT]);
	if (hpage) {
		/* A header is XV_ALIGN-aligned and XV_ALIGN long: one page. */
		kaddr = kmap_local_page(hpage);
		hdr = READ_ONCE(*(u32 *)(kaddr + offset_in_page(hoff)));
	}
	if (WARN_ONCE(hdr & XV_HDR_FREE, "xvmalloc: pool %s: bad handle %#lx\n",
		      pool->name, handle)) {
		if (kaddr)
			kunmap_local(kaddr);
		return false;
	}
	loc->off = hoff + XV_HDR_SIZE;
	loc->size = xv_hdr_osize(hdr);
	if (hmap)
		*hmap = kaddr;
	else
		kunmap_local(kaddr);
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
	void *hmap = NULL;
	struct xv_loc loc;
	u32 poff, first;

	st = get_cpu_ptr(&xv_map_state);
	if (WARN_ONCE(st->pool, "xvmalloc: nested %s() on one CPU\n", __func__) ||
	    !xv_locate(pool, handle, &loc, &hmap)) {
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
	/*
	 * hmap maps the header's page, where the object starts unless the
	 * header ends that page: then the object starts the next page (and,
	 * at most XV_MAX_PACKED long, ends there).
	 */
	if (!offset_in_page(loc.off)) {
		kunmap_local(hmap);
		hmap = kmap_local_page(loc.area->pages[loc.off >> PAGE_SHIFT]);
	}
	poff = offset_in_page(loc.off);
	if (!xv_crosses(loc.off, loc.size)) {
		st->kaddr = hmap + poff;
		return st->kaddr;
	}
	/* Over two pages: bounced, the first part copied from hmap. */
	first = PAGE_SIZE - poff;
	if (mm != XV_MM_WO)
		memcpy(st->buf, hmap + poff, first);
	kunmap_local(hmap);
	if (mm != XV_MM_WO)
		memcpy_from_page(st->buf + first, loc.area->pages[(loc.off >> PAGE_SHIFT) + 1],
				 0, loc.size - first);
	st->kaddr = NULL;
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

	if (!xv_locate(pool, handle, &loc, NULL))
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

	if (!xv_locate(pool, handle, &loc, NULL))
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

	return xv_locate(pool, handle, &loc, NULL) ? loc.size : 0;
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
	stats->pages_stashed = pool->stash_nr;
	stats->meta_bytes = pool->meta_bytes;
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
	u32 nid;

	for (nid = area->free_first; !xv_chain_end(nid); nid = xv_node(pool, nid)->anext) {
		if (isolate)
			xv_list_remove(pool, nid);
		else
			xv_list_insert(pool, nid);
	}
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
	return xv_present(area) * PAGE_SIZE >=
	       (area->used << XV_ALIGN_SHIFT) + halves * PAGE_SIZE / 2;
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
				    bytes + (area->used << XV_ALIGN_SHIFT) > XV_COMPACT_BYTES) {
					full = true;
					break;
				}
				xv_isolate(pool, id, true);
				bytes += area->used << XV_ALIGN_SHIFT;
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

/*
 * Before the rounds: give the stash back (its cap is 0 while we run, so
 * what the rounds free really goes; these pages count as given back too)
 * and settle every pending block, so that no area is kept by one.
 */
static void xv_compact_prepare(struct xv_pool *pool)
{
	struct page *out[XV_AREA_PAGES + XV_STASH_MAX];
	struct xv_nodes_grow ng = {};
	unsigned long irqflags;
	struct xv_kmc kmc = {};
	bool done, nodes;
	unsigned int n;

	for (;;) {
		n = 0;
		spin_lock_irqsave(&pool->lock, irqflags);
		xv_stash_trim(pool, out, &n);
		xv_nodes_install(pool, &ng);
		while (pool->pending && pool->node_free && n + XV_AREA_PAGES <= ARRAY_SIZE(out))
			xv_settle(pool, &kmc, 1, out, &n);
		xv_kmc_flush(&kmc);
		pool->compact_freed += n;
		done = !pool->pending;
		nodes = !pool->node_free;
		spin_unlock_irqrestore(&pool->lock, irqflags);
		while (n)
			__free_page(out[--n]);
		if (done || (nodes && xv_nodes_alloc(pool, &ng, GFP_KERNEL)))
			break;
	}
	xv_nodes_release(&ng);
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
 * remain that were not tried; an area made while xv_compact() runs is not
 * tried, so however fast others allocate and free meanwhile, the work is
 * bounded by the areas the pool had when it began.  Moves allocate with
 * GFP_NOWAIT and the copy goes through a buffer of the pool: nothing
 * sleeps under @walk's locks.  Allocation, freeing and mapping go on meanwhile on other CPUs.
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
	xv_compact_prepare(pool);
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
	u64 pending;		/* pending blocks found in the areas */
	u64 pending_bytes;	/* and their bytes */
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

/* Is @nid a node id the table has? */
static bool xv_check_nid(struct xv_checker *c, u32 nid)
{
	return nid && nid < c->pool->node_chunks * XV_CHUNK_NODES;
}

/*
 * Walk the blocks of area @id, the free ones from its chain of nodes, the
 * others from their headers; false if the walk had to stop early.
 */
static bool xv_check_area(struct xv_checker *c, u32 id)
{
	struct xv_pool *pool = c->pool;
	const struct xv_area *area = xv_area_of(pool, id);
	u32 off = 0, hdr, bsize, osize, end, present = 0, needed = 0, used = 0;
	u32 nid = area->free_first, chain = 0;
	const struct xv_node *n;
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
		if (!xv_chain_end(nid)) {
			if (!xv_check_nid(c, nid) || ++chain > XV_AREA_SIZE / XV_MIN_BLOCK) {
				xv_bad(c, id, off, "bad node %#x on the area's chain", nid);
				return false;
			}
			n = xv_node(pool, nid);
			if (n->off << XV_ALIGN_SHIFT < off) {
				xv_bad(c, id, off, "node %u at offset %u: out of order", nid,
				       n->off << XV_ALIGN_SHIFT);
				return false;
			}
			if (n->off << XV_ALIGN_SHIFT == off) {
				bsize = n->size << XV_ALIGN_SHIFT;
				if (bsize < XV_MIN_BLOCK || bsize > XV_AREA_SIZE - off) {
					xv_bad(c, id, off, "node %u: bad size %u", nid, bsize);
					return false;
				}
				if (prev_free)
					xv_bad(c, id, off, "two free blocks in a row");
				if (bsize == XV_AREA_SIZE)
					xv_bad(c, id, off, "entirely free area was not released");
				c->info.free_blocks++;
				c->info.free_bytes += bsize;
				if (area->flags & XV_AREA_ISOLATED)
					c->unlisted++;
				c->info.largest_free = max_t(u64, c->info.largest_free, bsize);
				prev_free = true;
				off += bsize;
				nid = n->anext;
				continue;
			}
		}
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
		needed |= xv_page_mask(off, end);
		used += bsize;
		if (hdr & XV_HDR_FREE) {
			if (!(hdr & XV_HDR_PENDING) || xv_hdr_osize(hdr))
				xv_bad(c, id, off, "header %#x: freed block on no node", hdr);
			c->pending++;
			c->pending_bytes += bsize;
		} else {
			osize = xv_hdr_osize(hdr);
			if (!osize || osize > XV_MAX_PACKED || xv_block_size(osize) > bsize ||
			    bsize - xv_block_size(osize) >= XV_MIN_BLOCK)
				xv_bad(c, id, off, "object size %u in a block of %u", osize, bsize);
			c->info.used_blocks++;
			c->info.used_bytes += bsize;
			c->bytes_requested += osize;
			if (osize && xv_crosses(off + XV_HDR_SIZE, osize))
				c->info.crossing_objects++;
		}
		prev_free = false;
		off = end;
	}
	if (nid != (XV_NODE_END | id) && (nid || area->free_first))
		xv_bad(c, id, 0, "chain of free blocks ends with %#x", nid);
	if (needed & ~present)
		xv_bad(c, id, 0, "pages %#x under blocks are missing", needed & ~present);
	if (present & ~needed)
		xv_bad(c, id, 0, "free pages %#x were not released", present & ~needed);
	if (used != (u32)area->used << XV_ALIGN_SHIFT)
		xv_bad(c, id, 0, "%u bytes of blocks in use, the area counts %u", used,
		       area->used << XV_ALIGN_SHIFT);
	return true;
}

/* Walk one free list; returns the number of blocks on it. */
static u64 xv_check_list(struct xv_checker *c, u32 fl, u32 sl, u64 limit)
{
	struct xv_pool *pool = c->pool;
	u32 nid = pool->free_lists[fl][sl], prev = 0, bfl, bsl, id;
	const struct xv_area *area;
	const struct xv_node *n;
	u64 n_listed = 0;

	while (nid) {
		if (!xv_check_nid(c, nid)) {
			xv_bad(c, 0, 0, "list %u/%u: link %#x to no node", fl, sl, nid);
			break;
		}
		n = xv_node(pool, nid);
		xv_class(n->size << XV_ALIGN_SHIFT, &bfl, &bsl);
		if (bfl != fl || bsl != sl) {
			xv_bad(c, 0, 0, "list %u/%u: node %u of %u bytes does not belong", fl, sl,
			       nid, n->size << XV_ALIGN_SHIFT);
			break;
		}
		if (n->prev != prev)
			xv_bad(c, 0, 0, "list %u/%u: node %u: back link %u, expected %u", fl, sl,
			       nid, n->prev, prev);
		if (++n_listed > limit) {
			xv_bad(c, 0, 0, "list %u/%u: longer than free blocks exist (a cycle?)",
			       fl, sl);
			break;
		}
		id = xv_node_area(pool, nid);
		area = xv_area_get(pool, id);
		if (!area || area->flags & XV_AREA_ISOLATED)
			xv_bad(c, id, n->off << XV_ALIGN_SHIFT,
			       "list %u/%u: node %u: area not in use or isolated", fl, sl, nid);
		prev = nid;
		nid = n->next;
	}
	return n_listed;
}

/* The spare nodes, the pending blocks, the stash and the metadata bytes. */
static void xv_check_spares(struct xv_checker *c)
{
	struct xv_pool *pool = c->pool;
	u64 spare = 0, total = pool->node_chunks ? pool->node_chunks * XV_CHUNK_NODES - 1 : 0;
	u32 nid, addr, n_pending = 0, id;
	const struct xv_area *area;
	unsigned long meta;
	unsigned int i;

	for (nid = pool->node_free; nid && spare <= total; nid = xv_node(pool, nid)->next) {
		if (!xv_check_nid(c, nid)) {
			xv_bad(c, 0, 0, "spare node link %#x", nid);
			break;
		}
		spare++;
	}
	if (spare != pool->nodes_spare || spare + c->info.free_blocks != total)
		xv_bad(c, 0, 0, "%llu spare nodes (%u counted), %llu free blocks, %llu nodes",
		       spare, pool->nodes_spare, c->info.free_blocks, total);
	for (addr = pool->pending; addr && n_pending <= c->pending; n_pending++) {
		id = xv_addr_id(addr);
		area = xv_area_get(pool, id);
		if (!area || !area->pages[xv_addr_off(addr) >> PAGE_SHIFT] ||
		    (~xv_rd(area, xv_addr_off(addr)) & (XV_HDR_FREE | XV_HDR_PENDING))) {
			xv_bad(c, id, xv_addr_off(addr), "pending link %#x to no pending block",
			       addr);
			break;
		}
		addr = xv_rd(area, xv_addr_off(addr) + XV_HDR_SIZE);
	}
	if (n_pending != c->pending || n_pending != pool->nr_pending)
		xv_bad(c, 0, 0, "%llu pending blocks, %u chained, %u counted", c->pending,
		       n_pending, pool->nr_pending);
	if (pool->stash_nr > XV_STASH_MAX)
		xv_bad(c, 0, 0, "%u pages in the stash", pool->stash_nr);
	for (i = 0; i < pool->stash_nr && i < XV_STASH_MAX; i++) {
		c->pages++;
		if (PageHighMem(pool->stash[i]))
			c->highmem++;
	}
	meta = pool->node_chunks * PAGE_SIZE + pool->ndir_len * sizeof(*pool->ndir);
	for (i = 0; i < XV_DIR_LEN; i++)
		meta += pool->dir[i] ? PAGE_SIZE : 0;
	if (meta != pool->meta_bytes)
		xv_bad(c, 0, 0, "metadata: %lu bytes, counted %lu", meta, pool->meta_bytes);
}

/**
 * xv_check_pool_info() - check a pool's consistency and describe it
 * @pool: the pool
 * @info: filled in with what the walk found, or NULL
 *
 * Walks every area block by block (free blocks from the area's chain of
 * nodes, in order and never adjacent; the others from their headers, with
 * their exact sizes; present pages exactly those under allocated blocks),
 * every free list (links both ways, each node's class and area) and both
 * bitmap levels, the spare nodes, the pending blocks and the stash, and
 * compares the totals with the pool's counters (lowmem metadata bytes
 * included).
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
	if (walked)
		xv_check_spares(&c);
	if (walked && listed + c.unlisted != c.info.free_blocks)
		xv_bad(&c, 0, 0, "%llu free blocks (%llu isolated) but %llu on lists",
		       c.info.free_blocks, c.unlisted, listed);
	if (walked && c.info.used_bytes + c.pending_bytes != pool->used_bytes)
		xv_bad(&c, 0, 0, "%llu bytes of blocks in use (%llu pending), the pool counts %llu",
		       c.info.used_bytes, c.pending_bytes, pool->used_bytes);
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
