// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for xvmalloc: module xvmalloc_test.ko, suite "xvmalloc".
 * Where the kernel has no KUnit, kunit_lite.c runs them (see kunit_lite.h).
 *
 * Sized for a slow emulated guest with lockdep, DEBUG_PAGEALLOC and
 * kmemleak: the whole suite should take seconds, not minutes.  Every
 * object is filled with a pattern derived from its handle and checked
 * before it is freed, so overlapping objects or lost writes show up.
 */
#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/test.h>
#else
#include "kunit_lite.h"	/* the same cases where the kernel has no KUnit */
#endif
#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "xvmalloc.h"
#include "xvmalloc_int.h"

MODULE_IMPORT_NS(XVMALLOC_TESTING);

#define XVT_MAX		XV_MAX_ALLOC_SIZE

struct xvt_obj {
	unsigned long handle;
	u32 size;
	u32 gen;
};

/* The content an object should hold: a function of handle, size, gen. */
static void xvt_pattern(u8 *buf, u32 size, unsigned long handle, u32 gen)
{
	u32 x = (u32)handle * 2654435761u ^ gen * 40503u ^ size;
	u32 i;

	for (i = 0; i < size; i++) {
		if ((i & 3) == 0)
			x = x * 1103515245u + 12345u;
		buf[i] = x >> (8 * (i & 3));
	}
}

/* Store the pattern through xv_write(), or a WO or RW mapping. */
static void xvt_store(struct xv_pool *pool, const struct xvt_obj *o, u8 *buf)
{
	void *p;

	xvt_pattern(buf, o->size, o->handle, o->gen);
	switch (o->gen % 3) {
	case 0:
		xv_write(pool, o->handle, buf);
		break;
	default:
		p = xv_map(pool, o->handle, o->gen % 3 == 1 ? XV_MM_WO : XV_MM_RW);
		if (p) {
			memcpy(p, buf, o->size);
			xv_unmap(pool, o->handle);
		}
		break;
	}
}

/* Check the content through xv_read() or an RO or RW mapping. */
static bool xvt_verify(struct xv_pool *pool, const struct xvt_obj *o, u8 *buf,
		       u8 *tmp, u32 how)
{
	bool ok = false;
	void *p;

	xvt_pattern(buf, o->size, o->handle, o->gen);
	if (xv_obj_size(pool, o->handle) != o->size)
		return false;
	switch (how % 3) {
	case 0:
		xv_read(pool, o->handle, tmp);
		ok = !memcmp(tmp, buf, o->size);
		break;
	default:
		p = xv_map(pool, o->handle, how % 3 == 1 ? XV_MM_RO : XV_MM_RW);
		if (p) {
			ok = !memcmp(p, buf, o->size);
			xv_unmap(pool, o->handle);
		}
		break;
	}
	return ok;
}

/* Per-test state: a pool and two page buffers. */
struct xvt_ctx {
	struct xv_pool *pool;
	u8 *buf;
	u8 *tmp;
	struct rnd_state rnd;
};

static int xvt_init(struct kunit *test)
{
	struct xvt_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->buf = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
	ctx->tmp = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx->buf);
	KUNIT_ASSERT_NOT_NULL(test, ctx->tmp);
	ctx->pool = xv_create_pool("xvmalloc_test");
	KUNIT_ASSERT_NOT_NULL(test, ctx->pool);
	prandom_seed_state(&ctx->rnd, 0x5eed0001);
	test->priv = ctx;
	return 0;
}

static void xvt_exit(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;

	if (!ctx || !ctx->pool)
		return;
	/* Tests free what they allocate; a leftover object is a failure. */
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
	if (!xv_get_total_pages(ctx->pool))
		xv_destroy_pool(ctx->pool);
	/* else leak the pool rather than WARN from xv_destroy_pool() */
}

static u32 xvt_rand(struct xvt_ctx *ctx, u32 lo, u32 hi)
{
	return lo + prandom_u32_state(&ctx->rnd) % (hi - lo + 1);
}

static int xvt_alloc(struct xvt_ctx *ctx, struct xvt_obj *o, u32 size, gfp_t gfp)
{
	int ret = xv_malloc(ctx->pool, size, gfp, &o->handle);

	o->size = size;
	o->gen = prandom_u32_state(&ctx->rnd);
	if (!ret)
		xvt_store(ctx->pool, o, ctx->buf);
	return ret;
}

/* Allocate and fill an object; the test stops if that fails. */
static void xvt_get(struct kunit *test, struct xvt_obj *o, u32 size)
{
	struct xvt_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ_MSG(test, xvt_alloc(ctx, o, size, GFP_KERNEL), 0, "size %u", size);
}

static void xvt_free(struct kunit *test, struct xvt_obj *o)
{
	struct xvt_ctx *ctx = test->priv;

	KUNIT_ASSERT_TRUE_MSG(test, xvt_verify(ctx->pool, o, ctx->buf, ctx->tmp, o->gen >> 8),
			      "object %#lx of %u bytes corrupt", o->handle, o->size);
	xv_free(ctx->pool, o->handle);
	o->handle = 0;
}

static void xvt_check(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ(test, xv_check_pool(ctx->pool), 0);
}

static void xvt_invalid_sizes(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	unsigned long handle = 1;

	KUNIT_EXPECT_EQ(test, xv_malloc(ctx->pool, 0, GFP_KERNEL, &handle), -EINVAL);
	KUNIT_EXPECT_EQ(test, handle, 0UL);
	handle = 1;
	KUNIT_EXPECT_EQ(test, xv_malloc(ctx->pool, XVT_MAX + 1, GFP_KERNEL, &handle), -EINVAL);
	KUNIT_EXPECT_EQ(test, handle, 0UL);
	xv_free(ctx->pool, 0);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
	xvt_check(test);
}

static void xvt_sizes_alone(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_obj o;
	u32 size;

	for (size = 1; size <= XVT_MAX; size++) {
		xvt_get(test, &o, size);
		KUNIT_ASSERT_EQ(test, xv_obj_size(ctx->pool, o.handle), (size_t)size);
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &o, ctx->buf, ctx->tmp, size));
		xvt_free(test, &o);
		KUNIT_ASSERT_EQ_MSG(test, xv_get_total_pages(ctx->pool), 0UL, "size %u", size);
		if (size % 512 == 0) {
			xvt_check(test);
			cond_resched();
		}
	}
}

static void xvt_sizes_interleaved(struct kunit *test)
{
	struct xvt_obj *objs;
	u32 i, size;

	objs = kunit_kcalloc(test, XVT_MAX, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	/* 1, max, 2, max - 1, ...: every size, all live at once */
	for (i = 0; i < XVT_MAX; i++) {
		size = i % 2 ? XVT_MAX - i / 2 : i / 2 + 1;
		xvt_get(test, &objs[i], size);
		if (i % 512 == 511) {
			xvt_check(test);
			cond_resched();
		}
	}
	for (i = 0; i < XVT_MAX; i += 2)
		xvt_free(test, &objs[i]);
	xvt_check(test);
	for (i = 1; i < XVT_MAX; i += 2) {
		xvt_free(test, &objs[i]);
		if (i % 512 == 511)
			xvt_check(test);
	}
	xvt_check(test);
}

static bool xvt_next_perm(u32 *a, u32 n)
{
	u32 i = n - 1, j = n - 1;

	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (!i)
		return false;
	while (a[j] <= a[i - 1])
		j--;
	swap(a[i - 1], a[j]);
	for (j = n - 1; i < j; i++, j--)
		swap(a[i], a[j]);
	return true;
}

/*
 * Four neighbours (one area, front to back) freed in each of the 24
 * orders: with a small object after them they must end as one free block
 * (plus the area's tail); without it the area goes back (pages == 0).
 */
static void xvt_coalesce(struct kunit *test)
{
	static const u32 sizes[] = { 40, 300, 1000, 2500 };
	struct xvt_ctx *ctx = test->priv;
	struct xv_pool_check info;
	u32 perm[] = { 0, 1, 2, 3 };
	struct xvt_obj o[5];
	u32 i, keeper, n = 0;

	do {
		for (keeper = 0; keeper < 2; keeper++) {
			for (i = 0; i < 4; i++)
				xvt_get(test, &o[i], sizes[i]);
			if (keeper)
				xvt_get(test, &o[4], 16);
			/* only the first page of the area is needed */
			KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 1UL);
			for (i = 0; i < 4; i++) {
				xvt_free(test, &o[perm[i]]);
				xvt_check(test);
			}
			if (keeper) {
				KUNIT_ASSERT_EQ(test, xv_check_pool_info(ctx->pool, &info), 0);
				KUNIT_ASSERT_EQ(test, info.used_blocks, 1ULL);
				KUNIT_ASSERT_EQ_MSG(test, info.free_blocks, 2ULL,
						    "order %u %u %u %u", perm[0], perm[1],
						    perm[2], perm[3]);
				xvt_free(test, &o[4]);
			}
			KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
		}
		n++;
	} while (xvt_next_perm(perm, 4));
	KUNIT_ASSERT_EQ(test, n, 24U);
}

/*
 * Pages entirely inside a free block go back at once and return when an
 * allocation needs them: four 4000-byte objects fill an area; freeing the
 * middle two frees page 1, which the next 4000-byte object brings back.
 */
static void xvt_sparse(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_obj o[4];
	u32 i;

	if (XV_AREA_PAGES < 4)
		kunit_skip(test, "areas of fewer than 4 pages");
	for (i = 0; i < 4; i++)
		xvt_get(test, &o[i], 4000);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 4UL);
	xvt_free(test, &o[1]);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 4UL);
	xvt_free(test, &o[2]);
	xvt_check(test);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 3UL);
	xvt_get(test, &o[1], 4000);
	xvt_check(test);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 4UL);
	xvt_free(test, &o[0]);
	xvt_free(test, &o[3]);
	xvt_check(test);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 2UL);
	xvt_free(test, &o[1]);
	KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
}

/* Long pseudo-random alloc/free sequences with fixed seeds. */
static void xvt_random(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 cap = 1000, ops = 20000;
	struct xv_pool_stats st;
	struct xvt_obj *objs;
	u32 i, n = 0, target = 0, seed;
	u64 bytes = 0;

	objs = kunit_kcalloc(test, cap, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (seed = 1; seed <= 2; seed++) {
		prandom_seed_state(&ctx->rnd, seed);
		for (i = 0; i < ops; i++) {
			if (i % 2048 == 0)
				target = xvt_rand(ctx, 0, cap);
			if (n < cap && (n < target || xvt_rand(ctx, 0, 3) == 0)) {
				u32 size = seed == 1 ? xvt_rand(ctx, 1, XVT_MAX) :
					   xvt_rand(ctx, XVT_MAX / 2, XVT_MAX);

				xvt_get(test, &objs[n], size);
				bytes += size;
				n++;
			} else if (n) {
				u32 j = xvt_rand(ctx, 0, n - 1);

				bytes -= objs[j].size;
				xvt_free(test, &objs[j]);
				objs[j] = objs[--n];
			}
			if (i % 1000 == 999) {
				xvt_check(test);
				xv_get_stats(ctx->pool, &st);
				KUNIT_ASSERT_EQ(test, st.objects, (u64)n);
				KUNIT_ASSERT_EQ(test, st.bytes_requested, bytes);
				KUNIT_ASSERT_EQ(test, st.bytes_in_pool, st.pages_total * PAGE_SIZE);
				KUNIT_ASSERT_EQ(test, xv_get_total_size_bytes(ctx->pool),
						st.bytes_in_pool);
				cond_resched();
			}
		}
		while (n) {
			bytes -= objs[--n].size;
			xvt_free(test, &objs[n]);
		}
		KUNIT_EXPECT_EQ(test, bytes, 0ULL);
		xvt_check(test);
		KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
	}
}

/* Does the object's data cross a page boundary (so xv_map() bounces)? */
static bool xvt_crosses(const struct xvt_obj *o)
{
	u32 off = ((u32)o->handle & XV_OFF_MASK) * XV_ALIGN + XV_HDR_SIZE;

	if (o->handle & XV_WHOLE_TAG)
		return false;	/* a page of its own */

	return off / PAGE_SIZE != (off + o->size - 1) / PAGE_SIZE;
}

/* Mapping modes, for objects within a page and across a page boundary. */
static void xvt_map_modes(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xv_pool_check info;
	struct xvt_obj o[12];
	u32 i, crossing = 0;
	bool same;
	u8 *p;

	for (i = 0; i < ARRAY_SIZE(o); i++)
		xvt_get(test, &o[i], xvt_rand(ctx, 2500, XVT_MAX));
	for (i = 0; i < ARRAY_SIZE(o); i++) {
		if (xvt_crosses(&o[i])) {
			/* RO on a bounced object: changes are not written back */
			crossing++;
			p = xv_map(ctx->pool, o[i].handle, XV_MM_RO);
			KUNIT_ASSERT_NOT_NULL(test, p);
			memset(p, 0xee, o[i].size);
			xv_unmap(ctx->pool, o[i].handle);
			same = xvt_verify(ctx->pool, &o[i], ctx->buf, ctx->tmp, 0);
			KUNIT_ASSERT_TRUE(test, same);
		}
		/* WO: the whole new content lands */
		o[i].gen++;
		xvt_pattern(ctx->buf, o[i].size, o[i].handle, o[i].gen);
		p = xv_map(ctx->pool, o[i].handle, XV_MM_WO);
		KUNIT_ASSERT_NOT_NULL(test, p);
		memcpy(p, ctx->buf, o[i].size);
		xv_unmap(ctx->pool, o[i].handle);
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &o[i], ctx->buf, ctx->tmp, 0));
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &o[i], ctx->buf, ctx->tmp, 1));
		/* RW: sees the content, keeps the changes */
		p = xv_map(ctx->pool, o[i].handle, XV_MM_RW);
		KUNIT_ASSERT_NOT_NULL(test, p);
		same = !memcmp(p, ctx->buf, o[i].size);
		o[i].gen++;
		xvt_pattern(ctx->buf, o[i].size, o[i].handle, o[i].gen);
		memcpy(p, ctx->buf, o[i].size);
		xv_unmap(ctx->pool, o[i].handle);
		/* never assert while mapped: preemption is off until xv_unmap() */
		KUNIT_ASSERT_TRUE(test, same);
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &o[i], ctx->buf, ctx->tmp, 0));
	}
	KUNIT_ASSERT_GT(test, crossing, 0U);
	KUNIT_ASSERT_EQ(test, xv_check_pool_info(ctx->pool, &info), 0);
	KUNIT_ASSERT_EQ(test, info.crossing_objects, (u64)crossing);
	for (i = 0; i < ARRAY_SIZE(o); i++)
		xvt_free(test, &o[i]);
}

/* Pool pages come from high memory when there is any. */
static void xvt_highmem(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 count = 256;
	struct xv_pool_stats st;
	struct xvt_obj *o;
	u32 i;

	if (!totalhigh_pages())
		kunit_skip(test, "no high memory");
	o = kunit_kcalloc(test, count, sizeof(*o), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	for (i = 0; i < count; i++)
		xvt_get(test, &o[i], xvt_rand(ctx, 1000, XVT_MAX));
	xv_get_stats(ctx->pool, &st);
	kunit_info(test, "%llu of %llu pool pages in high memory\n", st.pages_highmem,
		   st.pages_total);
	KUNIT_EXPECT_GE(test, st.pages_highmem * 100, st.pages_total * 95);
	for (i = 0; i < count; i++)
		xvt_free(test, &o[i]);
}

/*
 * Each internal allocation of a growth fails in turn: -ENOMEM, no leak.
 * The largest packed objects (four to an area) need 2, 1, 1 and 0 new
 * pages: twelve of them reach every allocation counted below.
 */
static void xvt_nomem(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xv_pool_stats st;
	struct xvt_obj o[2 * XV_AREA_PAGES + 4];
	u64 failures = 0;
	u32 nth, n, i;
	int ret = 0;

	/* chunk, pages of the first growth, then of the second one */
	for (nth = 1; nth <= 2 * XV_AREA_PAGES + 2; nth++) {
		xv_pool_fail_nth(ctx->pool, nth);
		for (n = 0; n < ARRAY_SIZE(o); n++) {
			ret = xvt_alloc(ctx, &o[n], XV_MAX_PACKED, GFP_KERNEL);
			if (ret)
				break;
		}
		KUNIT_ASSERT_EQ(test, ret, -ENOMEM);
		KUNIT_ASSERT_EQ(test, o[n < ARRAY_SIZE(o) ? n : 0].handle, 0UL);
		xv_get_stats(ctx->pool, &st);
		KUNIT_ASSERT_EQ(test, st.alloc_failures, ++failures);
		KUNIT_ASSERT_EQ(test, st.objects, (u64)n);
		xvt_check(test);
		xv_pool_fail_nth(ctx->pool, 0);
		for (i = 0; i < n; i++)
			xvt_free(test, &o[i]);
		KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
	}
}

/*
 * The table chunk: the allocation after the first chunk is full fails
 * (packed objects: whole-page ones need no area, so no chunk).
 */
static void xvt_nomem_chunk(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 cap = XV_CHUNK_AREAS * XV_AREA_PAGES + 2;
	struct xv_pool_stats st;
	struct xvt_obj *objs;
	u32 n, i;
	int ret = 0;

	objs = kunit_kcalloc(test, cap, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (n = 0; n + 1 < cap; n++) {
		xv_get_stats(ctx->pool, &st);
		if (st.pages_total - st.pages_stashed == (XV_CHUNK_AREAS - 1) * XV_AREA_PAGES)
			xv_pool_fail_nth(ctx->pool, 1);
		ret = xv_malloc(ctx->pool, XV_MAX_PACKED, GFP_KERNEL, &objs[n].handle);
		if (ret)
			break;
	}
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	xvt_check(test);
	xv_pool_fail_nth(ctx->pool, 0);
	KUNIT_EXPECT_EQ(test, xv_malloc(ctx->pool, XV_MAX_PACKED, GFP_KERNEL, &objs[n].handle),
			0);
	xvt_check(test);
	for (i = 0; i <= n; i++)
		xv_free(ctx->pool, objs[i].handle);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
}

static struct page *xvt_whole_page(const struct xvt_obj *o)
{
	return pfn_to_page(o->handle & ~XV_WHOLE_TAG);
}

/*
 * Whole-page objects (over XV_MAX_PACKED bytes): no header, one page each
 * (n objects, n pages, from high memory where there is some), the
 * content at byte 0 of the page and intact through every way in and out,
 * mapped in place; the page goes back on free; mixed with packed objects;
 * a failed page allocation is -ENOMEM, counted, and holds nothing.
 */
static void xvt_whole_pages(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 count = 48;
	struct xv_pool_check info;
	struct xv_pool_stats st;
	struct xvt_obj *w, *p;
	unsigned long pages, high = 0, handle = 1;
	bool same;
	u8 *m;
	u32 i;

	w = kunit_kcalloc(test, count, sizeof(*w), GFP_KERNEL);
	p = kunit_kcalloc(test, count, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	KUNIT_ASSERT_NOT_NULL(test, p);

	/* alone: n objects take n pages */
	for (i = 0; i < count; i++) {
		xvt_get(test, &w[i], XV_MAX_PACKED + 1 + i % (XVT_MAX - XV_MAX_PACKED));
		KUNIT_ASSERT_TRUE(test, w[i].handle & XV_WHOLE_TAG);
		KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), (unsigned long)i + 1);
		KUNIT_ASSERT_EQ(test, xv_obj_size(ctx->pool, w[i].handle), (size_t)w[i].size);
		high += PageHighMem(xvt_whole_page(&w[i]));
	}
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.objects, (u64)count);
	KUNIT_EXPECT_EQ(test, st.pages_total, (u64)count);
	KUNIT_EXPECT_EQ(test, st.bytes_in_pool, (u64)count * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, st.pages_highmem, (u64)high);
	if (totalhigh_pages())
		KUNIT_EXPECT_GT(test, high, 0UL);
	KUNIT_ASSERT_EQ(test, xv_check_pool_info(ctx->pool, &info), 0);
	KUNIT_EXPECT_EQ(test, info.whole_objects, (u64)count);
	KUNIT_EXPECT_EQ(test, info.areas, 0ULL);
	KUNIT_EXPECT_EQ(test, info.used_blocks, 0ULL);
	KUNIT_EXPECT_EQ(test, info.crossing_objects, 0ULL);

	for (i = 0; i < count; i++) {
		/* no header: the object starts at byte 0 of its page */
		xvt_pattern(ctx->buf, w[i].size, w[i].handle, w[i].gen);
		m = kmap_local_page(xvt_whole_page(&w[i]));
		same = !memcmp(m, ctx->buf, w[i].size);
		kunmap_local(m);
		KUNIT_ASSERT_TRUE_MSG(test, same, "object %u not at the start of its page", i);
		/* mapped in place, not bounced */
		m = xv_map(ctx->pool, w[i].handle, XV_MM_RO);
		same = m && offset_in_page(m) == 0;
		if (m)
			xv_unmap(ctx->pool, w[i].handle);
		KUNIT_ASSERT_TRUE(test, same);
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &w[i], ctx->buf, ctx->tmp, 0));
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &w[i], ctx->buf, ctx->tmp, 1));
		KUNIT_ASSERT_TRUE(test, xvt_verify(ctx->pool, &w[i], ctx->buf, ctx->tmp, 2));
	}

	/* mixed with packed objects: a whole one still costs one page */
	for (i = 0; i < count; i++) {
		xvt_get(test, &p[i], xvt_rand(ctx, 1, XV_MAX_PACKED));
		if (i % 2)
			continue;
		pages = xv_get_total_pages(ctx->pool);
		xvt_free(test, &w[i]);
		KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), pages - 1);
		xvt_get(test, &w[i], XVT_MAX);
		KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), pages);
	}
	KUNIT_ASSERT_EQ(test, xv_check_pool_info(ctx->pool, &info), 0);
	KUNIT_EXPECT_EQ(test, info.whole_objects, (u64)count);
	KUNIT_EXPECT_EQ(test, info.used_blocks, (u64)count);

	/* a failed page allocation: -ENOMEM, counted, nothing held */
	pages = xv_get_total_pages(ctx->pool);
	xv_pool_fail_nth(ctx->pool, 1);
	KUNIT_EXPECT_EQ(test, xv_malloc(ctx->pool, XVT_MAX, GFP_KERNEL, &handle), -ENOMEM);
	xv_pool_fail_nth(ctx->pool, 0);
	KUNIT_EXPECT_EQ(test, handle, 0UL);
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.alloc_failures, 1ULL);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), pages);

	/* free returns each page; the packed objects are intact */
	for (i = 0; i < count; i++) {
		pages = xv_get_total_pages(ctx->pool);
		xvt_free(test, &w[i]);
		KUNIT_ASSERT_EQ(test, xv_get_total_pages(ctx->pool), pages - 1);
	}
	xvt_check(test);
	for (i = 0; i < count; i++)
		xvt_free(test, &p[i]);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
	xvt_check(test);
}

/* GFP_NOWAIT with a spinlock held: must not sleep (DEBUG_ATOMIC_SLEEP). */
static void xvt_atomic(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	static DEFINE_SPINLOCK(lock);
	const u32 count = 64;
	struct xvt_obj *o;
	u32 i, n = 0;
	int ret;

	o = kunit_kcalloc(test, count, sizeof(*o), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	spin_lock(&lock);
	for (i = 0; i < count; i++) {
		ret = xv_malloc(ctx->pool, xvt_rand(ctx, 1, XVT_MAX), GFP_NOWAIT,
				&o[n].handle);
		/* -ENOMEM is allowed under GFP_NOWAIT; anything else is not */
		if (ret != -ENOMEM)
			KUNIT_EXPECT_EQ(test, ret, 0);
		if (!ret)
			n++;
	}
	spin_unlock(&lock);
	xvt_check(test);
	for (i = 0; i < n; i++)
		xv_free(ctx->pool, o[i].handle);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
}

/* Allocate, write, read back and free in hard interrupt context. */
struct xvt_irq {
	struct hrtimer timer;
	struct xv_pool *pool;
	struct completion done;
	u8 data[64];
	u8 back[64];
	int ret;
	bool ok;
	bool in_irq;
};

static enum hrtimer_restart xvt_irq_fn(struct hrtimer *timer)
{
	struct xvt_irq *x = container_of(timer, struct xvt_irq, timer);
	unsigned long handle;
	void *p;

	x->in_irq = in_hardirq();
	x->ret = xv_malloc(x->pool, sizeof(x->data), GFP_ATOMIC, &handle);
	if (!x->ret) {
		xv_write(x->pool, handle, x->data);
		p = xv_map(x->pool, handle, XV_MM_RO);
		x->ok = p && !memcmp(p, x->data, sizeof(x->data));
		if (p)
			xv_unmap(x->pool, handle);
		xv_read(x->pool, handle, x->back);
		x->ok = x->ok && !memcmp(x->back, x->data, sizeof(x->data));
		xv_free(x->pool, handle);
	}
	complete(&x->done);
	return HRTIMER_NORESTART;
}

static void xvt_irq_context(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_obj o;
	struct xvt_irq *x;

	x = kunit_kzalloc(test, sizeof(*x), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, x);
	/* a process-context object too, so the pool lock is used both ways */
	xvt_get(test, &o, 100);
	x->pool = ctx->pool;
	memset(x->data, 0x3c, sizeof(x->data));
	init_completion(&x->done);
	hrtimer_init(&x->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	x->timer.function = xvt_irq_fn;
	hrtimer_start(&x->timer, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	wait_for_completion(&x->done);
	hrtimer_cancel(&x->timer);
	KUNIT_EXPECT_TRUE(test, x->in_irq);
	KUNIT_EXPECT_EQ(test, x->ret, 0);
	KUNIT_EXPECT_TRUE(test, x->ok);
	xvt_free(test, &o);
	xvt_check(test);
}

/* Several kthreads allocating and freeing on one pool. */
#define XVT_THREADS		4
#define XVT_THREAD_OPS		3000
#define XVT_THREAD_LIVE		100

struct xvt_thread {
	struct xv_pool *pool;
	struct completion done;
	struct rnd_state rnd;
	u8 *buf;
	u8 *tmp;
	u32 errors;
	u32 allocs;
	struct xvt_obj live[XVT_THREAD_LIVE];
};

static int xvt_thread_fn(void *arg)
{
	struct xvt_thread *t = arg;
	struct xvt_obj *live = t->live;
	u32 i, n = 0;

	for (i = 0; i < XVT_THREAD_OPS; i++) {
		u32 r = prandom_u32_state(&t->rnd);

		if (n < XVT_THREAD_LIVE && (r & 1)) {
			struct xvt_obj *o = &live[n];

			o->size = 1 + (r >> 1) % XVT_MAX;
			o->gen = prandom_u32_state(&t->rnd);
			if (xv_malloc(t->pool, o->size, GFP_KERNEL, &o->handle)) {
				t->errors++;
				continue;
			}
			xvt_store(t->pool, o, t->buf);
			n++;
			t->allocs++;
		} else if (n) {
			u32 j = (r >> 1) % n;

			if (!xvt_verify(t->pool, &live[j], t->buf, t->tmp, r >> 8))
				t->errors++;
			xv_free(t->pool, live[j].handle);
			live[j] = live[--n];
		}
		if (i % 64 == 0)
			cond_resched();
	}
	while (n) {
		n--;
		if (!xvt_verify(t->pool, &live[n], t->buf, t->tmp, n))
			t->errors++;
		xv_free(t->pool, live[n].handle);
	}
	kthread_complete_and_exit(&t->done, 0);
}

static void xvt_concurrency(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_thread *t;
	struct task_struct *task;
	u32 i, started = 0;

	t = kunit_kcalloc(test, XVT_THREADS, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	for (i = 0; i < XVT_THREADS; i++) {
		t[i].pool = ctx->pool;
		t[i].buf = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
		t[i].tmp = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, t[i].buf);
		KUNIT_ASSERT_NOT_NULL(test, t[i].tmp);
		init_completion(&t[i].done);
		prandom_seed_state(&t[i].rnd, 100 + i);
	}
	for (i = 0; i < XVT_THREADS; i++) {
		task = kthread_run(xvt_thread_fn, &t[i], "xvt/%u", i);
		if (IS_ERR(task))
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		wait_for_completion(&t[i].done);
	KUNIT_EXPECT_EQ(test, started, (u32)XVT_THREADS);
	for (i = 0; i < started; i++) {
		KUNIT_EXPECT_EQ_MSG(test, t[i].errors, 0U, "thread %u", i);
		KUNIT_EXPECT_GT(test, t[i].allocs, 0U);
	}
	xvt_check(test);
	KUNIT_EXPECT_EQ(test, xv_get_total_pages(ctx->pool), 0UL);
}

/* ---- released pages are never touched again ----------------------------- */

#define XVT_HELD_MAX	512
#define XVT_RELEASED	0x6b

struct xvt_held {
	struct page *page[XVT_HELD_MAX];
	bool released[XVT_HELD_MAX];
	u32 nr;
};

/* Is @page one of the pool's pages now?  (The test is the pool's only user.) */
static bool xvt_pool_has(struct xv_pool *pool, struct page *page)
{
	u32 id, i;

	for (id = 1; id < pool->next_id; id++) {
		struct xv_area *area = &pool->dir[id / XV_CHUNK_AREAS][id % XV_CHUNK_AREAS];

		if (area->next_free & 1)
			continue;
		for (i = 0; i < XV_AREA_PAGES; i++)
			if (area->pages[i] == page)
				return true;
	}
	/* a stashed page is still the pool's */
	for (i = 0; i < pool->stash_nr; i++)
		if (pool->stash[i] == page)
			return true;
	return false;
}

/* Where @page is in @h, or h->nr if it is not there. */
static u32 xvt_held_index(const struct xvt_held *h, const struct page *page)
{
	u32 j;

	for (j = 0; j < h->nr; j++)
		if (h->page[j] == page)
			break;
	return j;
}

/* Take a reference on every pool page not yet held. */
static void xvt_hold_pool_pages(struct kunit *test, struct xvt_held *h)
{
	struct xv_pool *pool = ((struct xvt_ctx *)test->priv)->pool;
	u32 id, i;

	for (id = 1; id < pool->next_id; id++) {
		struct xv_area *area = &pool->dir[id / XV_CHUNK_AREAS][id % XV_CHUNK_AREAS];

		if (area->next_free & 1)
			continue;
		for (i = 0; i < XV_AREA_PAGES; i++) {
			struct page *page = area->pages[i];

			if (!page)
				continue;
			if (xvt_held_index(h, page) < h->nr || h->nr == XVT_HELD_MAX)
				continue;
			get_page(page);
			h->page[h->nr++] = page;
		}
	}
}

/*
 * Pages the pool let go of (but we still hold) get a pattern the first
 * time they are seen released; a page seen released once must keep it.
 * Returns how many released pages were written to after their release.
 */
static u32 xvt_mark_released(struct kunit *test, struct xvt_held *h)
{
	struct xv_pool *pool = ((struct xvt_ctx *)test->priv)->pool;
	u32 i, bad = 0;

	for (i = 0; i < h->nr; i++) {
		u8 *p;

		if (xvt_pool_has(pool, h->page[i])) {
			/* back in the pool? impossible: we hold the only other ref */
			KUNIT_EXPECT_FALSE(test, h->released[i]);
			continue;
		}
		p = kmap_local_page(h->page[i]);
		if (!h->released[i]) {
			memset(p, XVT_RELEASED, PAGE_SIZE);
			h->released[i] = true;
		} else if (memchr_inv(p, XVT_RELEASED, PAGE_SIZE)) {
			bad++;
		}
		kunmap_local(p);
	}
	return bad;
}

/*
 * The use-after-free issue 10 suspected: a page xvmalloc has given back
 * (an area's body page, or a whole area) written to through a stale
 * pointer.  The test holds a reference on every page the pool ever had,
 * so a released page cannot be handed to anyone else; it fills each
 * released page with a pattern and checks, after each further round of
 * allocations, frees and mapped writes, that nothing wrote to it.
 */
static void xvt_released_untouched(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 cap = 96;
	struct xvt_held *h;
	struct xvt_obj *objs;
	u32 i, round, n = 0, released = 0;

	h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	objs = kunit_kcalloc(test, cap, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, h);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	for (round = 0; round < 12; round++) {
		/* grow to the cap with sizes from tiny to whole-page */
		while (n < cap) {
			xvt_get(test, &objs[n], xvt_rand(ctx, 1, XVT_MAX));
			n++;
		}
		xvt_hold_pool_pages(test, h);
		/* free about two thirds, at random: bodies and whole areas go back */
		for (i = 0; i < cap * 2 / 3 && n; i++) {
			u32 j = xvt_rand(ctx, 0, n - 1);

			xvt_free(test, &objs[j]);
			objs[j] = objs[--n];
		}
		KUNIT_ASSERT_EQ_MSG(test, xvt_mark_released(test, h), 0U,
				    "round %u: a page given back was written to", round);
	}
	while (n)
		xvt_free(test, &objs[--n]);
	KUNIT_EXPECT_EQ(test, xvt_mark_released(test, h), 0U);
	for (i = 0; i < h->nr; i++) {
		released += h->released[i];
		put_page(h->page[i]);
	}
	/* the test saw pages go back, or it proved nothing */
	KUNIT_EXPECT_GT(test, released, 8U);
	xvt_check(test);
}

/* ---- compaction ------------------------------------------------------------ */

/*
 * The owner side of compaction: a table of objects, each under its own
 * lock, whose content follows a key (an index), not the handle, which a
 * move changes.
 */
struct xvt_owner {
	struct xv_pool *pool;
	struct xvt_obj *o;
	spinlock_t *lock;	/* one per object: the owner's lock */
	u32 n;
	u8 *buf;		/* the walk's: the pattern expected */
	u8 *tmp;
	u32 moved;
	u32 bad;		/* objects found corrupt, by walk or threads */
	u32 stale;		/* moves that left a handle in an isolated area */
};

static bool xvt_key_verify(struct xv_pool *pool, const struct xvt_obj *o, u32 key,
			   u8 *buf, u8 *tmp)
{
	xvt_pattern(buf, o->size, key, o->gen);
	if (xv_obj_size(pool, o->handle) != o->size)
		return false;
	xv_read(pool, o->handle, tmp);
	return !memcmp(tmp, buf, o->size);
}

static void xvt_key_store(struct xv_pool *pool, const struct xvt_obj *o, u32 key, u8 *buf)
{
	xvt_pattern(buf, o->size, key, o->gen);
	xv_write(pool, o->handle, buf);
}

static bool xvt_isolated(struct xv_pool *pool, unsigned long handle)
{
	u32 id = (u32)handle >> XV_OFF_BITS;

	if (handle & XV_WHOLE_TAG)
		return false;
	return READ_ONCE(pool->dir[id / XV_CHUNK_AREAS][id % XV_CHUNK_AREAS].flags) &
	       XV_AREA_ISOLATED;
}

/* xv_compact()'s walk: each handle under its lock, checked after a move. */
static void xvt_owner_walk(struct xv_pool *pool, void *arg)
{
	struct xvt_owner *ow = arg;
	u32 i;
	int r;

	for (i = 0; i < ow->n; i++) {
		spin_lock(&ow->lock[i]);
		if (ow->o[i].handle) {
			r = xv_migrate(pool, &ow->o[i].handle);
			if (r < 0 && r != -ENOMEM)
				ow->bad++;
			if (r == 1) {
				ow->moved++;
				if (!xvt_key_verify(pool, &ow->o[i], i, ow->buf, ow->tmp))
					ow->bad++;
				if (xvt_isolated(pool, ow->o[i].handle))
					ow->stale++;
			}
		}
		spin_unlock(&ow->lock[i]);
		if (i % 256 == 0)
			cond_resched();
	}
}

static struct xvt_owner *xvt_owner_new(struct kunit *test, u32 n)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_owner *ow = kunit_kzalloc(test, sizeof(*ow), GFP_KERNEL);
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, ow);
	ow->o = kunit_kcalloc(test, n, sizeof(*ow->o), GFP_KERNEL);
	ow->lock = kunit_kcalloc(test, n, sizeof(*ow->lock), GFP_KERNEL);
	ow->buf = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
	ow->tmp = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ow->o);
	KUNIT_ASSERT_NOT_NULL(test, ow->lock);
	KUNIT_ASSERT_NOT_NULL(test, ow->buf);
	KUNIT_ASSERT_NOT_NULL(test, ow->tmp);
	for (i = 0; i < n; i++)
		spin_lock_init(&ow->lock[i]);
	ow->pool = ctx->pool;
	ow->n = n;
	return ow;
}

/* Check and free every object left. */
static void xvt_owner_drain(struct kunit *test, struct xvt_owner *ow)
{
	u32 i;

	for (i = 0; i < ow->n; i++) {
		if (!ow->o[i].handle)
			continue;
		KUNIT_EXPECT_TRUE_MSG(test, xvt_key_verify(ow->pool, &ow->o[i], i, ow->buf,
							   ow->tmp),
				      "object %u (%u bytes) corrupt", i, ow->o[i].size);
		KUNIT_EXPECT_FALSE(test, xvt_isolated(ow->pool, ow->o[i].handle));
		xv_free(ow->pool, ow->o[i].handle);
		ow->o[i].handle = 0;
	}
}

/* Pool pages over the ideal: a page per whole-page object, packed bytes end to end. */
static u64 xvt_ideal_pages(struct kunit *test, struct xv_pool *pool)
{
	struct xv_pool_check info;

	KUNIT_ASSERT_EQ(test, xv_check_pool_info(pool, &info), 0);
	return info.whole_objects + DIV_ROUND_UP(info.used_bytes, PAGE_SIZE);
}

#define XVT_COMPACT_OBJS	3000

/*
 * Objects of every size class (sizes step through all of 1..PAGE_SIZE),
 * 3 in 4 freed at random, then compacted: every moved object is checked
 * right after its move, the pool ends within 1.15 of its ideal size and
 * pages_compacted grows by what xv_compact() returned.
 */
static void xvt_compact_sizes(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_owner *ow = xvt_owner_new(test, XVT_COMPACT_OBJS);
	struct xv_pool_stats st0, st;
	unsigned long before, after, freed;
	u64 ideal;
	u32 i;

	for (i = 0; i < ow->n; i++) {
		struct xvt_obj *o = &ow->o[i];

		/* 1..4096 in steps of 11 and back: every TLSF class, whole pages too */
		o->size = 1 + (i * 11) % XVT_MAX;
		o->gen = prandom_u32_state(&ctx->rnd);
		KUNIT_ASSERT_EQ(test, xv_malloc(ctx->pool, o->size, GFP_KERNEL, &o->handle), 0);
		xvt_key_store(ctx->pool, o, i, ctx->buf);
	}
	for (i = 0; i < ow->n; i++) {
		if (prandom_u32_state(&ctx->rnd) % 4) {
			xv_free(ctx->pool, ow->o[i].handle);
			ow->o[i].handle = 0;
		}
	}
	xvt_check(test);
	xv_get_stats(ctx->pool, &st0);
	before = xv_get_total_pages(ctx->pool);
	freed = xv_compact(ctx->pool, xvt_owner_walk, ow);
	after = xv_get_total_pages(ctx->pool);
	ideal = xvt_ideal_pages(test, ctx->pool);
	xv_get_stats(ctx->pool, &st);
	kunit_info(test, "pages %lu -> %lu (ideal %llu), %u moved, %lu compacted\n", before,
		   after, ideal, ow->moved, freed);
	KUNIT_EXPECT_EQ(test, ow->bad, 0U);
	KUNIT_EXPECT_EQ(test, ow->stale, 0U);
	KUNIT_EXPECT_GT(test, ow->moved, 0U);
	KUNIT_EXPECT_EQ(test, before - after, freed);
	KUNIT_EXPECT_EQ(test, st.pages_compacted - st0.pages_compacted, (u64)freed);
	KUNIT_EXPECT_LE_MSG(test, after * 100, ideal * 115, "pool %lu pages, ideal %llu",
			    after, ideal);
	xvt_check(test);
	xvt_owner_drain(test, ow);
	xvt_check(test);
}

/* Owners' threads: free, allocate and map under the object's lock. */
struct xvt_racer {
	struct xvt_owner *ow;
	struct completion done;
	struct rnd_state rnd;
	u8 *buf;
	u8 *tmp;
	bool *stop;
	u32 ops;
	u32 bad;
};

static int xvt_racer_fn(void *arg)
{
	struct xvt_racer *t = arg;
	struct xvt_owner *ow = t->ow;
	unsigned long fresh, old;
	u32 i, r, size, gen;
	void *p;

	while (!READ_ONCE(*t->stop)) {
		r = prandom_u32_state(&t->rnd);
		i = r % ow->n;
		if (r & BIT(31)) {
			/* map the object where it is now and check it */
			spin_lock(&ow->lock[i]);
			if (ow->o[i].handle) {
				xvt_pattern(t->buf, ow->o[i].size, i, ow->o[i].gen);
				p = xv_map(ow->pool, ow->o[i].handle, XV_MM_RO);
				if (!p || memcmp(p, t->buf, ow->o[i].size))
					t->bad++;
				if (p)
					xv_unmap(ow->pool, ow->o[i].handle);
			}
			spin_unlock(&ow->lock[i]);
		} else {
			/* replace it: the new object is written before it is published */
			size = 1 + prandom_u32_state(&t->rnd) % XVT_MAX;
			gen = prandom_u32_state(&t->rnd);
			if (xv_malloc(ow->pool, size, GFP_KERNEL, &fresh))
				continue;
			xvt_pattern(t->buf, size, i, gen);
			xv_write(ow->pool, fresh, t->buf);
			spin_lock(&ow->lock[i]);
			old = ow->o[i].handle;
			if (old && !xvt_key_verify(ow->pool, &ow->o[i], i, t->buf, t->tmp))
				t->bad++;
			ow->o[i].handle = fresh;
			ow->o[i].size = size;
			ow->o[i].gen = gen;
			spin_unlock(&ow->lock[i]);
			xv_free(ow->pool, old);
		}
		t->ops++;
		if (t->ops % 32 == 0)
			cond_resched();
	}
	kthread_complete_and_exit(&t->done, 0);
}

#define XVT_RACE_OBJS		1500
#define XVT_RACERS		2
#define XVT_RACE_ROUNDS		8

/*
 * xv_compact() while other kthreads free, allocate and map the same
 * objects under their owner's locks: nothing read is ever corrupt, no
 * handle is left in an isolated area, the pool stays consistent, and each
 * xv_compact() ends having freed no more pages than the pool had.
 */
static void xvt_compact_race(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	struct xvt_owner *ow = xvt_owner_new(test, XVT_RACE_OBJS);
	struct xvt_racer *t;
	struct task_struct *task;
	unsigned long freed = 0, before, got;
	u32 i, started = 0, round;
	bool stop = false;

	for (i = 0; i < ow->n; i++) {
		struct xvt_obj *o = &ow->o[i];

		o->size = 1 + prandom_u32_state(&ctx->rnd) % XVT_MAX;
		o->gen = prandom_u32_state(&ctx->rnd);
		KUNIT_ASSERT_EQ(test, xv_malloc(ctx->pool, o->size, GFP_KERNEL, &o->handle), 0);
		xvt_key_store(ctx->pool, o, i, ctx->buf);
	}
	t = kunit_kcalloc(test, XVT_RACERS, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	for (i = 0; i < XVT_RACERS; i++) {
		t[i].ow = ow;
		t[i].stop = &stop;
		t[i].buf = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
		t[i].tmp = kunit_kmalloc(test, XVT_MAX, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, t[i].buf);
		KUNIT_ASSERT_NOT_NULL(test, t[i].tmp);
		init_completion(&t[i].done);
		prandom_seed_state(&t[i].rnd, 200 + i);
	}
	for (i = 0; i < XVT_RACERS; i++) {
		task = kthread_run(xvt_racer_fn, &t[i], "xvt-race/%u", i);
		if (IS_ERR(task))
			break;
		started++;
	}
	for (round = 0; round < XVT_RACE_ROUNDS; round++) {
		/* thin the table out so that there is something to compact */
		for (i = round % 3; i < ow->n; i += 3) {
			unsigned long h;

			spin_lock(&ow->lock[i]);
			h = ow->o[i].handle;
			ow->o[i].handle = 0;
			spin_unlock(&ow->lock[i]);
			xv_free(ctx->pool, h);
		}
		/*
		 * only the areas there at the start can be emptied, however
		 * fast the racers allocate and free meanwhile
		 */
		before = xv_get_total_pages(ctx->pool);
		got = xv_compact(ctx->pool, xvt_owner_walk, ow);
		KUNIT_EXPECT_LE_MSG(test, got, before, "round %u", round);
		freed += got;
	}
	WRITE_ONCE(stop, true);
	for (i = 0; i < started; i++)
		wait_for_completion(&t[i].done);
	KUNIT_EXPECT_EQ(test, started, (u32)XVT_RACERS);
	kunit_info(test, "%u moved, %lu pages compacted, racer ops %u %u\n", ow->moved, freed,
		   t[0].ops, t[1].ops);
	for (i = 0; i < started; i++) {
		KUNIT_EXPECT_EQ_MSG(test, t[i].bad, 0U, "racer %u", i);
		KUNIT_EXPECT_GT(test, t[i].ops, 0U);
	}
	KUNIT_EXPECT_EQ(test, ow->bad, 0U);
	KUNIT_EXPECT_EQ(test, ow->stale, 0U);
	KUNIT_EXPECT_GT(test, ow->moved, 0U);
	xvt_check(test);
	xvt_owner_drain(test, ow);
	xvt_check(test);
}

/* Lowmem metadata bytes of @pool, counted from its tables. */
static unsigned long xvt_meta_bytes(struct xv_pool *pool)
{
	unsigned long bytes = pool->node_chunks * PAGE_SIZE +
			      pool->ndir_len * sizeof(*pool->ndir);
	u32 i;

	for (i = 0; i < XV_DIR_LEN; i++)
		if (pool->dir[i])
			bytes += PAGE_SIZE;
	return bytes;
}

/*
 * Free blocks are lowmem nodes: meta_bytes accounts the area table and the
 * node table exactly while free blocks come and go, stays under 1% of the
 * pool for compressed-page-like sizes, and the node table shrinks back
 * when the free blocks go.
 */
static void xvt_meta(struct kunit *test)
{
	struct xvt_ctx *ctx = test->priv;
	const u32 count = 4096;
	struct xv_pool_stats st;
	struct xvt_obj *o;
	u32 i, peak;

	o = kunit_kcalloc(test, count, sizeof(*o), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	for (i = 0; i < count; i++)
		xvt_get(test, &o[i], i % 4 ? xvt_rand(ctx, 600, 3300) : xvt_rand(ctx, 12, 200));
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.meta_bytes, (u64)xvt_meta_bytes(ctx->pool));
	/* every other object: a free block each, between live ones */
	for (i = 0; i < count; i += 2)
		xvt_free(test, &o[i]);
	xvt_check(test);
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.meta_bytes, (u64)xvt_meta_bytes(ctx->pool));
	KUNIT_EXPECT_LT(test, st.meta_bytes * 100, st.bytes_in_pool);
	KUNIT_EXPECT_LE(test, st.pages_stashed, (u64)XV_STASH_MAX);
	peak = ctx->pool->node_chunks;
	KUNIT_EXPECT_GE(test, peak, 2U);
	/* the free blocks coalesce away: the node table follows them down */
	for (i = 1; i < count; i += 2)
		if (i % 64 != 1)
			xvt_free(test, &o[i]);
	xvt_check(test);
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.meta_bytes, (u64)xvt_meta_bytes(ctx->pool));
	KUNIT_EXPECT_LT(test, ctx->pool->node_chunks, peak);
	for (i = 1; i < count; i += 64)
		xvt_free(test, &o[i]);
	xv_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.pages_total, 0ULL);
	KUNIT_EXPECT_EQ(test, st.pages_stashed, 0ULL);
	KUNIT_EXPECT_EQ(test, st.meta_bytes, (u64)xvt_meta_bytes(ctx->pool));
}

static struct kunit_case xvmalloc_test_cases[] = {
	KUNIT_CASE(xvt_invalid_sizes),
	KUNIT_CASE(xvt_sizes_alone),
	KUNIT_CASE(xvt_sizes_interleaved),
	KUNIT_CASE(xvt_coalesce),
	KUNIT_CASE(xvt_sparse),
	KUNIT_CASE(xvt_whole_pages),
	KUNIT_CASE(xvt_random),
	KUNIT_CASE(xvt_map_modes),
	KUNIT_CASE(xvt_highmem),
	KUNIT_CASE(xvt_nomem),
	KUNIT_CASE(xvt_nomem_chunk),
	KUNIT_CASE(xvt_atomic),
	KUNIT_CASE(xvt_irq_context),
	KUNIT_CASE(xvt_concurrency),
	KUNIT_CASE(xvt_released_untouched),
	KUNIT_CASE(xvt_compact_sizes),
	KUNIT_CASE(xvt_compact_race),
	KUNIT_CASE(xvt_meta),
	{}
};

static struct kunit_suite xvmalloc_test_suite = {
	.name = "xvmalloc",
	.init = xvt_init,
	.exit = xvt_exit,
	.test_cases = xvmalloc_test_cases,
};

kunit_test_suite(xvmalloc_test_suite);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("ramzswap project");
MODULE_DESCRIPTION("KUnit tests for xvmalloc");
