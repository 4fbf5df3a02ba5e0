/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough of the kernel's API, in userspace, to compile
 * kernel/xvmalloc/xvmalloc.c unchanged with gcc.
 *
 * Pages are separate PAGE_SIZE-aligned heap allocations, so an access that
 * runs off a page without mapping the next one is an AddressSanitizer
 * error, as it would be a wrong page in the kernel.  The shim also checks
 * what the kernel's debug options would: kmap_local mappings undone in
 * LIFO order, no blocking allocation while a lock is held or preemption
 * is disabled, the gfp bits reaching the page and slab allocators.  Every
 * violation increments kshim_errors.  Single-threaded: the lock only
 * asserts it is not taken twice.
 */
#ifndef KSHIM_H
#define KSHIM_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef int32_t s32;
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int gfp_t;

#define KBUILD_MODNAME		"xvmalloc"
#define __init
#define __exit
#define __force
#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define offset_in_page(p)	((unsigned long)(p) & ~PAGE_MASK)

#define BITS_PER_LONG		(__SIZEOF_LONG__ * 8)
#define BIT(n)			(1UL << (n))
#define U32_MAX			((u32)~0U)
#define upper_32_bits(n)	((u32)(((n) >> 16) >> 16))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define round_up(x, y)		((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define min(a, b)		((a) < (b) ? (a) : (b))
#define max(a, b)		((a) > (b) ? (a) : (b))
#define min_t(t, a, b)		((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)		((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define BUILD_BUG_ON(c)		_Static_assert(!(c), #c)

#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))

static inline unsigned long __fls(unsigned long x)
{
	return 8 * sizeof(long) - 1 - __builtin_clzl(x);
}

static inline unsigned long __ffs(unsigned long x)
{
	return __builtin_ctzl(x);
}

/* ---- what the harness inspects ---- */
extern unsigned long kshim_errors;	/* shim-detected bugs */
extern unsigned long kshim_warnings;	/* WARN*() that fired */
extern unsigned long kshim_listops;	/* xv_trace_listop() calls */
extern unsigned long kshim_kmaps;	/* kmap_local_page() calls */
extern int kshim_kmap_depth;		/* kmap_local mappings held now */
extern long kshim_pages_live;		/* pages allocated, not freed */
extern long kshim_kmalloc_live;		/* kmalloc()s not freed */
extern int kshim_atomic;		/* > 0: locks held / preemption off */
extern long kshim_fail_after;		/* > 0: that many allocs succeed, then fail */
extern unsigned int kshim_fail_percent;	/* random allocation failures */
extern bool kshim_quiet;		/* do not print pr_err() and warnings */

void kshim_error(const char *file, int line, const char *fmt, ...) __printf(3, 4);
void kshim_log(const char *level, const char *fmt, ...) __printf(2, 3);
void kshim_warn(const char *file, int line, const char *fmt, ...) __printf(3, 4);

#define KSHIM_CHECK(cond, ...) \
	do { if (!(cond)) kshim_error(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* ---- printk, WARN ---- */
#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define pr_err(fmt, ...)	kshim_log("err", pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	kshim_log("warn", pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	kshim_log("info", pr_fmt(fmt), ##__VA_ARGS__)

#define WARN_ONCE(cond, fmt, ...) ({					\
	bool __c = !!(cond);						\
	if (__c)							\
		kshim_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__);	\
	__c;								\
})
#define WARN_ON_ONCE(cond)	WARN_ONCE(cond, "%s\n", #cond)
#define WARN_ON(cond)		WARN_ONCE(cond, "%s\n", #cond)

/* ---- gfp ---- */
#define __GFP_DMA		0x01u
#define __GFP_HIGHMEM		0x02u
#define __GFP_DMA32		0x04u
#define __GFP_MOVABLE		0x08u
#define __GFP_RECLAIMABLE	0x10u
#define __GFP_HIGH		0x20u
#define __GFP_IO		0x40u
#define __GFP_FS		0x80u
#define __GFP_ZERO		0x100u
#define __GFP_NOWARN		0x200u
#define __GFP_DIRECT_RECLAIM	0x400u
#define __GFP_KSWAPD_RECLAIM	0x800u
#define __GFP_COMP		0x4000u
#define GFP_ZONEMASK		(__GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE)
#define __GFP_RECLAIM		(__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL		(__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOWAIT		(__GFP_KSWAPD_RECLAIM)
#define GFP_ATOMIC		(__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_NOIO		(__GFP_RECLAIM)
#define GFP_HIGHUSER_MOVABLE	(GFP_KERNEL | __GFP_HIGHMEM | __GFP_MOVABLE)

static inline bool gfpflags_allow_blocking(gfp_t gfp)
{
	return gfp & __GFP_DIRECT_RECLAIM;
}

#define might_sleep_if(cond) \
	KSHIM_CHECK(!(cond) || kshim_atomic == 0, "might sleep in atomic context")

/* ---- tasks, sleeping locks ---- */
struct task_struct { int pid; };
extern struct task_struct kshim_task;
#define current			(&kshim_task)
#define might_sleep()		KSHIM_CHECK(!kshim_atomic, "might_sleep() in atomic context")
#define cond_resched()		might_sleep()
#define fatal_signal_pending(t)	((void)(t), 0)

struct mutex { int locked; };
#define mutex_init(m)		((m)->locked = 0)
#define mutex_lock(m) do {						\
	might_sleep();							\
	KSHIM_CHECK(!(m)->locked, "mutex taken twice");			\
	(m)->locked = 1;						\
} while (0)
#define mutex_unlock(m) do {						\
	KSHIM_CHECK((m)->locked, "mutex released but not held");	\
	(m)->locked = 0;						\
} while (0)

#define IS_ENABLED(opt)		(opt)
#define CONFIG_DEBUG_VM		1
#define for_each_possible_cpu(cpu)	for ((cpu) = 0; (cpu) < 1; (cpu)++)

/* ---- atomics, locks, preemption, per-CPU ---- */
typedef struct { int counter; } atomic_t;
#define atomic_read(v)		((v)->counter)
#define atomic_set(v, i)	((v)->counter = (i))
#define atomic_dec_and_test(v)	(--(v)->counter == 0)

typedef struct { int locked; } spinlock_t;
#define spin_lock_init(l)	((l)->locked = 0)
#define spin_lock_irqsave(l, f) do {					\
	KSHIM_CHECK(!(l)->locked, "spinlock taken twice");		\
	(l)->locked = 1;						\
	kshim_atomic++;							\
	(f) = 0;							\
} while (0)
#define spin_unlock_irqrestore(l, f) do {				\
	KSHIM_CHECK((l)->locked, "spinlock released but not held");	\
	(l)->locked = 0;						\
	kshim_atomic--;							\
	(void)(f);							\
} while (0)

#define DEFINE_PER_CPU(type, name)	type name
#define this_cpu_ptr(p)			(p)
#define per_cpu_ptr(p, cpu)		((void)(cpu), (p))
#define get_cpu_ptr(p)			(kshim_atomic++, (p))
#define put_cpu_ptr(p)			((void)(p), kshim_atomic--)

enum { CPUHP_BP_PREPARE_DYN = 1 };
int cpuhp_setup_state(int state, const char *name, int (*startup)(unsigned int),
		      int (*teardown)(unsigned int));
void cpuhp_remove_state(int state);

/* ---- pages and mappings ---- */
/*
 * Like the kernel's mem_map, a struct page outlives the page's memory:
 * __free_page() frees the memory (so ASan catches a use after free) and
 * keeps the struct for the next alloc_page(), which takes the most recently
 * freed one, as the page allocator tends to.  Its pfn is its index in
 * kshim_mem_map.
 */
struct page {
	void *virt;
	bool highmem;
	bool free;
	unsigned long private;
	unsigned long pfn;
	struct page *next_free;
};

extern struct page **kshim_mem_map;
extern unsigned long kshim_max_pfn;	/* pfns 0 .. kshim_max_pfn - 1 exist */

struct page *alloc_page(gfp_t gfp);
void __free_page(struct page *page);
#define PageHighMem(p)		((p)->highmem)
#define page_to_pfn(p)		((p)->pfn)
#define pfn_valid(pfn)		((unsigned long)(pfn) < kshim_max_pfn)
#define pfn_to_page(pfn)	(kshim_mem_map[pfn])
#define set_page_private(p, v)	((p)->private = (v))
#define page_private(p)		((p)->private)
void *kmap_local_page(struct page *page);
void kunmap_local(const void *addr);

static inline void memcpy_from_page(char *to, struct page *page, size_t offset, size_t len)
{
	char *from = kmap_local_page(page);

	KSHIM_CHECK(offset + len <= PAGE_SIZE, "memcpy_from_page past the page");
	memcpy(to, from + offset, len);
	kunmap_local(from);
}

static inline void memcpy_to_page(struct page *page, size_t offset, const char *from,
				  size_t len)
{
	char *to = kmap_local_page(page);

	KSHIM_CHECK(offset + len <= PAGE_SIZE, "memcpy_to_page past the page");
	memcpy(to + offset, from, len);
	kunmap_local(to);
}

/* ---- slab ---- */
void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
#define kmalloc_array(n, size, gfp)	kmalloc((n) * (size), (gfp))
void *kvcalloc(size_t n, size_t size, gfp_t gfp);
void kfree(const void *p);
void kvfree(const void *p);
char *kstrdup(const char *s, gfp_t gfp);

/* ---- module ---- */
#define EXPORT_SYMBOL_GPL(sym)		extern int kshim_export_dummy
#define EXPORT_SYMBOL_NS_GPL(sym, ns)	extern int kshim_export_dummy
#define MODULE_LICENSE(s)		extern int kshim_export_dummy
#define MODULE_AUTHOR(s)		extern int kshim_export_dummy
#define MODULE_DESCRIPTION(s)		extern int kshim_export_dummy
#define MODULE_VERSION(s)		extern int kshim_export_dummy
#define module_init(fn) \
	int kshim_module_init(void) { return fn(); } extern int kshim_export_dummy
#define module_exit(fn) \
	void kshim_module_exit(void) { fn(); } extern int kshim_export_dummy
int kshim_module_init(void);
void kshim_module_exit(void);

/* ---- instrumentation hooks of xvmalloc_int.h ---- */
#define xv_trace_listop(pool)	((void)(pool), kshim_listops++)

#endif /* KSHIM_H */
