// SPDX-License-Identifier: GPL-2.0
/*
 * kunit_lite: runs a module's KUnit suite where the kernel has no KUnit
 * (see kunit_lite.h), printing the KTAP report KUnit prints:
 *
 *	KTAP version 1
 *	1..1
 *	    KTAP version 1
 *	    # Subtest: <suite>
 *	    1..<cases>
 *	    ok 1 <case>			(or "not ok", or "ok N <case> # SKIP why")
 *	# <suite>: pass:P fail:F skip:S total:T
 *	# Totals: pass:P fail:F skip:S total:T
 *	ok 1 <suite>
 *
 * Each case runs in a kthread of its own: init, the case, then in a
 * second kthread the exit function (which so runs after a failed
 * assertion too), then the case's allocations are freed.
 */

#include <linux/completion.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/stdarg.h>

#include "kunit_lite.h"

struct kunit_lite_res {
	struct list_head node;
	unsigned long data[];
};

struct kunit_lite_run {
	struct kunit *test;
	struct kunit_suite *suite;
	struct kunit_case *tcase;
	bool init_ok;
	struct completion done;
};

static void kunit_lite_end(struct kunit *test)
{
	/* Only the case's own kthread may end the case early. */
	if (WARN_ON_ONCE(current != test->task))
		return;
	kthread_complete_and_exit(test->done, 0);
}

static void kunit_lite_report(struct kunit *test, const char *file, int line,
			      bool assert, const char *what)
{
	WRITE_ONCE(test->failed, true);
	pr_info("    # %s: %s FAILED at %s:%d\n", test->name,
		assert ? "ASSERTION" : "EXPECTATION", file, line);
	pr_info("    Expected %s, but\n", what);
}

/* The case's own message of a failed check, if it has one. */
static void kunit_lite_msg(const char *fmt, va_list *args)
{
	struct va_format vaf = { .fmt = fmt, .va = args };

	if (fmt)
		pr_info("    %pV\n", &vaf);
}

/**
 * kunit_lite_fail() - report a failed KUNIT_EXPECT_TRUE() or _ASSERT_TRUE()
 * @test: the running case
 * @file: where the check is
 * @line: its line
 * @assert: an assertion: end the case here
 * @what: the condition, as written
 * @fmt: printf format of the case's message, or NULL
 *
 * Context: the case's kthread if @assert, else any task.
 */
void kunit_lite_fail(struct kunit *test, const char *file, int line, bool assert,
		     const char *what, const char *fmt, ...)
{
	va_list args;

	kunit_lite_report(test, file, line, assert, what);
	pr_info("        %s is false\n", what);
	va_start(args, fmt);
	kunit_lite_msg(fmt, &args);
	va_end(args);
	if (assert)
		kunit_lite_end(test);
}

/**
 * kunit_lite_fail_binary() - report a failed comparison
 * @test: the running case
 * @file: where the check is
 * @line: its line
 * @assert: an assertion: end the case here
 * @what: the comparison, as written
 * @left: its left operand, as written
 * @lval: the left operand's value
 * @right: its right operand, as written
 * @rval: the right operand's value
 * @fmt: printf format of the case's message, or NULL
 *
 * Context: the case's kthread if @assert, else any task.
 */
void kunit_lite_fail_binary(struct kunit *test, const char *file, int line, bool assert,
			    const char *what, const char *left, long long lval,
			    const char *right, long long rval, const char *fmt, ...)
{
	va_list args;

	kunit_lite_report(test, file, line, assert, what);
	pr_info("        %s == %lld (0x%llx)\n", left, lval, lval);
	pr_info("        %s == %lld (0x%llx)\n", right, rval, rval);
	va_start(args, fmt);
	kunit_lite_msg(fmt, &args);
	va_end(args);
	if (assert)
		kunit_lite_end(test);
}

/**
 * kunit_lite_skip() - skip the rest of the running case
 * @test: the running case
 * @fmt: printf format of the reason
 *
 * Context: the case's kthread.
 */
void kunit_lite_skip(struct kunit *test, const char *fmt, ...)
{
	va_list args;

	WRITE_ONCE(test->skipped, true);
	va_start(args, fmt);
	vsnprintf(test->skip_msg, sizeof(test->skip_msg), fmt, args);
	va_end(args);
	kunit_lite_end(test);
}

/**
 * kunit_kmalloc() - allocate memory freed when the case ends
 * @test: the running case
 * @size: bytes
 * @gfp: allocation flags
 *
 * Context: process context if @gfp may sleep.
 * Return: the memory, or NULL.
 */
void *kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	struct kunit_lite_res *res;
	unsigned long flags;

	res = kmalloc(struct_size(res, data, DIV_ROUND_UP(size, sizeof(long))), gfp);
	if (!res)
		return NULL;
	spin_lock_irqsave(&test->lock, flags);
	list_add(&res->node, &test->resources);
	spin_unlock_irqrestore(&test->lock, flags);
	return res->data;
}

static int kunit_lite_case_fn(void *data)
{
	struct kunit_lite_run *run = data;
	struct kunit *test = run->test;

	if (!run->suite->init || !run->suite->init(test)) {
		run->init_ok = true;
		run->tcase->run_case(test);
	} else {
		WRITE_ONCE(test->failed, true);
	}
	kthread_complete_and_exit(&run->done, 0);
}

static int kunit_lite_exit_fn(void *data)
{
	struct kunit_lite_run *run = data;

	run->suite->exit(run->test);
	kthread_complete_and_exit(&run->done, 0);
}

/* Run @fn in a kthread for @run's case and wait for it to end. */
static void kunit_lite_in_thread(struct kunit_lite_run *run, int (*fn)(void *))
{
	struct task_struct *task;

	init_completion(&run->done);
	run->test->done = &run->done;
	task = kthread_create(fn, run, "kunit_lite");
	if (IS_ERR(task)) {
		pr_info("    # %s: cannot start a kthread: %ld\n", run->test->name,
			PTR_ERR(task));
		run->test->failed = true;
		return;
	}
	run->test->task = task;
	wake_up_process(task);
	wait_for_completion(&run->done);
}

/* Run one case; @test says how it went. */
static void kunit_lite_case(struct kunit_suite *suite, struct kunit_case *tcase,
			    struct kunit *test)
{
	struct kunit_lite_run run = { .test = test, .suite = suite, .tcase = tcase };
	struct kunit_lite_res *res, *tmp;

	memset(test, 0, sizeof(*test));
	test->name = tcase->name;
	spin_lock_init(&test->lock);
	INIT_LIST_HEAD(&test->resources);
	kunit_lite_in_thread(&run, kunit_lite_case_fn);
	if (run.init_ok && suite->exit)
		kunit_lite_in_thread(&run, kunit_lite_exit_fn);
	list_for_each_entry_safe(res, tmp, &test->resources, node) {
		list_del(&res->node);
		kfree(res);
	}
}

/* Run a suite and print its KTAP report; 0 (the report tells how it went). */
static int kunit_lite_run(struct kunit_suite *suite)
{
	unsigned int n = 0, i, pass = 0, fail = 0, skip = 0;
	struct kunit *test;

	test = kzalloc(sizeof(*test), GFP_KERNEL);
	if (!test)
		return -ENOMEM;
	while (suite->test_cases[n].run_case)
		n++;
	pr_info("KTAP version 1\n");
	pr_info("1..1\n");
	pr_info("    KTAP version 1\n");
	pr_info("    # Subtest: %s\n", suite->name);
	pr_info("    1..%u\n", n);
	for (i = 0; i < n; i++) {
		struct kunit_case *tcase = &suite->test_cases[i];

		kunit_lite_case(suite, tcase, test);
		if (test->failed) {
			fail++;
			pr_info("    not ok %u %s\n", i + 1, tcase->name);
		} else if (test->skipped) {
			skip++;
			pr_info("    ok %u %s # SKIP %s\n", i + 1, tcase->name, test->skip_msg);
		} else {
			pass++;
			pr_info("    ok %u %s\n", i + 1, tcase->name);
		}
	}
	pr_info("# %s: pass:%u fail:%u skip:%u total:%u\n", suite->name, pass, fail, skip, n);
	pr_info("# Totals: pass:%u fail:%u skip:%u total:%u\n", pass, fail, skip, n);
	pr_info("%sok 1 %s\n", fail ? "not " : "", suite->name);
	kfree(test);
	return 0;
}

static int __init kunit_lite_init(void)
{
	return kunit_lite_run(kunit_lite_module_suite);
}

static void __exit kunit_lite_exit(void)
{
}

module_init(kunit_lite_init);
module_exit(kunit_lite_exit);
