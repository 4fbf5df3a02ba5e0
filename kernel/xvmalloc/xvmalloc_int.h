/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xvmalloc internals: block layout, size classes and the pool structure,
 * shared by xvmalloc.c, its KUnit test and the userspace test harness.
 * Nothing here is API: ramzswap and other users include only xvmalloc.h.
 */
#ifndef _XVMALLOC_INT_H_
#define _XVMALLOC_INT_H_

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "xvmalloc.h"

/*
 * An area is the unit of growth: 1 << XV_AREA_PAGES_LOG2 order-0 pages
 * (16: see "Why 16 pages" in xvmalloc.c),
 * not contiguous, seen as one linear space of XV_AREA_SIZE bytes.  The
 * userspace harness overrides this to compare designs; 0 gives the 2009
 * behaviour (no block may cross a page).
 */
#ifndef XV_AREA_PAGES_LOG2
#define XV_AREA_PAGES_LOG2	4
#endif
#define XV_AREA_PAGES		BIT(XV_AREA_PAGES_LOG2)
#define XV_AREA_SHIFT		(PAGE_SHIFT + XV_AREA_PAGES_LOG2)
#define XV_AREA_SIZE		BIT(XV_AREA_SHIFT)

/* Every block starts and ends on a 4-byte boundary. */
#define XV_ALIGN_SHIFT		2
#define XV_ALIGN		BIT(XV_ALIGN_SHIFT)
/* The only per-object overhead: one u32 header in front of the data. */
#define XV_HDR_SIZE		4U
/* Smallest block: a free rest smaller than this stays with the object. */
#define XV_MIN_BLOCK		16U

/*
 * A block address (a packed object's handle, a list link) is a u32: the
 * area id above XV_OFF_BITS bits of offset in 4-byte units.  Id 0 is never
 * used, so no valid address is 0.  The top bit of a handle tags a
 * whole-page object (XV_WHOLE_TAG), so where unsigned long has 32 bits a
 * block address has XV_ADDR_BITS = 31 bits and the area id one bit less
 * than it would otherwise have: with 16-page areas, 2^17 - 1 areas (8 GiB
 * of packed objects) per pool on i386; 2^18 - 1 (16 GiB) on 64-bit.
 */
#define XV_ADDR_BITS		(BITS_PER_LONG > 32 ? 32 : BITS_PER_LONG - 1)
#define XV_OFF_BITS		(XV_AREA_SHIFT - XV_ALIGN_SHIFT)
#define XV_OFF_MASK		((1U << XV_OFF_BITS) - 1)
#define XV_MAX_AREAS		((1U << (XV_ADDR_BITS - XV_OFF_BITS)) - 1)

/* Largest object xv_malloc() accepts. */
#define XV_MAX_OBJ		((u32)XV_MAX_ALLOC_SIZE)
/*
 * Largest packed object: one whose block (header included) fits in a
 * page.  Larger ones (PAGE_SIZE - 3 to PAGE_SIZE bytes) are whole-page
 * objects.
 */
#define XV_MAX_PACKED		((u32)PAGE_SIZE - XV_HDR_SIZE)

/*
 * A whole-page object: a page of its own, no header.  Its handle is
 * XV_WHOLE_TAG | pfn; the page's private word holds the pool's cookie
 * (pool->whole_cookie, bits XV_WHOLE_SIZE_BITS and up, never 0) or'ed
 * with the object's exact size.
 */
#define XV_WHOLE_TAG		BIT(BITS_PER_LONG - 1)
#define XV_WHOLE_SIZE_BITS	(PAGE_SHIFT + 1)
#define XV_WHOLE_SIZE_MASK	(BIT(XV_WHOLE_SIZE_BITS) - 1)

/*
 * Block header (u32), in the block's first 4 bytes (in highmem):
 *   bit 0       XV_HDR_FREE       not a live object: written by xv_free()
 *                                 so that a stale handle is refused
 *                                 (free blocks themselves are described
 *                                 by lowmem nodes, not by their headers)
 *   bit 1       XV_HDR_PENDING    with XV_HDR_FREE: freed while no node
 *                                 could be had; the next u32 links the
 *                                 pool's pending blocks (see xv_free())
 *   bits 2..    block size in 4-byte units (XV_HDR_BSIZE_BITS bits)
 *   above       live objects: the exact size given to xv_malloc()
 */
#define XV_HDR_FREE		BIT(0)
#define XV_HDR_PENDING		BIT(1)
#define XV_HDR_BSIZE_SHIFT	2
#define XV_HDR_BSIZE_BITS	(XV_OFF_BITS + 1)
#define XV_HDR_BSIZE_MASK	((1U << XV_HDR_BSIZE_BITS) - 1)
#define XV_HDR_OSIZE_SHIFT	(XV_HDR_BSIZE_SHIFT + XV_HDR_BSIZE_BITS)
#define XV_HDR_OSIZE_BITS	(PAGE_SHIFT + 1)
#define XV_HDR_OSIZE_MASK	((1U << XV_HDR_OSIZE_BITS) - 1)

/*
 * Size classes: TLSF with 32 second-level lists per power of two.  Blocks
 * below XV_SMALL_BLOCK (128 bytes) get one exact list per 4-byte size in
 * first-level class 0; class fl >= 1 holds sizes in
 * [2^(fl + 6), 2^(fl + 7)) split in 32 equal ranges.
 */
#define XV_SL_LOG2		5
#define XV_SL_COUNT		BIT(XV_SL_LOG2)
#define XV_FL_SHIFT		(XV_SL_LOG2 + XV_ALIGN_SHIFT)
#define XV_SMALL_BLOCK		BIT(XV_FL_SHIFT)
#define XV_FL_COUNT		(XV_AREA_SHIFT - XV_FL_SHIFT + 2)

/* struct xv_area flags */
#define XV_AREA_ISOLATED	BIT(0)	/* its free blocks are off the lists */
#define XV_AREA_TRIED		BIT(1)	/* isolated in this xv_compact(), or made during it */

/**
 * struct xv_area - the pages of one area, or a free slot in the area table
 * @pages: the area's pages in address order; page i holds bytes
 *	[i * PAGE_SIZE, (i + 1) * PAGE_SIZE) of the area
 * @next_free: in a free slot, (next free id << 1) | 1; bit 0 is clear in a
 *	slot in use because it then holds an aligned struct page pointer
 * @free_first: node of the area's first free block (by offset), 0 if none;
 *	the area's free blocks are chained in offset order through
 *	&struct xv_node.anext, the last one holding XV_NODE_END | area id
 * @used: 4-byte units of the area's allocated blocks (headers included)
 * @flags: XV_AREA_ISOLATED, XV_AREA_TRIED; 0 in a free slot
 */
struct xv_area {
	union {
		struct page *pages[XV_AREA_PAGES];
		unsigned long next_free;
	};
	u32 free_first;
	u16 used;
	u16 flags;
};

/**
 * struct xv_node - a free block, in lowmem
 * @next: next node on the block's free list (or on the pool's list of
 *	spare nodes), 0 if none
 * @prev: previous node on the free list, 0 for the head
 * @anext: the area's next free block by offset, or XV_NODE_END | area id
 *	for the last one
 * @off: the block's offset in its area, in 4-byte units
 * @size: its size, in 4-byte units
 *
 * Node ids index the pool's node table (@ndir: one-page chunks of
 * XV_CHUNK_NODES nodes); id 0 is never used.
 */
struct xv_node {
	u32 next;
	u32 prev;
	u32 anext;
	u16 off;
	u16 size;
};

#define XV_NODE_END		BIT(31)
#define XV_CHUNK_NODES		(PAGE_SIZE / sizeof(struct xv_node))
/* first length of the node table's directory, doubled as it fills */
#define XV_NDIR_MIN		16U
/* xv_malloc() tops spare nodes up (best effort) below this many */
#define XV_NODES_LOW		32U

/*
 * The stash: pages an area gave up, kept for the next growth.  At most
 * XV_STASH_MAX pages and one page in XV_STASH_FRACTION of the pages in
 * areas; counted in pages_total (and pages_highmem) like any pool page.
 */
#define XV_STASH_MAX		8U
#define XV_STASH_FRACTION	32U

/* The area table: a directory of one-page chunks of struct xv_area. */
#define XV_CHUNK_AREAS		(PAGE_SIZE / sizeof(struct xv_area))
#define XV_DIR_LEN		(XV_MAX_AREAS / XV_CHUNK_AREAS + 1)

/**
 * struct xv_pool - an xvmalloc pool
 * @lock: protects everything below but @dir entries already published
 *	and @fail_nth; lookups of live handles read @dir without it
 * @fl_bitmap: bit fl set if @sl_bitmap[fl] is not zero
 * @sl_bitmap: bit sl of [fl] set if @free_lists[fl][sl] is not empty
 * @free_lists: node of the first free block of each class, 0 if none
 * @dir: area table directory (XV_DIR_LEN chunk pointers)
 * @next_id: lowest area id never handed out
 * @free_id: first free slot of the table, 0 if none
 * @nr_areas: areas in use
 * @objects: live objects
 * @bytes_requested: sum of their sizes
 * @alloc_failures: xv_malloc() calls that returned -ENOMEM
 * @pages_total: pages held, in areas and as whole-page objects
 * @pages_highmem: of those, highmem pages
 * @whole_objects: live whole-page objects (counted in @objects and
 *	@pages_total too)
 * @whole_bytes: sum of their sizes (in @bytes_requested too)
 * @whole_highmem: of their pages, highmem pages (in @pages_highmem too)
 * @whole_cookie: what the private word of a whole-page object's page holds
 *	above its size; set at creation, never 0
 * @used_bytes: bytes of allocated blocks in areas (sum of their @used)
 * @pages_compacted: pages xv_compact() has given back, net of what its
 *	moves took
 * @compact_freed: during xv_compact(): pages given back by isolated areas
 * @compact_grown: during xv_compact(): pages xv_migrate() added
 * @compact_lock: one xv_compact() at a time; taken before @lock
 * @compactor: the task running xv_compact(), the only one that may call
 *	xv_migrate(); NULL when none runs
 * @compact_buf: PAGE_SIZE bytes xv_migrate() copies through
 * @ndir: the node table's directory (@ndir_len chunk pointers)
 * @ndir_len: its length
 * @node_chunks: chunks in the node table (the first @node_chunks of @ndir)
 * @node_free: first spare node, 0 if none
 * @nodes_spare: spare nodes
 * @pending: block address of the last block freed while no node could be
 *	had, 0 if none; each links the one before it (see xv_free())
 * @nr_pending: how many
 * @stash: pages kept for growth (see XV_STASH_MAX)
 * @stash_nr: how many
 * @meta_bytes: lowmem the pool's metadata holds beyond the fixed part
 *	(struct xv_pool and @dir): area table chunks, node chunks, @ndir
 * @fail_nth: test hook, see xv_pool_fail_nth()
 * @name: for messages
 */
struct xv_pool {
	spinlock_t lock;	/* see above */
	u32 fl_bitmap;
	u32 sl_bitmap[XV_FL_COUNT];
	u32 free_lists[XV_FL_COUNT][XV_SL_COUNT];
	struct xv_area **dir;
	u32 next_id;
	u32 free_id;
	u32 nr_areas;
	u64 objects;
	u64 bytes_requested;
	u64 alloc_failures;
	unsigned long pages_total;
	unsigned long pages_highmem;
	unsigned long whole_objects;
	u64 whole_bytes;
	unsigned long whole_highmem;
	unsigned long whole_cookie;
	u64 used_bytes;
	unsigned long pages_compacted;
	unsigned long compact_freed;
	unsigned long compact_grown;
	struct mutex compact_lock;	/* see above */
	struct task_struct *compactor;
	void *compact_buf;
	struct xv_node **ndir;
	u32 ndir_len;
	u32 node_chunks;
	u32 node_free;
	u32 nodes_spare;
	u32 pending;
	u32 nr_pending;
	struct page *stash[XV_STASH_MAX];
	unsigned int stash_nr;
	unsigned long meta_bytes;
	atomic_t fail_nth;
	const char *name;
};

/* Test hook, for xvmalloc_test.ko only. */
void xv_pool_fail_nth(struct xv_pool *pool, unsigned int nth);

/*
 * Instrumentation points: the userspace harness defines these (before this
 * header is read) to count free-list operations; in the kernel they vanish.
 */
#ifndef xv_trace_listop
#define xv_trace_listop(pool)	((void)(pool))
#endif

#endif /* _XVMALLOC_INT_H_ */
