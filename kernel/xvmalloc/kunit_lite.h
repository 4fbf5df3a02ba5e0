/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kunit_lite: the part of KUnit's API that xvmalloc_kunit.c uses, for
 * kernels built without CONFIG_KUNIT (Debian's stock kernels among them),
 * so the allocator's own cases run where users run it.  kunit_lite.c runs
 * a suite when its module loads, each case in a kthread of its own, and
 * prints KUnit's KTAP report to the kernel log: the same lines KUnit
 * prints, so the same tools read it.  Not provided: parameterised cases,
 * debugfs results, suites beyond the one of the module.
 *
 * As in KUnit, a failed KUNIT_EXPECT_*() marks the case failed and goes on;
 * a failed KUNIT_ASSERT_*() or a kunit_skip() ends the case there (its
 * kthread exits): only the case's own kthread may call those.  What the
 * case allocated with kunit_kmalloc() and friends is freed after the
 * suite's exit function has run.
 */
#ifndef _KUNIT_LITE_H
#define _KUNIT_LITE_H

#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/printk.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct kunit {
	const char *name;		/* the running case's name */
	void *priv;			/* for the suite's init, case and exit */
	/* private to kunit_lite.c */
	bool failed;
	bool skipped;
	char skip_msg[128];
	spinlock_t lock;		/* guards resources */
	struct list_head resources;
	struct completion *done;	/* completed by the case's kthread */
	struct task_struct *task;	/* the case's kthread */
};

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
};

#define KUNIT_CASE(fn) { .run_case = fn, .name = #fn }

struct kunit_suite {
	const char name[256];
	int (*init)(struct kunit *test);
	void (*exit)(struct kunit *test);
	struct kunit_case *test_cases;
};

__printf(6, 7)
void kunit_lite_fail(struct kunit *test, const char *file, int line, bool assert,
		     const char *what, const char *fmt, ...);
__printf(10, 11)
void kunit_lite_fail_binary(struct kunit *test, const char *file, int line, bool assert,
			    const char *what, const char *left, long long lval,
			    const char *right, long long rval, const char *fmt, ...);
__printf(2, 3)
void kunit_lite_skip(struct kunit *test, const char *fmt, ...);
void *kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp);

static inline void *kunit_kzalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	return kunit_kmalloc(test, size, gfp | __GFP_ZERO);
}

static inline void *kunit_kcalloc(struct kunit *test, size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;

	if (unlikely(check_mul_overflow(n, size, &bytes)))
		return NULL;
	return kunit_kmalloc(test, bytes, gfp | __GFP_ZERO);
}

#define kunit_info(test, fmt, ...) \
	pr_info("    # %s: " fmt, (test)->name, ##__VA_ARGS__)

#define kunit_skip(test, fmt, ...) kunit_lite_skip(test, fmt, ##__VA_ARGS__)

/*
 * The checks.  Compared values are printed as long long: every operand
 * the suite compares is an integer.
 */
#define KUNIT_LITE_BINARY(test, assert, left, op, right, fmt, ...)		\
	do {									\
		typeof(left) __kl_left = (left);				\
		typeof(right) __kl_right = (right);				\
										\
		if (!(__kl_left op __kl_right))					\
			kunit_lite_fail_binary(test, __FILE__, __LINE__, assert, \
					       #left " " #op " " #right,	\
					       #left, (long long)__kl_left,	\
					       #right, (long long)__kl_right,	\
					       fmt, ##__VA_ARGS__);		\
	} while (0)

#define KUNIT_LITE_TRUE(test, assert, cond, fmt, ...)				\
	do {									\
		if (!(cond))							\
			kunit_lite_fail(test, __FILE__, __LINE__, assert,	\
					#cond, fmt, ##__VA_ARGS__);		\
	} while (0)

#define KUNIT_EXPECT_TRUE(test, c)	KUNIT_LITE_TRUE(test, false, c, NULL)
#define KUNIT_EXPECT_FALSE(test, c)	KUNIT_LITE_TRUE(test, false, !(c), NULL)
#define KUNIT_ASSERT_TRUE(test, c)	KUNIT_LITE_TRUE(test, true, c, NULL)
#define KUNIT_ASSERT_NOT_NULL(test, p)	KUNIT_LITE_TRUE(test, true, (p) != NULL, NULL)
#define KUNIT_EXPECT_TRUE_MSG(test, c, fmt, ...) \
	KUNIT_LITE_TRUE(test, false, c, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_TRUE_MSG(test, c, fmt, ...) \
	KUNIT_LITE_TRUE(test, true, c, fmt, ##__VA_ARGS__)

#define KUNIT_EXPECT_EQ(test, l, r)	KUNIT_LITE_BINARY(test, false, l, ==, r, NULL)
#define KUNIT_EXPECT_GT(test, l, r)	KUNIT_LITE_BINARY(test, false, l, >, r, NULL)
#define KUNIT_EXPECT_GE(test, l, r)	KUNIT_LITE_BINARY(test, false, l, >=, r, NULL)
#define KUNIT_EXPECT_LT(test, l, r)	KUNIT_LITE_BINARY(test, false, l, <, r, NULL)
#define KUNIT_EXPECT_LE(test, l, r)	KUNIT_LITE_BINARY(test, false, l, <=, r, NULL)
#define KUNIT_ASSERT_EQ(test, l, r)	KUNIT_LITE_BINARY(test, true, l, ==, r, NULL)
#define KUNIT_ASSERT_GT(test, l, r)	KUNIT_LITE_BINARY(test, true, l, >, r, NULL)
#define KUNIT_EXPECT_EQ_MSG(test, l, r, fmt, ...) \
	KUNIT_LITE_BINARY(test, false, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_LE_MSG(test, l, r, fmt, ...) \
	KUNIT_LITE_BINARY(test, false, l, <=, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_EQ_MSG(test, l, r, fmt, ...) \
	KUNIT_LITE_BINARY(test, true, l, ==, r, fmt, ##__VA_ARGS__)

/* The module's one suite: kunit_lite.c runs it when the module loads. */
extern struct kunit_suite *const kunit_lite_module_suite;
#define kunit_test_suite(suite) \
	struct kunit_suite *const kunit_lite_module_suite = &(suite)

#endif /* _KUNIT_LITE_H */
