// SPDX-License-Identifier: GPL-2.0
/*
 * xvbench - the same object sizes replayed into xvmalloc, zsmalloc, kmalloc
 * and a set of kmem_caches, side by side in one boot.
 *
 * Interface (debugfs, /sys/kernel/debug/xvbench/):
 *
 *   corpus   write page data (e.g. dd if=corpus.bin of=corpus bs=64k).  Every
 *            full page is checked for one repeated word (zero or same-filled
 *            pages need no allocation in ramzswap or zram, so they give no
 *            size) and otherwise compressed with lzo-rle and with lz4 through
 *            the crypto API; the compressed lengths are appended to the size
 *            lists "corpus-lzo-rle" and "corpus-lz4".  A length of 59/64 of
 *            a page or more (ramzswap's RZS_HUGE_THRESHOLD, 3776 bytes)
 *            becomes PAGE_SIZE, as ramzswap stores such a page.
 *   run      write one command: "alloc=A dist=D kib=K churn=C map=0|1 seed=S"
 *            with A one of xvmalloc, zsmalloc, kmalloc, kmem_cache and D one
 *            of corpus-lzo-rle, corpus-lz4, uniform (32..4096 bytes), n1400,
 *            n2400 (about normal, sd 300 bytes, clamped to 32..4096).
 *            Optional "mix=M mixpct=P": each object is M bytes with
 *            probability P% (100: all of them), else drawn from D; the
 *            memory figures then also count the live objects of M bytes
 *            ("mix_objects"), so that what one such object costs beside
 *            the others can be told from a run without the mix.
 *            Optional "thin=T" (1..99): after the churn, T% of the live
 *            objects, chosen at random, are freed ("after_thin"), then the
 *            pool is compacted ("after_compact", "compact_ms",
 *            "compact_pages": what xv_compact() or zs_compact() returned;
 *            the slab allocators cannot compact, their figures stay; the
 *            thinning frees are timed with the drain's).  The
 *            write returns when the run is over and its result is appended
 *            to the results; a run that fails to allocate is reported there
 *            with an "error", not as a failed write.
 *   results read one JSON document: corpus statistics and every run.
 *   reset    write anything: forget the corpus sizes and the results.
 *
 * A run allocates objects until the bytes asked for reach K KiB (fill),
 * then frees a random live object and allocates a new one C times per
 * object (churn, in batches), then frees everything (drain).  Every batch
 * of XB_BATCH operations is timed with the TSC (get_cycles()), whose rate is
 * measured against ktime_get_ns() over XB_CAL_MS when the module loads: a
 * guest under QEMU TCG may run on the jiffies clocksource, whose 4 ms steps
 * are far too coarse for a batch.  Where there is no TSC, ktime_get_ns() is
 * used.  Medians and 99th percentiles are over the batches' per-operation
 * times.  With map=1 each
 * allocation is followed by a write-only mapping and a copy of the
 * object's bytes in, and each free is preceded by a read-only mapping and
 * a copy out, as a compressed-swap device does: that is the cost a caller
 * of a handle-based allocator pays and kmalloc's callers do not.
 *
 * Memory held: xvmalloc and zsmalloc count their own pages
 * (xv_get_total_pages(), zs_get_total_pages()); for kmalloc and the
 * kmem_caches it is the growth of the kernel's unreclaimable slab pages
 * (NR_SLAB_UNRECLAIMABLE_B) since the run started, and the sum of ksize()
 * of the live objects is given too.  For every allocator the pages taken
 * from the page allocator in low and in high memory (si_meminfo() before
 * and after) are given, which counts metadata as well (zsmalloc's handles
 * and zspage structures, xvmalloc's area table) and lowmem per-CPU list
 * noise of a few hundred pages.  Only xvmalloc reports how many of its own
 * pages are in high memory; zsmalloc asks for __GFP_HIGHMEM | __GFP_MOVABLE
 * pages (as zram does) but cannot be asked where they are, and slab memory
 * is always low memory on 32-bit.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crypto.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/timex.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <linux/zsmalloc.h>

#include "rzs_compat.h"
#include "xvmalloc.h"
#include "../ramzswap/ramzswap_drv.h"	/* RZS_HUGE_THRESHOLD: what is stored raw */

#define XB_BATCH		64
#define XB_MIN_SIZE		32
#define XB_MAX_SIZE		PAGE_SIZE
#define XB_CACHE_STEP		64
#define XB_NCACHES		(PAGE_SIZE / XB_CACHE_STEP)
#define XB_HIST_STEP		128
#define XB_HIST_BUCKETS		(PAGE_SIZE / XB_HIST_STEP + 1)
#define XB_MAX_KIB		(4U << 20)	/* 4 GiB: more than any i386 box holds */
#define XB_MAX_CHURN		100
#define XB_CMD_MAX		256
#define XB_CAL_MS		500

#define XB_GFP		(GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)
#define XB_GFP_ZS	(XB_GFP | __GFP_HIGHMEM | __GFP_MOVABLE)

/* ---- size lists from the corpus ---------------------------------------- */

enum xb_comp { XB_LZO_RLE, XB_LZ4, XB_NCOMP };

static const char *const xb_comp_alg[XB_NCOMP] = { "lzo-rle", "lz4" };

struct xb_sizes {
	u16 *v;
	u32 n;
	u32 cap;
	u64 sum;
	u64 huge;
	u32 hist[XB_HIST_BUCKETS];
};

struct xb_corpus {
	u8 *page;		/* a partly written page */
	u32 fill;		/* bytes of it written so far */
	u8 *dst;		/* compression output, 2 pages */
	struct crypto_comp *tfm[XB_NCOMP];
	u64 pages;
	u64 zero_pages;
	u64 same_pages;
	struct xb_sizes sizes[XB_NCOMP];
};

/* ---- results ------------------------------------------------------------ */

struct xb_buf {
	char *s;
	size_t len;
	size_t cap;
	bool oom;
};

static DEFINE_MUTEX(xb_lock);		/* the corpus, the results, a run */
static struct xb_corpus xb_corpus;
static struct xb_buf xb_runs;		/* JSON objects separated by commas */
static u32 xb_nruns;
static struct dentry *xb_dir;
static u64 xb_cycles_per_ms;		/* 0: no TSC, time with ktime_get_ns() */

static __printf(2, 3) void xb_emit(struct xb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int need;

	if (b->oom)
		return;
	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + need + 1 > b->cap) {
		size_t cap = max_t(size_t, 2 * b->cap, b->len + need + 1);
		char *s = rzs_kvrealloc(b->s, b->cap, max_t(size_t, cap, PAGE_SIZE),
					GFP_KERNEL);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = max_t(size_t, cap, PAGE_SIZE);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += need;
}

static void xb_buf_free(struct xb_buf *b)
{
	kvfree(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- random numbers: xorshift32, reproducible from the run's seed -------- */

static u32 xb_rand(u32 *state)
{
	u32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* A uniform integer in [0, n). */
static u32 xb_below(u32 *state, u32 n)
{
	return (u32)(((u64)xb_rand(state) * n) >> 32);
}

/* ---- allocators ------------------------------------------------------------ */

struct xb_run;

struct xb_alloc {
	const char *name;
	const char *pages_source;	/* how "pages" is measured */
	int (*create)(struct xb_run *r);
	void (*destroy)(struct xb_run *r);
	int (*alloc)(struct xb_run *r, u32 size, unsigned long *handle);
	void (*free)(struct xb_run *r, unsigned long handle, u32 size);
	void *(*map)(struct xb_run *r, unsigned long handle, bool write);
	void (*unmap)(struct xb_run *r, unsigned long handle);
	/* the allocator's own page count; -1 if it keeps none */
	long (*pages)(struct xb_run *r);
	/* of those, pages in high memory; -1 if unknown */
	long (*pages_high)(struct xb_run *r);
};

enum xb_dist { XB_CORPUS_LZO_RLE, XB_CORPUS_LZ4, XB_UNIFORM, XB_N1400, XB_N2400,
	       XB_NDIST };

static const char *const xb_dist_name[XB_NDIST] = {
	"corpus-lzo-rle", "corpus-lz4", "uniform", "n1400", "n2400"
};

struct xb_times {
	u32 *ns;	/* per-operation ns of each batch */
	u32 n;
	u32 cap;
	u64 ops;
};

struct xb_snap {
	u64 free_low;
	u64 free_high;
	u64 slab;
};

struct xb_run {
	const struct xb_alloc *a;
	enum xb_dist dist;
	u32 kib;
	u32 churn;
	bool map;
	u32 seed;
	u32 mix_size;		/* 0, or the size of the mixed-in objects */
	u32 mix_pct;		/* their share of all objects, percent */
	u32 thin;		/* percent of the live objects freed before compacting */
	u32 rng;
	u32 cursor;		/* next entry of a corpus size list */

	struct xv_pool *xv;
	struct zs_pool *zs;
	struct kmem_cache *caches[XB_NCACHES];

	unsigned long *h;	/* live handles are h[0..live) */
	u16 *sz;		/* their sizes */
	u32 n;			/* objects after the fill */
	u32 live;
	u64 requested;		/* bytes asked for by the live objects */
	u8 *src;		/* bytes copied in with map=1 */
	u8 *dst;		/* where they are copied out to */
	unsigned long vh[XB_BATCH];	/* a batch's victims */
	u16 vsz[XB_BATCH];

	struct xb_times fill_alloc;
	struct xb_times churn_alloc;
	struct xb_times churn_free;
	struct xb_times drain_free;
	struct xb_snap base;
	const char *error;
	u32 error_at;
};

static int xb_xv_create(struct xb_run *r)
{
	r->xv = xv_create_pool("xvbench");
	return r->xv ? 0 : -ENOMEM;
}

static void xb_xv_destroy(struct xb_run *r)
{
	xv_destroy_pool(r->xv);
}

static int xb_xv_alloc(struct xb_run *r, u32 size, unsigned long *handle)
{
	return xv_malloc(r->xv, size, XB_GFP, handle);
}

static void xb_xv_free(struct xb_run *r, unsigned long handle, u32 size)
{
	xv_free(r->xv, handle);
}

static void *xb_xv_map(struct xb_run *r, unsigned long handle, bool write)
{
	return xv_map(r->xv, handle, write ? XV_MM_WO : XV_MM_RO);
}

static void xb_xv_unmap(struct xb_run *r, unsigned long handle)
{
	xv_unmap(r->xv, handle);
}

static long xb_xv_pages(struct xb_run *r)
{
	return xv_get_total_pages(r->xv);
}

static long xb_xv_pages_high(struct xb_run *r)
{
	struct xv_pool_stats st;

	xv_get_stats(r->xv, &st);
	return st.pages_highmem;
}

static int xb_zs_create(struct xb_run *r)
{
	r->zs = zs_create_pool("xvbench");
	return r->zs ? 0 : -ENOMEM;
}

static void xb_zs_destroy(struct xb_run *r)
{
	zs_destroy_pool(r->zs);
}

static int xb_zs_alloc(struct xb_run *r, u32 size, unsigned long *handle)
{
	unsigned long h = zs_malloc(r->zs, size, XB_GFP_ZS);

	if (IS_ERR_VALUE(h))
		return PTR_ERR((void *)h);
	*handle = h;
	return 0;
}

static void xb_zs_free(struct xb_run *r, unsigned long handle, u32 size)
{
	zs_free(r->zs, handle);
}

static void *xb_zs_map(struct xb_run *r, unsigned long handle, bool write)
{
	return zs_map_object(r->zs, handle, write ? ZS_MM_WO : ZS_MM_RO);
}

static void xb_zs_unmap(struct xb_run *r, unsigned long handle)
{
	zs_unmap_object(r->zs, handle);
}

static long xb_zs_pages(struct xb_run *r)
{
	return zs_get_total_pages(r->zs);
}

static long xb_unknown(struct xb_run *r)
{
	return -1;
}

static long xb_none(struct xb_run *r)
{
	return 0;
}

static int xb_km_create(struct xb_run *r)
{
	return 0;
}

static void xb_km_destroy(struct xb_run *r)
{
}

static int xb_km_alloc(struct xb_run *r, u32 size, unsigned long *handle)
{
	void *p = kmalloc(size, XB_GFP);

	if (!p)
		return -ENOMEM;
	*handle = (unsigned long)p;
	return 0;
}

static void xb_km_free(struct xb_run *r, unsigned long handle, u32 size)
{
	kfree((void *)handle);
}

static void *xb_ptr_map(struct xb_run *r, unsigned long handle, bool write)
{
	return (void *)handle;
}

static void xb_ptr_unmap(struct xb_run *r, unsigned long handle)
{
}

static u32 xb_cache_index(u32 size)
{
	return DIV_ROUND_UP(size, XB_CACHE_STEP) - 1;
}

static void xb_kc_destroy(struct xb_run *r)
{
	u32 i;

	for (i = 0; i < XB_NCACHES; i++) {
		kmem_cache_destroy(r->caches[i]);
		r->caches[i] = NULL;
	}
}

static int xb_kc_create(struct xb_run *r)
{
	char name[32];
	u32 i, size;

	for (i = 0; i < XB_NCACHES; i++) {
		size = (i + 1) * XB_CACHE_STEP;
		snprintf(name, sizeof(name), "xvbench-%u", size);
		/*
		 * A usercopy region makes the cache unmergeable: its slabs then
		 * hold only our objects, as a dedicated cache's would.
		 */
		r->caches[i] = kmem_cache_create_usercopy(name, size, 0, 0, 0,
							  size, NULL);
		if (!r->caches[i]) {
			xb_kc_destroy(r);
			return -ENOMEM;
		}
	}
	return 0;
}

static int xb_kc_alloc(struct xb_run *r, u32 size, unsigned long *handle)
{
	void *p = kmem_cache_alloc(r->caches[xb_cache_index(size)], XB_GFP);

	if (!p)
		return -ENOMEM;
	*handle = (unsigned long)p;
	return 0;
}

static void xb_kc_free(struct xb_run *r, unsigned long handle, u32 size)
{
	kmem_cache_free(r->caches[xb_cache_index(size)], (void *)handle);
}

static const struct xb_alloc xb_allocs[] = {
	{
		.name = "xvmalloc", .pages_source = "pool",
		.create = xb_xv_create, .destroy = xb_xv_destroy,
		.alloc = xb_xv_alloc, .free = xb_xv_free,
		.map = xb_xv_map, .unmap = xb_xv_unmap,
		.pages = xb_xv_pages, .pages_high = xb_xv_pages_high,
	},
	{
		.name = "zsmalloc", .pages_source = "pool",
		.create = xb_zs_create, .destroy = xb_zs_destroy,
		.alloc = xb_zs_alloc, .free = xb_zs_free,
		.map = xb_zs_map, .unmap = xb_zs_unmap,
		.pages = xb_zs_pages, .pages_high = xb_unknown,
	},
	{
		.name = "kmalloc", .pages_source = "slab_delta",
		.create = xb_km_create, .destroy = xb_km_destroy,
		.alloc = xb_km_alloc, .free = xb_km_free,
		.map = xb_ptr_map, .unmap = xb_ptr_unmap,
		.pages = xb_unknown, .pages_high = xb_none,
	},
	{
		.name = "kmem_cache", .pages_source = "slab_delta",
		.create = xb_kc_create, .destroy = xb_kc_destroy,
		.alloc = xb_kc_alloc, .free = xb_kc_free,
		.map = xb_ptr_map, .unmap = xb_ptr_unmap,
		.pages = xb_unknown, .pages_high = xb_none,
	},
};

/* ---- object sizes ----------------------------------------------------------- */

static u32 xb_clamp_size(long size)
{
	return clamp_t(long, size, XB_MIN_SIZE, XB_MAX_SIZE);
}

/* About normal (sum of four uniforms), mean @mean, sd 300 bytes. */
static u32 xb_normal(u32 *rng, long mean)
{
	long sum = 0;
	int i;

	for (i = 0; i < 4; i++)
		sum += xb_below(rng, 1001);
	/* the sum has mean 2000 and sd 577.6 */
	return xb_clamp_size(mean + (sum - 2000) * 300 / 578);
}

static u32 xb_next_size(struct xb_run *r)
{
	const struct xb_sizes *s;

	if (r->mix_pct && xb_below(&r->rng, 100) < r->mix_pct)
		return r->mix_size;
	switch (r->dist) {
	case XB_CORPUS_LZO_RLE:
	case XB_CORPUS_LZ4:
		s = &xb_corpus.sizes[r->dist - XB_CORPUS_LZO_RLE];
		if (r->cursor >= s->n)
			r->cursor = 0;
		return s->v[r->cursor++];
	case XB_UNIFORM:
		return XB_MIN_SIZE + xb_below(&r->rng, XB_MAX_SIZE - XB_MIN_SIZE + 1);
	case XB_N1400:
		return xb_normal(&r->rng, 1400);
	case XB_N2400:
	default:
		return xb_normal(&r->rng, 2400);
	}
}

/* Mean object size of a distribution, in bytes (0: no sizes yet). */
static u64 xb_mean_size(enum xb_dist dist)
{
	const struct xb_sizes *s;

	switch (dist) {
	case XB_CORPUS_LZO_RLE:
	case XB_CORPUS_LZ4:
		s = &xb_corpus.sizes[dist - XB_CORPUS_LZO_RLE];
		return s->n ? div_u64(s->sum, s->n) : 0;
	case XB_UNIFORM:
		return (XB_MIN_SIZE + XB_MAX_SIZE) / 2;
	case XB_N1400:
		return 1400;
	case XB_N2400:
	default:
		return 2400;
	}
}

/* ---- timing ------------------------------------------------------------------ */

/* Wait for the next jiffy to begin; return the TSC and ktime at that edge. */
static void xb_jiffy_edge(cycles_t *c, u64 *ns)
{
	unsigned long j = jiffies;

	while (!time_after(jiffies, j))
		cpu_relax();
	*c = get_cycles();
	*ns = ktime_get_ns();
}

/* TSC cycles per millisecond, from XB_CAL_MS of jiffy-aligned ktime. */
static void xb_calibrate(void)
{
	cycles_t c0, c1;
	u64 t0, t1;

	if (!get_cycles())
		return;
	xb_jiffy_edge(&c0, &t0);
	msleep(XB_CAL_MS);
	xb_jiffy_edge(&c1, &t1);
	if (t1 > t0 && c1 > c0)
		xb_cycles_per_ms = div64_u64((u64)(c1 - c0) * NSEC_PER_MSEC, t1 - t0);
}

static u64 xb_clock(void)
{
	return xb_cycles_per_ms ? (u64)get_cycles() : ktime_get_ns();
}

/* Nanoseconds between two xb_clock() readings. */
static u64 xb_elapsed_ns(u64 t0, u64 t1)
{
	if (t1 <= t0)
		return 0;
	if (!xb_cycles_per_ms)
		return t1 - t0;
	return div64_u64((t1 - t0) * NSEC_PER_MSEC, xb_cycles_per_ms);
}

static int xb_times_init(struct xb_times *t, u64 ops)
{
	t->cap = div_u64(ops, XB_BATCH) + 2;
	t->ns = vmalloc_array(t->cap, sizeof(*t->ns));
	return t->ns ? 0 : -ENOMEM;
}

static void xb_times_add(struct xb_times *t, u64 ns, u32 ops)
{
	if (!ops || t->n >= t->cap)
		return;
	t->ns[t->n++] = (u32)min_t(u64, div_u64(ns + ops / 2, ops), U32_MAX);
	t->ops += ops;
}

static int xb_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

static void xb_times_emit(struct xb_buf *b, const char *name, struct xb_times *t)
{
	u64 sum = 0;
	u32 i;

	if (!t->n) {
		xb_emit(b, "\"%s\":null", name);
		return;
	}
	sort(t->ns, t->n, sizeof(*t->ns), xb_cmp_u32, NULL);
	for (i = 0; i < t->n; i++)
		sum += t->ns[i];
	xb_emit(b,
		"\"%s\":{\"median\":%u,\"p99\":%u,\"min\":%u,\"max\":%u,\"mean\":%llu,\"batches\":%u,\"ops\":%llu}",
		name, t->ns[t->n / 2], t->ns[(u32)div_u64((u64)t->n * 99, 100)],
		t->ns[0], t->ns[t->n - 1], div_u64(sum, t->n), t->n, t->ops);
}

/* ---- memory snapshots ------------------------------------------------------- */

static void xb_snap(struct xb_snap *s)
{
	struct sysinfo si;

	si_meminfo(&si);
	s->free_high = si.freehigh;
	s->free_low = si.freeram - si.freehigh;
	s->slab = global_node_page_state_pages(NR_SLAB_UNRECLAIMABLE_B);
}

static long long xb_delta(u64 before, u64 after)
{
	return (long long)before - (long long)after;
}

/* Memory held now, as one JSON member "name":{...}. */
static void xb_emit_memory(struct xb_buf *b, struct xb_run *r, const char *name)
{
	struct xb_snap now;
	long long slab_pages;
	long pages, high;
	u64 ksize_sum = 0;
	u32 i, mixed = 0;

	xb_snap(&now);
	slab_pages = (long long)now.slab - (long long)r->base.slab;
	pages = r->a->pages(r);
	high = r->a->pages_high(r);
	if (pages < 0)
		pages = max_t(long long, slab_pages, 0);
	xb_emit(b,
		"\"%s\":{\"objects\":%u,\"bytes_requested\":%llu,\"pages\":%ld,\"pages_highmem\":",
		name, r->live, r->requested, pages);
	if (high < 0)
		xb_emit(b, "null");
	else
		xb_emit(b, "%ld", high);
	xb_emit(b,
		",\"slab_pages_delta\":%lld,\"lowmem_pages_taken\":%lld,\"highmem_pages_taken\":%lld",
		slab_pages, xb_delta(r->base.free_low, now.free_low),
		xb_delta(r->base.free_high, now.free_high));
	if (r->a->map == xb_ptr_map) {
		for (i = 0; i < r->live; i++)
			ksize_sum += ksize((void *)r->h[i]);
		xb_emit(b, ",\"ksize_bytes\":%llu", ksize_sum);
	} else {
		xb_emit(b, ",\"ksize_bytes\":null");
	}
	for (i = 0; r->mix_pct && i < r->live; i++)
		mixed += r->sz[i] == r->mix_size;
	xb_emit(b, ",\"mix_objects\":%u}", mixed);
}

/* ---- the phases --------------------------------------------------------------- */

static void xb_fail(struct xb_run *r, const char *what)
{
	if (!r->error) {
		r->error = what;
		r->error_at = r->live;
	}
}

static bool xb_interrupted(struct xb_run *r)
{
	if (fatal_signal_pending(current)) {
		xb_fail(r, "interrupted");
		return true;
	}
	cond_resched();
	return false;
}

/* Allocate @count objects at h[live..]; time it. */
static int xb_alloc_batch(struct xb_run *r, u32 count, struct xb_times *t)
{
	u32 sizes[XB_BATCH];
	u32 i, done = 0;
	u64 t0, t1;
	int err = 0;

	for (i = 0; i < count; i++)
		sizes[i] = xb_next_size(r);
	t0 = xb_clock();
	for (i = 0; i < count; i++) {
		unsigned long *h = &r->h[r->live + i];

		err = r->a->alloc(r, sizes[i], h);
		if (err)
			break;
		if (r->map) {
			void *p = r->a->map(r, *h, true);

			memcpy(p, r->src, sizes[i]);
			r->a->unmap(r, *h);
		}
		done++;
	}
	t1 = xb_clock();
	for (i = 0; i < done; i++) {
		r->sz[r->live] = sizes[i];
		r->requested += sizes[i];
		r->live++;
	}
	if (err) {
		xb_fail(r, err == -ENOMEM ? "ENOMEM" : "alloc failed");
		return err;
	}
	xb_times_add(t, xb_elapsed_ns(t0, t1), done);
	return 0;
}

/* Free the @count objects in vh[]/vsz[]; time it. */
static void xb_free_batch(struct xb_run *r, u32 count, struct xb_times *t)
{
	u32 i;
	u64 t0, t1;

	t0 = xb_clock();
	for (i = 0; i < count; i++) {
		if (r->map) {
			void *p = r->a->map(r, r->vh[i], false);

			memcpy(r->dst, p, r->vsz[i]);
			r->a->unmap(r, r->vh[i]);
		}
		r->a->free(r, r->vh[i], r->vsz[i]);
	}
	t1 = xb_clock();
	for (i = 0; i < count; i++)
		r->requested -= r->vsz[i];
	xb_times_add(t, xb_elapsed_ns(t0, t1), count);
}

/* Take live object @idx out of the live set into victim slot @slot. */
static void xb_take(struct xb_run *r, u32 idx, u32 slot)
{
	r->vh[slot] = r->h[idx];
	r->vsz[slot] = r->sz[idx];
	r->live--;
	r->h[idx] = r->h[r->live];
	r->sz[idx] = r->sz[r->live];
}

static void xb_fill(struct xb_run *r)
{
	while (r->live < r->n && !xb_interrupted(r)) {
		if (xb_alloc_batch(r, min_t(u32, XB_BATCH, r->n - r->live),
				   &r->fill_alloc))
			return;
	}
}

static void xb_churn(struct xb_run *r)
{
	u64 left = (u64)r->churn * r->n;
	u32 count, i;

	while (left && r->live && !r->error && !xb_interrupted(r)) {
		count = min_t(u64, min_t(u32, XB_BATCH, r->live), left);
		for (i = 0; i < count; i++)
			xb_take(r, xb_below(&r->rng, r->live), i);
		xb_free_batch(r, count, &r->churn_free);
		if (xb_alloc_batch(r, count, &r->churn_alloc))
			return;
		left -= count;
	}
}

/* xv_compact()'s walk: the bench owns every handle, no other task uses them. */
static void xb_xv_walk(struct xv_pool *pool, void *arg)
{
	struct xb_run *r = arg;
	u32 i;

	for (i = 0; i < r->live; i++) {
		xv_migrate(pool, &r->h[i]);
		if (!(i % 1024))
			cond_resched();
	}
}

/* Free @thin percent of the live objects at random, then compact. */
static void xb_thin_compact(struct xb_run *r, struct xb_buf *b)
{
	u32 count, i, left = div_u64((u64)r->live * r->thin, 100);
	unsigned long compacted = 0;
	u64 t0;

	while (left && r->live) {
		count = min_t(u32, XB_BATCH, left);
		for (i = 0; i < count; i++)
			xb_take(r, xb_below(&r->rng, r->live), i);
		xb_free_batch(r, count, &r->drain_free);
		left -= count;
		cond_resched();
	}
	xb_emit(b, ",");
	xb_emit_memory(b, r, "after_thin");
	t0 = ktime_get_ns();
	if (r->xv)
		compacted = xv_compact(r->xv, xb_xv_walk, r);
	else if (r->zs)
		compacted = zs_compact(r->zs);
	xb_emit(b, ",\"compact_ms\":%llu,\"compact_pages\":%lu,",
		div_u64(ktime_get_ns() - t0, NSEC_PER_MSEC), compacted);
	xb_emit_memory(b, r, "after_compact");
}

static void xb_drain(struct xb_run *r)
{
	u32 count, i;

	while (r->live) {
		count = min_t(u32, XB_BATCH, r->live);
		for (i = 0; i < count; i++)
			xb_take(r, r->live - 1, i);
		xb_free_batch(r, count, &r->drain_free);
		cond_resched();
	}
}

static void xb_run_free(struct xb_run *r)
{
	vfree(r->h);
	vfree(r->sz);
	vfree(r->fill_alloc.ns);
	vfree(r->churn_alloc.ns);
	vfree(r->churn_free.ns);
	vfree(r->drain_free.ns);
	kfree(r->src);
	kfree(r->dst);
}

static int xb_run_alloc(struct xb_run *r)
{
	u64 n = r->n;
	u32 i;

	r->h = vmalloc_array(n + 1, sizeof(*r->h));
	r->sz = vmalloc_array(n + 1, sizeof(*r->sz));
	r->src = kmalloc(PAGE_SIZE, GFP_KERNEL);
	r->dst = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!r->h || !r->sz || !r->src || !r->dst ||
	    xb_times_init(&r->fill_alloc, n) ||
	    xb_times_init(&r->churn_alloc, n * r->churn) ||
	    xb_times_init(&r->churn_free, n * r->churn) ||
	    xb_times_init(&r->drain_free, n))
		return -ENOMEM;
	for (i = 0; i < PAGE_SIZE; i++)
		r->src[i] = (u8)(i * 7 + (i >> 8));
	return 0;
}

/* Run one benchmark and append its JSON object to the results. */
static int xb_run(struct xb_run *r)
{
	struct xb_buf *b = &xb_runs;
	u64 mean = xb_mean_size(r->dist);
	u64 t_start = ktime_get_ns(), t_check = 0;
	int check = 0;
	bool checked = false;
	int err;

	if (!mean)
		return -ENODATA;	/* a corpus list before any corpus */
	mean = div_u64(mean * (100 - r->mix_pct) + (u64)r->mix_size * r->mix_pct, 100);
	r->n = max_t(u64, 1, div64_u64((u64)r->kib << 10, mean));
	r->rng = r->seed ? r->seed : 1;
	err = xb_run_alloc(r);
	if (err)
		goto out;
	err = r->a->create(r);
	if (err)
		goto out;
	xb_snap(&r->base);

	xb_emit(b,
		"%s{\"alloc\":\"%s\",\"dist\":\"%s\",\"kib\":%u,\"churn\":%u,\"map\":%s,\"seed\":%u,\"mix_size\":%u,\"mix_pct\":%u,\"thin\":%u,\"objects\":%u,\"mean_size\":%llu,\"batch\":%u,\"pages_source\":\"%s\"",
		xb_nruns ? "," : "", r->a->name, xb_dist_name[r->dist], r->kib,
		r->churn, r->map ? "true" : "false", r->seed, r->mix_size, r->mix_pct,
		r->thin, r->n, mean, XB_BATCH, r->a->pages_source);
	xb_fill(r);
	xb_emit(b, ",");
	xb_emit_memory(b, r, "after_fill");
	xb_churn(r);
	xb_emit(b, ",");
	xb_emit_memory(b, r, "after_churn");
	if (r->thin && !r->error)
		xb_thin_compact(r, b);
	if (r->xv && !r->error) {
		t_check = ktime_get_ns();
		check = xv_check_pool(r->xv);
		t_check = ktime_get_ns() - t_check;
		checked = true;
	}
	xb_drain(r);
	xb_emit(b, ",");
	xb_emit_memory(b, r, "after_drain");
	xb_emit(b, ",");
	xb_times_emit(b, "fill_alloc_ns", &r->fill_alloc);
	xb_emit(b, ",");
	xb_times_emit(b, "churn_alloc_ns", &r->churn_alloc);
	xb_emit(b, ",");
	xb_times_emit(b, "churn_free_ns", &r->churn_free);
	xb_emit(b, ",");
	xb_times_emit(b, "drain_free_ns", &r->drain_free);
	if (checked)
		xb_emit(b, ",\"xv_check_pool\":%d,\"check_ms\":%llu", check,
			div_u64(t_check, NSEC_PER_MSEC));
	else
		xb_emit(b, ",\"xv_check_pool\":null");
	if (r->error)
		xb_emit(b, ",\"error\":\"%s\",\"error_at_object\":%u", r->error,
			r->error_at);
	else
		xb_emit(b, ",\"error\":null");
	xb_emit(b, ",\"run_ms\":%llu}",
		div_u64(ktime_get_ns() - t_start, NSEC_PER_MSEC));
	xb_nruns++;
	r->a->destroy(r);
out:
	xb_run_free(r);
	return err;
}

/* ---- "run" command parsing ------------------------------------------------------ */

static int xb_parse(char *cmd, struct xb_run *r)
{
	char *tok, *val;
	bool have_alloc = false, have_dist = false;
	unsigned int i;
	u32 v;
	int d;

	r->kib = 16384;
	r->churn = 10;
	r->seed = 1;
	while ((tok = strsep(&cmd, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (!strcmp(tok, "alloc")) {
			for (i = 0; i < ARRAY_SIZE(xb_allocs); i++)
				if (!strcmp(val, xb_allocs[i].name))
					r->a = &xb_allocs[i];
			have_alloc = r->a;
		} else if (!strcmp(tok, "dist")) {
			d = match_string(xb_dist_name, XB_NDIST, val);
			if (d < 0)
				return -EINVAL;
			r->dist = d;
			have_dist = true;
		} else if (kstrtou32(val, 0, &v)) {
			return -EINVAL;
		} else if (!strcmp(tok, "kib")) {
			if (!v || v > XB_MAX_KIB)
				return -EINVAL;
			r->kib = v;
		} else if (!strcmp(tok, "churn")) {
			if (v > XB_MAX_CHURN)
				return -EINVAL;
			r->churn = v;
		} else if (!strcmp(tok, "map")) {
			if (v > 1)
				return -EINVAL;
			r->map = v;
		} else if (!strcmp(tok, "seed")) {
			r->seed = v;
		} else if (!strcmp(tok, "mix")) {
			if (v < XB_MIN_SIZE || v > XB_MAX_SIZE)
				return -EINVAL;
			r->mix_size = v;
		} else if (!strcmp(tok, "mixpct")) {
			if (v > 100)
				return -EINVAL;
			r->mix_pct = v;
		} else if (!strcmp(tok, "thin")) {
			if (!v || v > 99)
				return -EINVAL;
			r->thin = v;
		} else {
			return -EINVAL;
		}
	}
	if (!r->mix_size != !r->mix_pct)
		return -EINVAL;
	return have_alloc && have_dist ? 0 : -EINVAL;
}

static ssize_t xb_run_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	struct xb_run *r;
	char *cmd;
	int err;

	if (len >= XB_CMD_MAX)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r) {
		kfree(cmd);
		return -ENOMEM;
	}
	err = xb_parse(cmd, r);
	if (!err) {
		mutex_lock(&xb_lock);
		err = xb_run(r);
		if (!err && xb_runs.oom)
			err = -ENOMEM;
		mutex_unlock(&xb_lock);
	}
	kfree(r);
	kfree(cmd);
	return err ? err : len;
}

/* ---- the corpus ------------------------------------------------------------------- */

static bool xb_same_filled(const void *page)
{
	const unsigned long *w = page;
	unsigned int i;

	for (i = 1; i < PAGE_SIZE / sizeof(*w); i++)
		if (w[i] != w[0])
			return false;
	return true;
}

static int xb_sizes_add(struct xb_sizes *s, u32 len)
{
	if (s->n == s->cap) {
		u32 cap = max_t(u32, 2 * s->cap, 4096);
		u16 *v = rzs_kvrealloc(s->v, s->cap * sizeof(*v), cap * sizeof(*v),
				       GFP_KERNEL);

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (len >= RZS_HUGE_THRESHOLD) {
		len = PAGE_SIZE;
		s->huge++;
	}
	s->v[s->n++] = len;
	s->sum += len;
	s->hist[len / XB_HIST_STEP]++;
	return 0;
}

static int xb_corpus_page(struct xb_corpus *c)
{
	unsigned int dlen;
	int i, err;

	c->pages++;
	if (xb_same_filled(c->page)) {
		if (!*(unsigned long *)c->page)
			c->zero_pages++;
		else
			c->same_pages++;
		return 0;
	}
	for (i = 0; i < XB_NCOMP; i++) {
		dlen = 2 * PAGE_SIZE;
		err = crypto_comp_compress(c->tfm[i], c->page, PAGE_SIZE, c->dst,
					   &dlen);
		if (err)
			return err;
		err = xb_sizes_add(&c->sizes[i], min_t(u32, dlen, PAGE_SIZE));
		if (err)
			return err;
	}
	return 0;
}

static ssize_t xb_corpus_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	struct xb_corpus *c = &xb_corpus;
	size_t done = 0, n;
	int err = 0;

	mutex_lock(&xb_lock);
	while (done < len) {
		n = min_t(size_t, len - done, PAGE_SIZE - c->fill);
		if (copy_from_user(c->page + c->fill, ubuf + done, n)) {
			err = -EFAULT;
			break;
		}
		c->fill += n;
		done += n;
		if (c->fill == PAGE_SIZE) {
			c->fill = 0;
			err = xb_corpus_page(c);
			if (err)
				break;
		}
	}
	mutex_unlock(&xb_lock);
	if (err && !done)
		return err;
	*ppos += done;
	return done;
}

static void xb_reset_locked(void)
{
	int i;

	for (i = 0; i < XB_NCOMP; i++) {
		kvfree(xb_corpus.sizes[i].v);
		memset(&xb_corpus.sizes[i], 0, sizeof(xb_corpus.sizes[i]));
	}
	xb_corpus.pages = 0;
	xb_corpus.zero_pages = 0;
	xb_corpus.same_pages = 0;
	xb_corpus.fill = 0;
	xb_buf_free(&xb_runs);
	xb_nruns = 0;
}

static ssize_t xb_reset_write(struct file *file, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	mutex_lock(&xb_lock);
	xb_reset_locked();
	mutex_unlock(&xb_lock);
	return len;
}

/* ---- results ------------------------------------------------------------------------ */

static int xb_results_show(struct seq_file *m, void *v)
{
	const struct xb_sizes *s;
	int i, j;

	mutex_lock(&xb_lock);
	seq_printf(m,
		   "{\"xvbench\":1,\"page_size\":%lu,\"batch\":%u,\"cache_step\":%u,\"huge_size\":%lu,",
		   PAGE_SIZE, XB_BATCH, XB_CACHE_STEP, RZS_HUGE_THRESHOLD);
	seq_printf(m, "\"clock\":\"%s\",\"tsc_cycles_per_ms\":%llu,\"calibration_ms\":%u,",
		   xb_cycles_per_ms ? "tsc" : "ktime", xb_cycles_per_ms, XB_CAL_MS);
	seq_printf(m,
		   "\"corpus\":{\"pages\":%llu,\"zero_pages\":%llu,\"same_pages\":%llu,\"partial_bytes\":%u,\"hist_step\":%u,\"lists\":{",
		   xb_corpus.pages, xb_corpus.zero_pages, xb_corpus.same_pages,
		   xb_corpus.fill, XB_HIST_STEP);
	for (i = 0; i < XB_NCOMP; i++) {
		s = &xb_corpus.sizes[i];
		seq_printf(m,
			   "%s\"corpus-%s\":{\"n\":%u,\"sum\":%llu,\"huge\":%llu,\"hist\":[",
			   i ? "," : "", xb_comp_alg[i], s->n, s->sum, s->huge);
		for (j = 0; j < XB_HIST_BUCKETS; j++)
			seq_printf(m, "%s%u", j ? "," : "", s->hist[j]);
		seq_puts(m, "]}");
	}
	seq_puts(m, "}},\"runs\":[");
	if (xb_runs.len)
		seq_write(m, xb_runs.s, xb_runs.len);
	seq_printf(m, "],\"results_truncated\":%s}\n",
		   xb_runs.oom ? "true" : "false");
	mutex_unlock(&xb_lock);
	return 0;
}

static int xb_results_open(struct inode *inode, struct file *file)
{
	return single_open(file, xb_results_show, NULL);
}

static const struct file_operations xb_results_fops = {
	.owner = THIS_MODULE,
	.open = xb_results_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

static const struct file_operations xb_run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = xb_run_write,
	.llseek = rzs_no_llseek,
};

static const struct file_operations xb_corpus_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = xb_corpus_write,
	.llseek = rzs_no_llseek,
};

static const struct file_operations xb_reset_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = xb_reset_write,
	.llseek = rzs_no_llseek,
};

/* ---- init / exit -------------------------------------------------------------------- */

static void xb_corpus_free(struct xb_corpus *c)
{
	int i;

	for (i = 0; i < XB_NCOMP; i++)
		if (!IS_ERR_OR_NULL(c->tfm[i]))
			crypto_free_comp(c->tfm[i]);
	kfree(c->page);
	kfree(c->dst);
}

static int __init xb_init(void)
{
	struct xb_corpus *c = &xb_corpus;
	int i, err = -ENOMEM;

	c->page = kmalloc(PAGE_SIZE, GFP_KERNEL);
	c->dst = kmalloc(2 * PAGE_SIZE, GFP_KERNEL);
	if (!c->page || !c->dst)
		goto fail;
	for (i = 0; i < XB_NCOMP; i++) {
		c->tfm[i] = crypto_alloc_comp(xb_comp_alg[i], 0, 0);
		if (IS_ERR(c->tfm[i])) {
			err = PTR_ERR(c->tfm[i]);
			pr_err("no %s compressor: %d\n", xb_comp_alg[i], err);
			goto fail;
		}
	}
	xb_calibrate();
	xb_dir = debugfs_create_dir("xvbench", NULL);
	debugfs_create_file("corpus", 0200, xb_dir, NULL, &xb_corpus_fops);
	debugfs_create_file("run", 0200, xb_dir, NULL, &xb_run_fops);
	debugfs_create_file("results", 0400, xb_dir, NULL, &xb_results_fops);
	debugfs_create_file("reset", 0200, xb_dir, NULL, &xb_reset_fops);
	return 0;
fail:
	xb_corpus_free(c);
	return err;
}

static void __exit xb_exit(void)
{
	debugfs_remove_recursive(xb_dir);
	mutex_lock(&xb_lock);
	xb_reset_locked();
	mutex_unlock(&xb_lock);
	xb_corpus_free(&xb_corpus);
}

module_init(xb_init);
module_exit(xb_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("ramzswap developers");
MODULE_DESCRIPTION("Side-by-side benchmark of xvmalloc, zsmalloc, kmalloc and kmem_caches");
