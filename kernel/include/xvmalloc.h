/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xvmalloc: a two-level segregated fit (TLSF) allocator for small objects
 * (up to PAGE_SIZE) kept in pages that may come from high memory.
 *
 * Objects are named by opaque handles, never by pointers: the memory behind
 * a handle is reached only between xv_map() and xv_unmap(), or copied with
 * xv_read() / xv_write().  Nothing here knows about swap or compression.
 */
#ifndef _XVMALLOC_H_
#define _XVMALLOC_H_

#include <linux/types.h>
#include <linux/gfp.h>

struct xv_pool;

/**
 * enum xv_mapmode - how the caller will use a mapping from xv_map()
 * @XV_MM_RW: read and write; the object's content is valid on entry
 * @XV_MM_RO: read only; changes are not written back
 * @XV_MM_WO: write only; the whole object is written before xv_unmap()
 */
enum xv_mapmode {
	XV_MM_RW,
	XV_MM_RO,
	XV_MM_WO,
};

/**
 * struct xv_pool_stats - a snapshot of a pool's counters
 * @objects: objects currently allocated, whole-page objects included
 * @bytes_requested: sum of the sizes passed to xv_malloc() for live objects
 * @bytes_in_pool: bytes of the pages the pool holds (pages_total * PAGE_SIZE)
 * @pages_total: pages the pool holds, one per whole-page object included
 * @pages_highmem: of those, pages in high memory
 * @alloc_failures: xv_malloc() calls that returned -ENOMEM
 * @pages_compacted: pages xv_compact() has given back since creation
 * @pages_stashed: of @pages_total, pages kept free for the next growth (a
 *	few at most; given back by xv_compact() and xv_destroy_pool())
 * @meta_bytes: lowmem the pool's metadata holds (free-block nodes, area
 *	table), beyond a fixed part per pool
 */
struct xv_pool_stats {
	u64 objects;
	u64 bytes_requested;
	u64 bytes_in_pool;
	u64 pages_total;
	u64 pages_highmem;
	u64 alloc_failures;
	u64 pages_compacted;
	u64 pages_stashed;
	u64 meta_bytes;
};

/*
 * Largest object xv_malloc() accepts.  Objects larger than PAGE_SIZE - 4
 * bytes take one page each, with no header ("whole-page objects").
 */
#define XV_MAX_ALLOC_SIZE	PAGE_SIZE

struct xv_pool *xv_create_pool(const char *name);
void xv_destroy_pool(struct xv_pool *pool);

int xv_malloc(struct xv_pool *pool, size_t size, gfp_t flags,
	      unsigned long *handle);
void xv_free(struct xv_pool *pool, unsigned long handle);

void *xv_map(struct xv_pool *pool, unsigned long handle, enum xv_mapmode mm);
void xv_unmap(struct xv_pool *pool, unsigned long handle);

void xv_read(struct xv_pool *pool, unsigned long handle, void *dst);
void xv_write(struct xv_pool *pool, unsigned long handle, const void *src);

size_t xv_obj_size(struct xv_pool *pool, unsigned long handle);
u64 xv_get_total_size_bytes(struct xv_pool *pool);
unsigned long xv_get_total_pages(struct xv_pool *pool);
void xv_get_stats(struct xv_pool *pool, struct xv_pool_stats *stats);

unsigned long xv_compact(struct xv_pool *pool, void (*walk)(struct xv_pool *, void *),
			 void *arg);
int xv_migrate(struct xv_pool *pool, unsigned long *handle);
unsigned long xv_compactable_pages(struct xv_pool *pool);

int xv_check_pool(struct xv_pool *pool);

/**
 * struct xv_pool_check - what xv_check_pool_info() found in a pool
 * @areas: areas (growth units of several order-0 pages) the pool holds
 * @used_blocks: allocated blocks: live packed objects (all live objects
 *	but the whole-page ones)
 * @used_bytes: bytes those blocks occupy, headers and rounding included
 * @free_blocks: free blocks on the free lists
 * @free_bytes: bytes of those free blocks
 * @largest_free: size in bytes of the largest free block
 * @crossing_objects: live objects whose data crosses a page boundary (they
 *	are reached through a per-CPU bounce buffer by xv_map())
 * @whole_objects: live whole-page objects: those larger than PAGE_SIZE - 4
 *	bytes, each alone in a page of its own with no header (not in
 *	@areas, never crossing)
 */
struct xv_pool_check {
	u64 areas;
	u64 used_blocks;
	u64 used_bytes;
	u64 free_blocks;
	u64 free_bytes;
	u64 largest_free;
	u64 crossing_objects;
	u64 whole_objects;
};

int xv_check_pool_info(struct xv_pool *pool, struct xv_pool_check *info);

#endif /* _XVMALLOC_H_ */
