// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace driver for kernel/xvmalloc/xvmalloc.c, compiled with the shim
 * in include/ (see tests/unit/test_xvmalloc_host.py for the gcc command):
 *
 *   gcc -std=gnu11 -O1 -g -fsanitize=address,undefined -Iinclude \
 *       -I../../../kernel/include -I../../../kernel/xvmalloc -include kshim.h \
 *       kshim.c xvhost.c ../../../kernel/xvmalloc/xvmalloc.c -o xvhost
 *   ./xvhost [-s SEED] [-n OPS]
 *
 * Runs functional tests (every size, coalescing in every order, pages
 * released from and brought back into sparse areas, whole-page objects,
 * random alloc/free with content patterns and xv_check_pool(), allocation
 * failures, atomic context, misuse), then measures density, per-object
 * overhead and free-list operations per call.  Prints "key: value" lines
 * and ends with "errors: N"; exits non-zero if N > 0.
 */
#include "kshim.h"
#include "xvmalloc.h"
#include "xvmalloc_int.h"

static unsigned long errors;
static unsigned long long rng_state;

#define FAIL(...) do {							\
	errors++;							\
	fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
} while (0)
#define EXPECT(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

static u32 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (u32)(rng_state >> 11);
}

static u32 rnd_range(u32 lo, u32 hi)
{
	return lo + rnd() % (hi - lo + 1);
}

struct obj {
	unsigned long h;
	u32 size;
	u32 gen;
};

static u8 buf[2 * 4096], chk[2 * 4096];

static void pattern(u8 *p, u32 size, unsigned long h, u32 gen)
{
	u32 x = (u32)h * 2654435761u ^ gen * 40503u ^ size;
	u32 i;

	for (i = 0; i < size; i++) {
		if ((i & 3) == 0)
			x = x * 1103515245u + 12345u;
		p[i] = (u8)(x >> (8 * (i & 3)));
	}
}

static bool is_whole(unsigned long h)
{
	return h & XV_WHOLE_TAG;
}

static bool crosses(const struct obj *o)
{
	u32 off = ((u32)o->h & XV_OFF_MASK) * XV_ALIGN + XV_HDR_SIZE;

	if (is_whole(o->h))
		return false;

	return (off >> PAGE_SHIFT) != ((off + o->size - 1) >> PAGE_SHIFT);
}

/* Store the object's pattern by one of the three ways in. */
static void obj_store(struct xv_pool *pool, struct obj *o, u32 how)
{
	u8 *p;

	pattern(buf, o->size, o->h, o->gen);
	switch (how % 3) {
	case 0:
		xv_write(pool, o->h, buf);
		break;
	case 1:
		p = xv_map(pool, o->h, XV_MM_WO);
		EXPECT(p, "map WO failed");
		if (p) {
			memcpy(p, buf, o->size);
			xv_unmap(pool, o->h);
		}
		break;
	default:
		p = xv_map(pool, o->h, XV_MM_RW);
		EXPECT(p, "map RW failed");
		if (p) {
			memcpy(p, buf, o->size);
			xv_unmap(pool, o->h);
		}
		break;
	}
}

/*
 * kmap_local_page() calls made by xv_map() for reading: an object mapped
 * in place (one page) and one copied out (bounced, or over two pages).
 */
static unsigned long map_n[2], map_sum[2], map_max[2];

static void map_kmaps_add(unsigned long kmaps, bool in_place)
{
	map_n[in_place]++;
	map_sum[in_place] += kmaps;
	map_max[in_place] = max(map_max[in_place], kmaps);
}

static void print_map_kmaps(void)
{
	static const char *const name[2] = { "bounced", "in_place" };
	int i;

	for (i = 0; i < 2; i++) {
		printf("map_%s_calls: %lu\n", name[i], map_n[i]);
		printf("map_%s_kmaps_max: %lu\n", name[i], map_max[i]);
		printf("map_%s_kmaps_mean: %.3f\n", name[i],
		       map_n[i] ? (double)map_sum[i] / map_n[i] : 0.0);
	}
}

/* Check the object's content by one of the three ways out. */
static void obj_verify(struct xv_pool *pool, const struct obj *o, u32 how)
{
	unsigned long k0;
	const u8 *p;
	int depth;

	pattern(chk, o->size, o->h, o->gen);
	EXPECT(xv_obj_size(pool, o->h) == o->size, "size %zu, expected %u",
	       xv_obj_size(pool, o->h), o->size);
	switch (how % 3) {
	case 0:
		memset(buf, 0, o->size);
		xv_read(pool, o->h, buf);
		EXPECT(!memcmp(buf, chk, o->size), "xv_read: handle %#lx size %u corrupt",
		       o->h, o->size);
		break;
	default:
		k0 = kshim_kmaps;
		depth = kshim_kmap_depth;
		p = xv_map(pool, o->h, how % 3 == 1 ? XV_MM_RO : XV_MM_RW);
		EXPECT(p, "map failed");
		if (!p)
			break;
		/* in place: its one mapping is still held */
		map_kmaps_add(kshim_kmaps - k0, kshim_kmap_depth > depth);
		EXPECT(!memcmp(p, chk, o->size), "xv_map: handle %#lx size %u corrupt",
		       o->h, o->size);
		xv_unmap(pool, o->h);
		break;
	}
}

static int obj_alloc(struct xv_pool *pool, struct obj *o, u32 size, gfp_t gfp)
{
	int ret = xv_malloc(pool, size, gfp, &o->h);

	o->size = size;
	o->gen = rnd();
	if (ret) {
		EXPECT(o->h == 0, "handle set on failure");
		return ret;
	}
	EXPECT(o->h != 0, "handle 0 on success");
	obj_store(pool, o, o->gen);
	return 0;
}

static void obj_free(struct xv_pool *pool, struct obj *o)
{
	obj_verify(pool, o, o->gen >> 8);
	xv_free(pool, o->h);
	o->h = 0;
}

static void check(struct xv_pool *pool, const char *where)
{
	EXPECT(xv_check_pool(pool) == 0, "xv_check_pool failed: %s", where);
}

static struct xv_pool_check info_of(struct xv_pool *pool)
{
	struct xv_pool_check info;

	EXPECT(xv_check_pool_info(pool, &info) == 0, "xv_check_pool_info failed");
	return info;
}

static void expect_empty(struct xv_pool *pool, const char *where)
{
	struct xv_pool_stats st;

	xv_get_stats(pool, &st);
	EXPECT(st.objects == 0 && st.bytes_requested == 0, "%s: objects left", where);
	EXPECT(st.pages_total == 0 && xv_get_total_pages(pool) == 0 &&
	       xv_get_total_size_bytes(pool) == 0, "%s: %llu pages left", where,
	       st.pages_total);
	check(pool, where);
}

/* ---- tests ---- */

static void test_invalid(void)
{
	struct xv_pool *pool = xv_create_pool("invalid");
	unsigned long h = 123;

	EXPECT(xv_malloc(pool, 0, GFP_KERNEL, &h) == -EINVAL && h == 0, "size 0 accepted");
	h = 123;
	EXPECT(xv_malloc(pool, XV_MAX_OBJ + 1, GFP_KERNEL, &h) == -EINVAL && h == 0,
	       "size max+1 accepted");
	xv_free(pool, 0);
	expect_empty(pool, "invalid");
	xv_destroy_pool(pool);
}

static void test_sizes(void)
{
	struct xv_pool *pool = xv_create_pool("sizes");
	u32 max = XV_MAX_OBJ, s, i, n = 0;
	struct obj *objs = calloc(max, sizeof(*objs));

	for (s = 1; s <= max; s++) {
		struct obj o;

		EXPECT(obj_alloc(pool, &o, s, GFP_KERNEL) == 0, "alone: size %u failed", s);
		obj_verify(pool, &o, s);
		obj_verify(pool, &o, s + 1);
		obj_free(pool, &o);
		EXPECT(xv_get_total_pages(pool) == 0, "alone: size %u left pages", s);
		if (s % 512 == 0)
			check(pool, "alone");
	}
	/* interleaved: 1, max, 2, max - 1, ... all live at once */
	for (i = 0; i < max; i++) {
		s = i % 2 ? max - i / 2 : i / 2 + 1;
		if (obj_alloc(pool, &objs[n], s, GFP_KERNEL) == 0)
			n++;
		else
			FAIL("interleaved: size %u failed", s);
		if (i % 256 == 0)
			check(pool, "interleaved alloc");
	}
	for (i = 0; i < n; i++)
		obj_verify(pool, &objs[i], i);
	check(pool, "interleaved");
	for (i = 0; i < n; i += 2)
		obj_free(pool, &objs[i]);
	check(pool, "interleaved half");
	for (i = 1; i < n; i += 2) {
		obj_free(pool, &objs[i]);
		if (i % 255 == 0)
			check(pool, "interleaved free");
	}
	expect_empty(pool, "sizes");
	xv_destroy_pool(pool);
	free(objs);
}

static bool next_perm(u32 *a, u32 n)
{
	u32 i = n - 1, j = n - 1, t;

	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return false;
	while (a[j] <= a[i - 1])
		j--;
	t = a[i - 1], a[i - 1] = a[j], a[j] = t;
	for (j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return true;
}

static void test_coalesce(void)
{
	static const u32 sizes[] = { 40, 300, 1000, 2500 };
	u32 perm[] = { 0, 1, 2, 3 }, nperm = 0, i, k;
	struct xv_pool_check info;

	do {
		for (k = 0; k < 2; k++) {	/* k = 1: with a keeper object after them */
			struct xv_pool *pool = xv_create_pool("coalesce");
			struct obj o[5];

			for (i = 0; i < 4; i++)
				EXPECT(obj_alloc(pool, &o[i], sizes[i], GFP_KERNEL) == 0, "alloc");
			if (k)
				EXPECT(obj_alloc(pool, &o[4], 16, GFP_KERNEL) == 0, "alloc");
			for (i = 0; i < 4; i++) {
				obj_free(pool, &o[perm[i]]);
				check(pool, "coalesce");
			}
			if (k) {
				info = info_of(pool);
				/* the four make one block; the area's tail is the other */
				EXPECT(info.free_blocks == 2 && info.used_blocks == 1,
				       "%llu free blocks after freeing neighbours", info.free_blocks);
				obj_free(pool, &o[4]);
			}
			expect_empty(pool, "coalesce");
			xv_destroy_pool(pool);
		}
		nperm++;
	} while (next_perm(perm, 4));
	EXPECT(nperm == 24, "permutations");

	/* an area full of equal objects freed in random orders */
	for (k = 0; k < 50; k++) {
		struct xv_pool *pool = xv_create_pool("coalesce2");
		struct obj o[64];
		u32 size = rnd_range(200, 1100), n;

		for (n = 0; n < 64; n++) {
			EXPECT(obj_alloc(pool, &o[n], size, GFP_KERNEL) == 0, "alloc");
			if (xv_get_total_pages(pool) > XV_AREA_PAGES) {
				obj_free(pool, &o[n]);
				break;
			}
		}
		while (n) {
			i = rnd() % n;
			obj_free(pool, &o[i]);
			o[i] = o[--n];
			check(pool, "coalesce2");
		}
		expect_empty(pool, "coalesce2");
		xv_destroy_pool(pool);
	}
}

/* Pages entirely inside a free block go back, and come back when needed. */
static void test_sparse(void)
{
	static const unsigned long after[] = { 4, 3, 4, 2 };
	struct xv_pool *pool;
	struct obj o[4];
	u32 i;

	if (XV_AREA_PAGES < 4)
		return;
	pool = xv_create_pool("sparse");
	for (i = 0; i < 4; i++)
		EXPECT(obj_alloc(pool, &o[i], 4000, GFP_KERNEL) == 0, "alloc");
	EXPECT(xv_get_total_pages(pool) == after[0], "%lu pages", xv_get_total_pages(pool));
	obj_free(pool, &o[1]);
	obj_free(pool, &o[2]);
	check(pool, "sparse");
	EXPECT(xv_get_total_pages(pool) == after[1], "%lu pages", xv_get_total_pages(pool));
	EXPECT(obj_alloc(pool, &o[1], 4000, GFP_KERNEL) == 0, "alloc");
	check(pool, "sparse");
	EXPECT(xv_get_total_pages(pool) == after[2], "%lu pages", xv_get_total_pages(pool));
	obj_free(pool, &o[0]);
	obj_free(pool, &o[3]);
	check(pool, "sparse");
	EXPECT(xv_get_total_pages(pool) == after[3], "%lu pages", xv_get_total_pages(pool));
	obj_verify(pool, &o[1], 0);
	obj_free(pool, &o[1]);
	expect_empty(pool, "sparse");
	xv_destroy_pool(pool);
}

/*
 * Whole-page objects (more than XV_MAX_PACKED bytes): one page each, no
 * header (the mapping is the page itself), no bounce, content intact,
 * mixed with packed objects; the page goes back on free; failures and
 * misuse are caught.
 */
static void test_whole(void)
{
	struct xv_pool *pool = xv_create_pool("whole"), *other = xv_create_pool("other");
	struct obj w[64], p[64], x;
	unsigned long pages, high, before, stale;
	struct xv_pool_stats st0, st;
	struct xv_pool_check info;
	u32 i;
	u8 *m;

	for (i = 0; i < 64; i++) {
		/* a packed object in front of each whole one, so both kinds mix */
		EXPECT(obj_alloc(pool, &p[i], rnd_range(1, XV_MAX_PACKED), GFP_KERNEL) == 0,
		       "packed alloc");
		pages = xv_get_total_pages(pool);
		EXPECT(obj_alloc(pool, &w[i], XV_MAX_PACKED + 1 + i % (XV_MAX_OBJ - XV_MAX_PACKED),
				 GFP_KERNEL) == 0, "whole alloc");
		EXPECT(is_whole(w[i].h) && w[i].h != 0, "handle %#lx not tagged", w[i].h);
		EXPECT(xv_get_total_pages(pool) == pages + 1, "whole alloc: %lu pages, was %lu",
		       xv_get_total_pages(pool), pages);
		/* no header: the object is its page, mapped where the page is */
		m = xv_map(pool, w[i].h, XV_MM_RO);
		EXPECT(m && offset_in_page(m) == 0 &&
		       m == pfn_to_page(w[i].h & ~XV_WHOLE_TAG)->virt, "whole map %p", m);
		if (m)
			xv_unmap(pool, w[i].h);
		obj_verify(pool, &w[i], i);
		obj_verify(pool, &w[i], i + 1);
		obj_verify(pool, &w[i], i + 2);
	}
	info = info_of(pool);
	EXPECT(info.whole_objects == 64 && info.used_blocks == 64, "%llu whole, %llu packed",
	       info.whole_objects, info.used_blocks);
	xv_get_stats(pool, &st);
	EXPECT(st.objects == 128, "%llu objects", st.objects);
	EXPECT(st.pages_total == xv_get_total_pages(pool) &&
	       (long)st.pages_total == kshim_pages_live, "pages %llu", st.pages_total);
	/* every second whole object goes: one page each, the packed ones intact */
	for (i = 0; i < 64; i += 2) {
		pages = xv_get_total_pages(pool);
		obj_free(pool, &w[i]);
		EXPECT(xv_get_total_pages(pool) == pages - 1, "whole free: %lu pages, was %lu",
		       xv_get_total_pages(pool), pages);
		check(pool, "whole half");
	}
	for (i = 0; i < 64; i++)
		obj_verify(pool, &p[i], i);
	for (i = 1; i < 64; i += 2)
		obj_verify(pool, &w[i], i);
	for (i = 1; i < 64; i += 2)
		obj_free(pool, &w[i]);
	info = info_of(pool);
	EXPECT(info.whole_objects == 0, "%llu whole left", info.whole_objects);
	for (i = 0; i < 64; i++)
		obj_free(pool, &p[i]);
	expect_empty(pool, "whole");

	/* n whole objects alone: exactly n pages, highmem counted */
	xv_get_stats(pool, &st0);
	high = 0;
	for (i = 0; i < 64; i++) {
		EXPECT(obj_alloc(pool, &w[i], XV_MAX_OBJ, GFP_KERNEL) == 0, "alloc");
		high += pfn_to_page(w[i].h & ~XV_WHOLE_TAG)->highmem;
	}
	xv_get_stats(pool, &st);
	EXPECT(st.pages_total == 64 && st.bytes_in_pool == 64 * PAGE_SIZE &&
	       st.bytes_requested == 64 * PAGE_SIZE && st.pages_highmem == high,
	       "64 pages: %llu pages, %llu highmem (%lu)", st.pages_total, st.pages_highmem,
	       high);
	check(pool, "whole alone");
	printf("whole_pages_per_object: %.4f\n", (double)st.pages_total / 64);
	printf("whole_pool_bytes_per_object: %.1f\n", (double)st.bytes_in_pool / 64);

	/* a whole-page allocation failing: -ENOMEM, counted, nothing held */
	before = xv_get_total_pages(pool);
	kshim_fail_after = 1;
	EXPECT(obj_alloc(pool, &x, XV_MAX_OBJ, GFP_KERNEL) == -ENOMEM && x.h == 0, "no fail");
	kshim_fail_after = 0;
	xv_get_stats(pool, &st);
	EXPECT(st.alloc_failures == st0.alloc_failures + 1 && xv_get_total_pages(pool) == before,
	       "failure: %llu failures, %lu pages", st.alloc_failures, xv_get_total_pages(pool));
	/* and in atomic context with GFP_NOWAIT */
	kshim_atomic++;
	EXPECT(obj_alloc(pool, &x, XV_MAX_OBJ - 1, GFP_NOWAIT) == 0, "atomic whole alloc");
	kshim_atomic--;
	obj_free(pool, &x);

	/* misuse: freed, foreign and impossible handles are refused with a warning */
	stale = w[5].h;
	obj_free(pool, &w[5]);
	before = xv_get_total_pages(pool);
	kshim_quiet = true;
	kshim_warnings = 0;
	xv_free(pool, stale);				/* double free */
	EXPECT(xv_obj_size(pool, stale) == 0, "freed handle has a size");
	EXPECT(xv_obj_size(other, w[6].h) == 0, "foreign handle has a size");
	EXPECT(xv_map(other, w[6].h, XV_MM_RO) == NULL, "foreign handle mapped");
	xv_free(other, w[6].h);
	xv_free(pool, XV_WHOLE_TAG | (kshim_max_pfn + 5));	/* no such page */
	kshim_quiet = false;
	EXPECT(kshim_warnings == 6, "%lu warnings, expected 6", kshim_warnings);
	kshim_warnings = 0;
	EXPECT(xv_get_total_pages(pool) == before, "misuse changed the pool");
	check(pool, "whole misuse");
	expect_empty(other, "whole other");
	for (i = 0; i < 64; i++)
		if (i != 5)
			obj_free(pool, &w[i]);
	expect_empty(pool, "whole alone");
	xv_destroy_pool(pool);
	xv_destroy_pool(other);
}

/* Sizes: 0 uniform, 1 compressed-page-like, 2 large only. */
static u32 pick_size(u32 dist)
{
	u32 max = XV_MAX_OBJ, r;

	switch (dist) {
	case 0:
		return rnd_range(1, max);
	case 1:
		r = rnd() % 100;
		if (r < 25)
			return rnd_range(12, 200);
		if (r < 90)
			return rnd_range(600, 3300);
		return rnd_range(3300, max);
	default:
		return rnd_range(max / 2 + 1, max);
	}
}

struct opstat {
	unsigned long n, max_listops, max_kmaps, sum_listops, sum_kmaps;
};

static void opstat_add(struct opstat *s, unsigned long listops, unsigned long kmaps)
{
	s->n++;
	s->sum_listops += listops;
	s->sum_kmaps += kmaps;
	s->max_listops = max(s->max_listops, listops);
	s->max_kmaps = max(s->max_kmaps, kmaps);
}

static void opstat_merge(struct opstat *s, const struct opstat *o)
{
	s->n += o->n;
	s->sum_listops += o->sum_listops;
	s->sum_kmaps += o->sum_kmaps;
	s->max_listops = max(s->max_listops, o->max_listops);
	s->max_kmaps = max(s->max_kmaps, o->max_kmaps);
}

static struct opstat st_alloc, st_alloc_grow, st_free;

static int timed_alloc(struct xv_pool *pool, struct obj *o, u32 size, gfp_t gfp)
{
	unsigned long pages = xv_get_total_pages(pool), l0 = kshim_listops, k0 = kshim_kmaps;
	int ret = xv_malloc(pool, size, gfp, &o->h);

	if (!ret)
		opstat_add(xv_get_total_pages(pool) > pages ? &st_alloc_grow : &st_alloc,
			   kshim_listops - l0, kshim_kmaps - k0);
	o->size = size;
	o->gen = rnd();
	if (!ret)
		obj_store(pool, o, o->gen);
	return ret;
}

static void timed_free(struct xv_pool *pool, struct obj *o)
{
	unsigned long l0, k0;

	obj_verify(pool, o, o->gen >> 8);
	l0 = kshim_listops;
	k0 = kshim_kmaps;
	xv_free(pool, o->h);
	opstat_add(&st_free, kshim_listops - l0, kshim_kmaps - k0);
	o->h = 0;
}

static void test_random(u32 ops, u32 dist, u32 fail_percent)
{
	struct xv_pool *pool = xv_create_pool("random");
	u32 cap = 3000, n = 0, i, target = 0;
	struct obj *objs = calloc(cap, sizeof(*objs));
	u64 bytes = 0, enomem = 0;
	struct xv_pool_stats st;

	for (i = 0; i < ops; i++) {
		if (i % 4096 == 0)
			target = rnd_range(0, cap);	/* drift the live set */
		if (n < cap && (n < target || (rnd() & 3) == 0)) {
			u32 size = pick_size(dist);
			int ret;

			kshim_fail_percent = fail_percent;
			ret = timed_alloc(pool, &objs[n], size, fail_percent ? GFP_NOWAIT : GFP_KERNEL);
			kshim_fail_percent = 0;
			if (ret == 0) {
				bytes += size;
				n++;
			} else {
				EXPECT(ret == -ENOMEM && fail_percent, "alloc %u: %d", size, ret);
				enomem++;
			}
		} else if (n) {
			u32 j = rnd() % n;

			bytes -= objs[j].size;
			timed_free(pool, &objs[j]);
			objs[j] = objs[--n];
		}
		if (i % 1000 == 999) {
			check(pool, "random");
			xv_get_stats(pool, &st);
			EXPECT(st.objects == n && st.bytes_requested == bytes,
			       "stats %llu/%llu, expected %u/%llu", st.objects,
			       st.bytes_requested, n, bytes);
			EXPECT(st.alloc_failures == enomem, "alloc_failures %llu, expected %llu",
			       st.alloc_failures, enomem);
			EXPECT((long)st.pages_total == kshim_pages_live, "pages %llu, shim %ld",
			       st.pages_total, kshim_pages_live);
		}
		if (i % 20000 == 19999)
			for (u32 j = 0; j < n; j++)
				obj_verify(pool, &objs[j], j);
	}
	while (n)
		timed_free(pool, &objs[--n]);
	expect_empty(pool, "random");
	xv_destroy_pool(pool);
	free(objs);
}

static void test_map_modes(void)
{
	struct xv_pool *pool = xv_create_pool("modes");
	struct obj o[40];
	u32 i, crossing = 0;

	for (i = 0; i < 40; i++)
		EXPECT(obj_alloc(pool, &o[i], rnd_range(1500, XV_MAX_OBJ), GFP_KERNEL) == 0,
		       "alloc");
	for (i = 0; i < 40; i++) {
		u8 *p;

		if (!crosses(&o[i]))
			continue;
		crossing++;
		/* RO: changes through a bounced mapping are not written back */
		p = xv_map(pool, o[i].h, XV_MM_RO);
		memset(p, 0xee, o[i].size);
		xv_unmap(pool, o[i].h);
		obj_verify(pool, &o[i], 0);
		/* one mapping per CPU: a second one is refused with a warning */
		p = xv_map(pool, o[i].h, XV_MM_RW);
		kshim_quiet = true;
		EXPECT(xv_map(pool, o[(i + 1) % 40].h, XV_MM_RO) == NULL, "nested map");
		kshim_quiet = false;
		EXPECT(kshim_warnings == 1, "nested map did not warn");
		kshim_warnings = 0;
		xv_unmap(pool, o[i].h);
	}
	EXPECT(crossing > 0 || XV_AREA_PAGES == 1, "no object crossed a page");
	for (i = 0; i < 40; i++)
		obj_free(pool, &o[i]);
	expect_empty(pool, "modes");
	xv_destroy_pool(pool);
}

static void test_misuse(void)
{
	struct xv_pool *pool = xv_create_pool("misuse");
	struct obj a, b;

	obj_alloc(pool, &a, 100, GFP_KERNEL);
	obj_alloc(pool, &b, 100, GFP_KERNEL);
	xv_free(pool, a.h);
	kshim_quiet = true;
	xv_free(pool, a.h);			/* double free */
	xv_free(pool, 0x7fffffffUL);		/* no such area */
	EXPECT(xv_obj_size(pool, a.h) == 0, "size of a freed object");
	kshim_quiet = false;
	EXPECT(kshim_warnings == 3, "%lu warnings, expected 3", kshim_warnings);
	kshim_warnings = 0;
	check(pool, "misuse");
	obj_free(pool, &b);
	expect_empty(pool, "misuse");
	xv_destroy_pool(pool);
}

/* Pages in areas: the pool's, less those kept in its stash. */
static unsigned long area_pages(struct xv_pool *pool)
{
	struct xv_pool_stats st;

	xv_get_stats(pool, &st);
	return st.pages_total - st.pages_stashed;
}

/* Every internal allocation of a growth fails in turn. */
static void test_failures(void)
{
	long kmalloc0 = kshim_kmalloc_live;
	u32 nth, i, n;

	for (nth = 1; nth <= XV_AREA_PAGES + 1; nth++) {
		struct xv_pool *pool = xv_create_pool("fail");
		struct xv_pool_stats st;
		struct obj o[XV_AREA_PAGES + 4];
		int ret = 0;

		xv_pool_fail_nth(pool, nth);
		for (n = 0; n < ARRAY_SIZE(o); n++) {
			ret = obj_alloc(pool, &o[n], XV_MAX_PACKED, GFP_KERNEL);
			if (ret)
				break;
		}
		EXPECT(ret == -ENOMEM, "fail_nth %u: no -ENOMEM", nth);
		xv_get_stats(pool, &st);
		EXPECT(st.alloc_failures == 1 && st.objects == n, "fail_nth %u: stats", nth);
		EXPECT((long)st.pages_total == kshim_pages_live, "fail_nth %u: pages leaked", nth);
		check(pool, "fail");
		for (i = 0; i < n; i++)
			obj_free(pool, &o[i]);
		expect_empty(pool, "fail");
		xv_destroy_pool(pool);
		EXPECT(kshim_pages_live == 0 && kshim_kmalloc_live == kmalloc0, "fail: leak");
	}

	/* the table chunk: fill the first one, then fail the next chunk */
	for (nth = 1; nth <= 2; nth++) {
		struct xv_pool *pool = xv_create_pool("failchunk");
		u32 cap = XV_CHUNK_AREAS * (XV_AREA_SIZE / (XV_MAX_PACKED + XV_HDR_SIZE) + 1) + 2;
		struct obj *o = calloc(cap, sizeof(*o));
		int ret = 0;

		for (n = 0; n + 1 < cap; n++) {
			/* after the last id of chunk 0 is taken, arm the failure */
			if (area_pages(pool) == (XV_CHUNK_AREAS - 1) * XV_AREA_PAGES)
				xv_pool_fail_nth(pool, nth);
			ret = obj_alloc(pool, &o[n], XV_MAX_PACKED, GFP_KERNEL);
			if (ret)
				break;
		}
		EXPECT(ret == -ENOMEM, "chunk fail %u: no -ENOMEM", nth);
		check(pool, "failchunk");
		xv_pool_fail_nth(pool, 0);
		EXPECT(obj_alloc(pool, &o[n], XV_MAX_PACKED, GFP_KERNEL) == 0, "no recovery");
		n++;
		check(pool, "failchunk recovered");
		for (i = 0; i < n; i++)
			obj_free(pool, &o[i]);
		expect_empty(pool, "failchunk");
		xv_destroy_pool(pool);
		free(o);
		EXPECT(kshim_pages_live == 0 && kshim_kmalloc_live == kmalloc0, "chunk: leak");
	}

	/* GFP_NOWAIT in atomic context (a caller's lock held): never blocks */
	{
		struct xv_pool *pool = xv_create_pool("atomic");
		struct obj o[32];

		kshim_atomic++;
		for (n = 0; n < 32; n++)
			EXPECT(obj_alloc(pool, &o[n], rnd_range(1, XV_MAX_OBJ), GFP_NOWAIT) == 0,
			       "atomic alloc");
		for (n = 0; n < 32; n++)
			obj_free(pool, &o[n]);
		kshim_atomic--;
		expect_empty(pool, "atomic");
		xv_destroy_pool(pool);
	}
}

static void walk_none(struct xv_pool *pool, void *arg)
{
}

/*
 * Frees while no node can be had are left pending, chained in their blocks;
 * xv_malloc() settles one per call, xv_compact() all of them.
 */
static void test_pending(void)
{
	struct xv_pool *pool = xv_create_pool("pending");
	struct xv_pool_stats st;
	struct obj o[3000];
	u32 i, n = 3000;

	for (i = 0; i < n; i++)
		EXPECT(obj_alloc(pool, &o[i], 100, GFP_KERNEL) == 0, "alloc");
	kshim_fail_after = -1;			/* every allocation fails */
	for (i = 0; i < n; i += 2)
		obj_free(pool, &o[i]);
	kshim_fail_after = 0;
	EXPECT(pool->nr_pending > 0, "no free was left pending");
	printf("pending_blocks: %u\n", pool->nr_pending);
	check(pool, "pending");
	EXPECT(obj_alloc(pool, &o[0], 100, GFP_KERNEL) == 0, "alloc");
	check(pool, "pending settled one");
	xv_compact(pool, walk_none, NULL);
	EXPECT(pool->nr_pending == 0, "%u pending after xv_compact()", pool->nr_pending);
	check(pool, "pending settled");
	obj_free(pool, &o[0]);
	for (i = 1; i < n; i += 2)
		obj_free(pool, &o[i]);
	xv_get_stats(pool, &st);
	EXPECT(st.pages_stashed == 0, "%llu pages stashed in an empty pool", st.pages_stashed);
	expect_empty(pool, "pending");
	xv_destroy_pool(pool);
}

/* ---- measurements ---- */

/*
 * Fill with sizes uniform in lo..hi, then churn: free a random half and
 * allocate as many new objects, ten times; then free three objects in four
 * at random (what memory do the survivors pin?).  Sizes over XV_MAX_PACKED
 * are whole-page objects, a page each, counted in the pool's figures.
 */
static double meta_ratio_max;

/* Lowmem the pool's metadata holds, per byte of the pool's pages. */
static double meta_ratio(struct xv_pool *pool, const char *name, const char *when)
{
	struct xv_pool_stats st;
	double r;

	xv_get_stats(pool, &st);
	r = st.bytes_in_pool ? (double)st.meta_bytes / (double)st.bytes_in_pool : 0.0;
	printf("%s_%s_meta_lowmem_ratio: %.5f\n", name, when, r);
	printf("%s_%s_pages_stashed: %llu\n", name, when, st.pages_stashed);
	return r;
}

/* hi == 0: sizes like compressed pages (pick_size(1)), else uniform in lo..hi */
static u32 measure_size(u32 lo, u32 hi)
{
	return hi ? rnd_range(lo, hi) : pick_size(1);
}

static void measure(const char *name, u32 nobj, u32 lo, u32 hi)
{
	struct xv_pool *pool = xv_create_pool("measure");
	struct obj *objs = calloc(nobj, sizeof(*objs));
	struct xv_pool_stats st;
	struct xv_pool_check info;
	u32 i, round;

	for (round = 0; round <= 10; round++) {
		for (i = 0; i < nobj; i++) {
			if (objs[i].h)
				continue;
			EXPECT(timed_alloc(pool, &objs[i], measure_size(lo, hi), GFP_KERNEL) == 0,
			       "alloc");
		}
		xv_get_stats(pool, &st);
		info = info_of(pool);
		if (round == 0 || round == 10) {
			const char *when = round ? "churned" : "filled";
			u64 packed = st.objects - info.whole_objects;

			printf("%s_%s_objects: %llu\n", name, when, st.objects);
			printf("%s_%s_density: %.4f\n", name, when,
			       (double)st.bytes_requested / (double)st.bytes_in_pool);
			/* packed objects: block bytes beyond what was asked for */
			printf("%s_%s_overhead_per_object: %.2f\n", name, when,
			       (double)(info.used_bytes - (st.bytes_requested - pool->whole_bytes)) /
			       (double)packed);
			printf("%s_%s_free_bytes_per_area: %.1f\n", name, when,
			       (double)info.free_bytes / info.areas);
			printf("%s_%s_crossing_fraction: %.4f\n", name, when,
			       (double)info.crossing_objects / st.objects);
			printf("%s_%s_whole_objects: %llu\n", name, when, info.whole_objects);
			printf("%s_%s_free_blocks_per_area: %.2f\n", name, when,
			       (double)info.free_blocks / info.areas);
			meta_ratio_max = max(meta_ratio_max, meta_ratio(pool, name, when));
		}
		if (round == 10)
			break;
		/* churn: free a random half */
		for (i = 0; i < nobj; i++) {
			if (objs[i].h && (rnd() & 1) == 0)
				timed_free(pool, &objs[i]);
		}
		check(pool, "churn");
	}
	/* thin out: free three objects in four; what do the survivors pin? */
	for (i = 0; i < nobj; i++) {
		if (objs[i].h && rnd() % 4 != 0)
			timed_free(pool, &objs[i]);
	}
	xv_get_stats(pool, &st);
	printf("%s_thinned_objects: %llu\n", name, st.objects);
	printf("%s_thinned_density: %.4f\n", name,
	       (double)st.bytes_requested / (double)st.bytes_in_pool);
	meta_ratio(pool, name, "thinned");
	for (i = 0; i < nobj; i++)
		if (objs[i].h)
			timed_free(pool, &objs[i]);
	expect_empty(pool, "measure");
	xv_destroy_pool(pool);
	free(objs);
}

static void print_opstat(const char *name, const struct opstat *s)
{
	printf("%s_calls: %lu\n", name, s->n);
	printf("%s_listops_max: %lu\n", name, s->max_listops);
	printf("%s_listops_mean: %.2f\n", name, s->n ? (double)s->sum_listops / s->n : 0.0);
	printf("%s_kmaps_max: %lu\n", name, s->max_kmaps);
	printf("%s_kmaps_mean: %.2f\n", name, s->n ? (double)s->sum_kmaps / s->n : 0.0);
}

/*
 * One measure() run with its own per-call figures (<name>_alloc_*,
 * <name>_free_*: kmap_local_page() calls, list operations), which are
 * also added to the totals for measure_*_listops_max.
 */
static void measure_ops(const char *name, u32 nobj, u32 lo, u32 hi)
{
	struct opstat a = st_alloc, g = st_alloc_grow, f = st_free;
	char key[64];

	memset(&st_alloc, 0, sizeof(st_alloc));
	memset(&st_alloc_grow, 0, sizeof(st_alloc_grow));
	memset(&st_free, 0, sizeof(st_free));
	measure(name, nobj, lo, hi);
	snprintf(key, sizeof(key), "%s_alloc", name);
	print_opstat(key, &st_alloc);
	snprintf(key, sizeof(key), "%s_alloc_grow", name);
	print_opstat(key, &st_alloc_grow);
	snprintf(key, sizeof(key), "%s_free", name);
	print_opstat(key, &st_free);
	opstat_merge(&st_alloc, &a);
	opstat_merge(&st_alloc_grow, &g);
	opstat_merge(&st_free, &f);
}

/* ---- compaction ---- */

struct cobj {
	unsigned long h;
	u32 size;
	u32 key;		/* the pattern's seed: it must not follow the handle */
};

struct cwalk {
	struct cobj *o;
	u32 n;
	u32 moved;
	u32 churn;		/* every churn-th object: freed and replaced during the walk */
	struct xv_pool *pool;
};

static void cobj_verify(struct xv_pool *pool, const struct cobj *o, const char *where)
{
	pattern(chk, o->size, o->key, 7);
	memset(buf, 0, o->size);
	xv_read(pool, o->h, buf);
	EXPECT(xv_obj_size(pool, o->h) == o->size && !memcmp(buf, chk, o->size),
	       "%s: object %#x (%u bytes) at %#lx corrupt", where, o->key, o->size, o->h);
}

static bool in_isolated_area(struct xv_pool *pool, unsigned long h)
{
	if (is_whole(h))
		return false;
	u32 id = (u32)h >> XV_OFF_BITS;

	return pool->dir[id / XV_CHUNK_AREAS][id % XV_CHUNK_AREAS].flags & XV_AREA_ISOLATED;
}

static void cobj_alloc(struct xv_pool *pool, struct cobj *o, u32 size, u32 key)
{
	o->size = size;
	o->key = key;
	EXPECT(xv_malloc(pool, size, GFP_KERNEL, &o->h) == 0, "alloc %u", size);
	pattern(buf, size, key, 7);
	xv_write(pool, o->h, buf);
}

/* The owner's walk: every live handle through xv_migrate(), checked after each move. */
static void cwalk(struct xv_pool *pool, void *arg)
{
	struct cwalk *w = arg;
	unsigned long old;
	u32 i;
	int r;

	EXPECT(pool == w->pool, "walk got another pool");
	for (i = 0; i < w->n; i++) {
		struct cobj *o = &w->o[i];

		if (!o->h)
			continue;
		if (w->churn && i % w->churn == 0) {
			/* the owner frees and allocates while areas are isolated */
			cobj_verify(pool, o, "churn");
			xv_free(pool, o->h);
			cobj_alloc(pool, o, rnd_range(16, XV_MAX_OBJ), rnd());
			EXPECT(!in_isolated_area(pool, o->h),
			       "new object %#lx placed in an isolated area", o->h);
			continue;
		}
		old = o->h;
		r = xv_migrate(pool, &o->h);
		EXPECT(r == 0 || r == 1, "xv_migrate: %d", r);
		EXPECT((r == 1) == (o->h != old), "xv_migrate %d but handle %#lx -> %#lx", r,
		       old, o->h);
		if (r == 1) {
			w->moved++;
			EXPECT(!in_isolated_area(pool, o->h), "moved into an isolated area");
			cobj_verify(pool, o, "moved");
		}
	}
}

static u64 ideal_pages(struct xv_pool *pool)
{
	struct xv_pool_check info = info_of(pool);

	/* whole-page objects: a page each; packed ones: their bytes, headers included */
	return info.whole_objects + DIV_ROUND_UP(info.used_bytes, PAGE_SIZE);
}

/*
 * Fill, free 3 objects in 4 at random, compact: every object keeps its
 * content, nothing moves into an isolated area, the pages given back are
 * counted, and the pool ends near its ideal size.
 */
static void test_compact(u32 n, u32 churn, const char *name)
{
	struct xv_pool *pool = xv_create_pool(name);
	struct cobj *o = calloc(n, sizeof(*o));
	struct cwalk w = { .o = o, .n = n, .churn = churn, .pool = pool };
	struct xv_pool_stats st;
	unsigned long before, after, freed;
	double rb, ra;
	u32 i;

	for (i = 0; i < n; i++)
		cobj_alloc(pool, &o[i], i % 16 ? rnd_range(1, XV_MAX_PACKED) :
			   rnd_range(XV_MAX_PACKED + 1, XV_MAX_OBJ), i);
	for (i = 0; i < n; i++) {
		if (rnd() % 4) {
			xv_free(pool, o[i].h);
			o[i].h = 0;
		}
	}
	check(pool, "before compaction");
	before = xv_get_total_pages(pool);
	rb = (double)before / ideal_pages(pool);
	freed = xv_compact(pool, cwalk, &w);
	after = xv_get_total_pages(pool);
	ra = (double)after / ideal_pages(pool);
	check(pool, "after compaction");
	xv_get_stats(pool, &st);
	printf("%s_pages_before: %lu\n%s_pages_after: %lu\n%s_moved: %u\n", name, before,
	       name, after, name, w.moved);
	printf("%s_ratio_before: %.3f\n%s_ratio_after: %.3f\n", name, rb, name, ra);
	EXPECT(w.moved > 0 && freed > 0, "%s: nothing moved (%u) or freed (%lu)", name,
	       w.moved, freed);
	EXPECT(st.pages_compacted == freed, "%s: pages_compacted %llu, returned %lu", name,
	       st.pages_compacted, freed);
	if (!churn)
		EXPECT(before - after == freed, "%s: %lu -> %lu pages but %lu freed", name,
		       before, after, freed);
	EXPECT(ra <= 1.15, "%s: pool/ideal %.3f after compaction", name, ra);
	for (i = 0; i < n; i++) {
		if (!o[i].h)
			continue;
		EXPECT(!in_isolated_area(pool, o[i].h), "isolated area left behind");
		cobj_verify(pool, &o[i], "after");
		xv_free(pool, o[i].h);
	}
	/* an empty pool: nothing to do, and nothing breaks */
	EXPECT(xv_compact(pool, cwalk, &w) == 0, "empty pool compacted");
	expect_empty(pool, name);
	free(o);
	xv_destroy_pool(pool);
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1;
	u32 ops = 200000, nmeasure = 20000;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-s"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "-n"))
			ops = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "-m"))
			nmeasure = strtoul(argv[i + 1], NULL, 0);
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;

	if (kshim_module_init()) {
		printf("errors: 1\n");
		return 1;
	}
	printf("area_pages: %u\n", (u32)XV_AREA_PAGES);
	printf("max_object: %u\n", (u32)XV_MAX_OBJ);
	printf("max_packed: %u\n", (u32)XV_MAX_PACKED);
	printf("header_bytes: %u\n", XV_HDR_SIZE);
	printf("min_block: %u\n", XV_MIN_BLOCK);

	test_invalid();
	test_sizes();
	test_coalesce();
	test_sparse();
	test_whole();
	test_map_modes();
	test_misuse();
	test_failures();
	test_pending();
	test_compact(20000, 0, "compact");
	test_compact(20000, 7, "compact_churn");
	test_random(ops, 0, 0);
	test_random(ops, 1, 0);
	test_random(ops / 2, 2, 0);
	test_random(ops / 4, 1, 10);
	print_opstat("alloc", &st_alloc);
	print_opstat("alloc_grow", &st_alloc_grow);
	print_opstat("free", &st_free);
	print_map_kmaps();
	printf("alloc_all_kmaps_mean: %.3f\n", (double)(st_alloc.sum_kmaps +
	       st_alloc_grow.sum_kmaps) / (double)(st_alloc.n + st_alloc_grow.n));

	memset(&st_alloc, 0, sizeof(st_alloc));
	memset(&st_alloc_grow, 0, sizeof(st_alloc_grow));
	memset(&st_free, 0, sizeof(st_free));
	measure_ops("uniform", nmeasure, 32, 4096);
	measure_ops("large", nmeasure, 2049, 4096);
	measure_ops("mid", nmeasure, 1024, 3072);
	measure_ops("zmix", nmeasure, 0, 0);
	/* filled and churned, all four runs; the fixed part is not in it */
	printf("meta_lowmem_ratio: %.5f\n", meta_ratio_max);
	printf("meta_fixed_bytes: %lu\n", (unsigned long)(sizeof(struct xv_pool) + XV_DIR_LEN * sizeof(void *)));
	printf("measure_alloc_kmaps_mean: %.3f\n", (double)(st_alloc.sum_kmaps +
	       st_alloc_grow.sum_kmaps) / (double)(st_alloc.n + st_alloc_grow.n));
	printf("measure_alloc_kmaps_max: %lu\n", max(st_alloc.max_kmaps,
						      st_alloc_grow.max_kmaps));
	printf("measure_free_kmaps_mean: %.3f\n", (double)st_free.sum_kmaps / st_free.n);
	printf("measure_free_kmaps_max: %lu\n", st_free.max_kmaps);
	printf("measure_alloc_listops_max: %lu\n", max(st_alloc.max_listops,
						       st_alloc_grow.max_listops));
	printf("measure_free_listops_max: %lu\n", st_free.max_listops);

	kshim_module_exit();
	EXPECT(kshim_pages_live == 0, "%ld pages leaked", kshim_pages_live);
	EXPECT(kshim_kmalloc_live == 0, "%ld kmallocs leaked", kshim_kmalloc_live);
	EXPECT(kshim_atomic == 0, "atomic count %d at exit", kshim_atomic);
	printf("shim_errors: %lu\n", kshim_errors);
	printf("warnings: %lu\n", kshim_warnings);
	errors += kshim_errors + kshim_warnings;
	printf("errors: %lu\n", errors);
	return errors ? 1 : 0;
}
