// SPDX-License-Identifier: GPL-2.0
/* The out-of-line part of the userspace kernel shim (see include/kshim.h). */
#include "kshim.h"

unsigned long kshim_errors;
unsigned long kshim_warnings;
unsigned long kshim_listops;
unsigned long kshim_kmaps;
long kshim_pages_live;
long kshim_kmalloc_live;
int kshim_atomic;
long kshim_fail_after;
unsigned int kshim_fail_percent;
bool kshim_quiet;
struct task_struct kshim_task;

static unsigned long long kshim_rng = 0x9e3779b97f4a7c15ull;
static unsigned long kshim_page_seq;

struct page **kshim_mem_map;
unsigned long kshim_max_pfn;
static unsigned long kshim_mem_map_cap;
static struct page *kshim_free_pages;	/* freed structs, most recent first */

/* A struct page: a freed one again, or a new one at the end of mem_map. */
static struct page *kshim_page_struct(void)
{
	struct page *page = kshim_free_pages;

	if (page) {
		kshim_free_pages = page->next_free;
		return page;
	}
	if (kshim_max_pfn == kshim_mem_map_cap) {
		unsigned long cap = kshim_mem_map_cap ? 2 * kshim_mem_map_cap : 1024;
		struct page **map = realloc(kshim_mem_map, cap * sizeof(*map));

		if (!map)
			return NULL;
		kshim_mem_map = map;
		kshim_mem_map_cap = cap;
	}
	page = calloc(1, sizeof(*page));
	if (!page)
		return NULL;
	page->pfn = kshim_max_pfn;
	kshim_mem_map[kshim_max_pfn++] = page;
	return page;
}

/* kmap_local stack: at most this deep, undone in reverse order. */
#define KSHIM_KMAP_MAX 16
static struct page *kshim_kmap_stack[KSHIM_KMAP_MAX];
int kshim_kmap_depth;		/* kmap_local mappings held now */

void kshim_error(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	kshim_errors++;
	fprintf(stderr, "SHIM ERROR %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void kshim_log(const char *level, const char *fmt, ...)
{
	va_list ap;

	if (kshim_quiet)
		return;
	fprintf(stderr, "[%s] ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void kshim_warn(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	kshim_warnings++;
	if (kshim_quiet)
		return;
	fprintf(stderr, "WARNING %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static bool kshim_should_fail(void)
{
	if (kshim_fail_after > 0 && --kshim_fail_after == 0) {
		kshim_fail_after = -1;	/* from now on every allocation fails */
		return true;
	}
	if (kshim_fail_after < 0)
		return true;
	if (kshim_fail_percent) {
		kshim_rng ^= kshim_rng << 13;
		kshim_rng ^= kshim_rng >> 7;
		kshim_rng ^= kshim_rng << 17;
		return kshim_rng % 100 < kshim_fail_percent;
	}
	return false;
}

static void kshim_check_gfp(gfp_t gfp)
{
	KSHIM_CHECK(!gfpflags_allow_blocking(gfp) || kshim_atomic == 0,
		    "blocking allocation (gfp %#x) in atomic context", gfp);
	KSHIM_CHECK(!(gfp & __GFP_COMP), "__GFP_COMP passed");
	KSHIM_CHECK(!(gfp & (__GFP_DMA | __GFP_DMA32 | __GFP_MOVABLE)),
		    "zone modifier %#x passed", gfp);
}

struct page *alloc_page(gfp_t gfp)
{
	struct page *page;

	kshim_check_gfp(gfp);
	KSHIM_CHECK(gfp & __GFP_HIGHMEM, "page allocated without __GFP_HIGHMEM");
	if (kshim_should_fail())
		return NULL;
	page = kshim_page_struct();
	if (!page)
		return NULL;
	page->virt = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!page->virt) {
		page->next_free = kshim_free_pages;
		kshim_free_pages = page;
		return NULL;
	}
	page->free = false;
	page->private = 0;	/* as post_alloc_hook() leaves it */
	/* Fresh pages hold garbage, as in the kernel. */
	memset(page->virt, 0xa5, PAGE_SIZE);
	/* Three pages in four "highmem", to exercise the accounting. */
	page->highmem = (kshim_page_seq++ % 4) != 0;
	kshim_pages_live++;
	return page;
}

void __free_page(struct page *page)
{
	int i;

	KSHIM_CHECK(!page->free, "page %lu freed twice", page->pfn);
	if (page->free)
		return;
	for (i = 0; i < kshim_kmap_depth; i++)
		KSHIM_CHECK(kshim_kmap_stack[i] != page, "freeing a mapped page");
	memset(page->virt, 0x5a, PAGE_SIZE);
	free(page->virt);
	page->virt = NULL;
	page->free = true;
	page->private = 0;	/* the buddy allocator's: order 0 */
	page->next_free = kshim_free_pages;
	kshim_free_pages = page;
	kshim_pages_live--;
}

void *kmap_local_page(struct page *page)
{
	kshim_kmaps++;
	if (kshim_kmap_depth >= KSHIM_KMAP_MAX) {
		kshim_error(__FILE__, __LINE__, "kmap_local stack overflow");
		return page->virt;
	}
	kshim_kmap_stack[kshim_kmap_depth++] = page;
	return page->virt;
}

void kunmap_local(const void *addr)
{
	unsigned long base = (unsigned long)addr & PAGE_MASK;

	if (kshim_kmap_depth == 0) {
		kshim_error(__FILE__, __LINE__, "kunmap_local without a mapping");
		return;
	}
	kshim_kmap_depth--;
	KSHIM_CHECK((unsigned long)kshim_kmap_stack[kshim_kmap_depth]->virt == base,
		    "kunmap_local out of order");
}

static void *kshim_alloc(size_t size, gfp_t gfp, bool zero)
{
	void *p;

	kshim_check_gfp(gfp);
	KSHIM_CHECK(!(gfp & __GFP_HIGHMEM), "slab allocation with __GFP_HIGHMEM");
	if (kshim_should_fail())
		return NULL;
	p = (zero || (gfp & __GFP_ZERO)) ? calloc(1, size) : malloc(size);
	if (p)
		kshim_kmalloc_live++;
	return p;
}

void *kmalloc(size_t size, gfp_t gfp)
{
	return kshim_alloc(size, gfp, false);
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kshim_alloc(size, gfp, true);
}

void *kvcalloc(size_t n, size_t size, gfp_t gfp)
{
	return kshim_alloc(n * size, gfp, true);
}

void kfree(const void *p)
{
	if (p)
		kshim_kmalloc_live--;
	free((void *)p);
}

void kvfree(const void *p)
{
	kfree(p);
}

char *kstrdup(const char *s, gfp_t gfp)
{
	char *d = kshim_alloc(strlen(s) + 1, gfp, false);

	if (d)
		strcpy(d, s);
	return d;
}

static int (*kshim_teardown)(unsigned int);

int cpuhp_setup_state(int state, const char *name, int (*startup)(unsigned int),
		      int (*teardown)(unsigned int))
{
	int ret;

	(void)state;
	(void)name;
	kshim_teardown = teardown;
	ret = startup(0);
	return ret < 0 ? ret : 42;
}

void cpuhp_remove_state(int state)
{
	KSHIM_CHECK(state == 42, "cpuhp_remove_state(%d): not our state", state);
	kshim_teardown(0);
}
