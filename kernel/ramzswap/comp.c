// SPDX-License-Identifier: GPL-2.0
/*
 * ramzswap: per-CPU compression streams on top of the crypto API.
 *
 * Each CPU has a stream (a crypto_comp transform and a two-page output
 * buffer) guarded by a mutex.  A task takes the stream of the CPU it runs
 * on and may then be preempted or migrate: the mutex, not the CPU, owns
 * the stream, so holding one never disables preemption.  Another task of
 * the same CPU waits on the mutex meanwhile.
 *
 * The per-CPU area comes from alloc_percpu() and its mutexes are set up
 * with mutex_init() at run time: a lock statically initialised in a
 * module's per-CPU section broke lockdep here (see docs/FACTS.md).
 *
 * CPU hotplug: a dynamic "prepare" state sets up a CPU's stream before the
 * CPU comes up and frees it once the CPU is dead.  A task that looked up
 * the stream of a CPU that went away meanwhile finds it torn down (tfm
 * NULL) once it has the mutex, and tries again on the CPU it runs on now.
 *
 * Levels (algorithm_params): the crypto API compresses at each algorithm's
 * one default level.  With a level set, zstd, lz4hc and lz4 compress
 * through their libraries instead (lz4's level is its acceleration), into
 * the same formats, so decompression always stays with the crypto API and
 * a page reads back whatever level wrote it.
 */

#define pr_fmt(fmt) "ramzswap: " fmt

#include <linux/cpuhotplug.h>
#include <linux/crypto.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/lz4.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/zstd.h>

#include "comp.h"

static enum cpuhp_state rzs_cpuhp_state;

static const char * const rzs_backends[] = {
	"lzo",
	"lzo-rle",
	"lz4",
	"lz4hc",
	"842",
	"zstd",
};

/**
 * rzs_comp_known() - is @name one of the algorithms ramzswap offers?
 * @name: algorithm name, NUL-terminated, no trailing newline
 *
 * Return: true if @name is in the list of backends.
 */
bool rzs_comp_known(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(rzs_backends); i++)
		if (!strcmp(name, rzs_backends[i]))
			return true;
	return false;
}

/**
 * rzs_comp_available() - can @name be used now?
 * @name: algorithm name, NUL-terminated, no trailing newline
 *
 * Return: true if @name is a known backend and the crypto API has it
 * (possibly after loading its module).
 */
bool rzs_comp_available(const char *name)
{
	return rzs_comp_known(name) && crypto_has_comp(name, 0, 0) == 1;
}

/**
 * rzs_comp_available_show() - list the usable algorithms
 * @cur: the current algorithm, shown in brackets
 * @buf: sysfs buffer of PAGE_SIZE bytes
 *
 * Return: bytes written to @buf.
 */
ssize_t rzs_comp_available_show(const char *cur, char *buf)
{
	ssize_t sz = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(rzs_backends); i++) {
		const char *name = rzs_backends[i];

		if (!strcmp(cur, name))
			sz += scnprintf(buf + sz, PAGE_SIZE - sz, "[%s] ", name);
		else if (crypto_has_comp(name, 0, 0) == 1)
			sz += scnprintf(buf + sz, PAGE_SIZE - sz, "%s ", name);
	}
	if (sz)
		sz--;	/* drop the trailing space */
	sz += scnprintf(buf + sz, PAGE_SIZE - sz, "\n");
	return sz;
}

/* The libraries that compress at a level; each only if the kernel has it. */
enum rzs_lib {
	RZS_LIB_NONE,
	RZS_LIB_ZSTD,
	RZS_LIB_LZ4HC,
	RZS_LIB_LZ4,
};

static enum rzs_lib rzs_lib_of(const char *name)
{
	if (IS_REACHABLE(CONFIG_ZSTD_COMPRESS) && !strcmp(name, "zstd"))
		return RZS_LIB_ZSTD;
	if (IS_REACHABLE(CONFIG_LZ4HC_COMPRESS) && !strcmp(name, "lz4hc"))
		return RZS_LIB_LZ4HC;
	if (IS_REACHABLE(CONFIG_LZ4_COMPRESS) && !strcmp(name, "lz4"))
		return RZS_LIB_LZ4;
	return RZS_LIB_NONE;
}

/**
 * rzs_comp_check_level() - can @name compress at @level?
 * @name: algorithm name
 * @level: compression level; RZS_NO_LEVEL is always fine
 *
 * Return: 0; -EOPNOTSUPP if @name takes no level (or this kernel lacks the
 * library that would apply it); -EINVAL if @level is out of its range
 * (zstd: its min..max level, lz4hc: 1..16, lz4: acceleration 1 or more).
 */
int rzs_comp_check_level(const char *name, int level)
{
	if (level == RZS_NO_LEVEL)
		return 0;
	switch (rzs_lib_of(name)) {
#if IS_REACHABLE(CONFIG_ZSTD_COMPRESS)
	case RZS_LIB_ZSTD:
		return level && level >= zstd_min_clevel() &&
		       level <= zstd_max_clevel() ? 0 : -EINVAL;
#endif
	case RZS_LIB_LZ4HC:
		return level >= 1 && level <= LZ4HC_MAX_CLEVEL ? 0 : -EINVAL;
	case RZS_LIB_LZ4:
		return level >= 1 ? 0 : -EINVAL;
	default:
		return -EOPNOTSUPP;
	}
}

/* Set up @comp's library workspace in @strm (none without a level). */
static int rzs_strm_lib_init(struct rzs_comp *comp, struct rzs_strm *strm)
{
	size_t size;

	switch (comp->lib) {
#if IS_REACHABLE(CONFIG_ZSTD_COMPRESS)
	case RZS_LIB_ZSTD: {
		zstd_parameters params = zstd_get_params(comp->level, PAGE_SIZE);

		size = zstd_cctx_workspace_bound(&params.cParams);
		strm->wksp = vzalloc(size);
		if (!strm->wksp)
			return -ENOMEM;
		strm->ctx = zstd_init_cctx(strm->wksp, size);
		return strm->ctx ? 0 : -EINVAL;
	}
#endif
	case RZS_LIB_LZ4HC:
		size = LZ4HC_MEM_COMPRESS;
		break;
	case RZS_LIB_LZ4:
		size = LZ4_MEM_COMPRESS;
		break;
	default:
		return 0;
	}
	strm->wksp = vzalloc(size);
	return strm->wksp ? 0 : -ENOMEM;
}

/* Compress with the library at @comp's level; 0 or -errno as crypto does. */
static int rzs_lib_compress(struct rzs_comp *comp, struct rzs_strm *strm,
			    const void *src, unsigned int *dst_len)
{
	int len = 0;

	switch (comp->lib) {
#if IS_REACHABLE(CONFIG_ZSTD_COMPRESS)
	case RZS_LIB_ZSTD: {
		zstd_parameters params = zstd_get_params(comp->level, PAGE_SIZE);
		size_t ret;

		ret = zstd_compress_cctx(strm->ctx, strm->buffer, *dst_len, src,
					 PAGE_SIZE, &params);
		if (zstd_is_error(ret))
			return -EINVAL;
		*dst_len = ret;
		return 0;
	}
#endif
#if IS_REACHABLE(CONFIG_LZ4HC_COMPRESS)
	case RZS_LIB_LZ4HC:
		len = LZ4_compress_HC(src, strm->buffer, PAGE_SIZE, *dst_len,
				      comp->level, strm->wksp);
		break;
#endif
#if IS_REACHABLE(CONFIG_LZ4_COMPRESS)
	case RZS_LIB_LZ4:
		len = LZ4_compress_fast(src, strm->buffer, PAGE_SIZE, *dst_len,
					comp->level, strm->wksp);
		break;
#endif
	default:
		break;
	}
	if (len <= 0)
		return -EINVAL;
	*dst_len = len;
	return 0;
}

/* Free @strm's transform and buffers; its mutex held (or not yet shared). */
static void rzs_strm_free(struct rzs_strm *strm)
{
	if (strm->tfm)
		crypto_free_comp(strm->tfm);
	if (strm->buffer)
		free_pages((unsigned long)strm->buffer, 1);
	vfree(strm->wksp);
	strm->tfm = NULL;
	strm->buffer = NULL;
	strm->wksp = NULL;
	strm->ctx = NULL;
}

static int rzs_comp_cpu_up(unsigned int cpu, struct hlist_node *node)
{
	struct rzs_comp *comp = hlist_entry(node, struct rzs_comp, node);
	struct rzs_strm *strm = per_cpu_ptr(comp->strms, cpu);
	struct rzs_strm new = { };
	int ret;

	new.tfm = crypto_alloc_comp(comp->name, 0, 0);
	if (IS_ERR(new.tfm)) {
		pr_err("cannot set up a %s stream for CPU %u: %ld\n",
		       comp->name, cpu, PTR_ERR(new.tfm));
		return PTR_ERR(new.tfm);
	}
	/* Two pages: compressed output may be larger than its input. */
	new.buffer = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, 1);
	ret = new.buffer ? rzs_strm_lib_init(comp, &new) : -ENOMEM;
	if (ret) {
		rzs_strm_free(&new);
		return ret;
	}

	mutex_lock(&strm->lock);
	strm->tfm = new.tfm;
	strm->buffer = new.buffer;
	strm->wksp = new.wksp;
	strm->ctx = new.ctx;
	mutex_unlock(&strm->lock);
	return 0;
}

static int rzs_comp_cpu_dead(unsigned int cpu, struct hlist_node *node)
{
	struct rzs_comp *comp = hlist_entry(node, struct rzs_comp, node);
	struct rzs_strm *strm = per_cpu_ptr(comp->strms, cpu);

	/* A task that migrated off @cpu may still hold the stream. */
	mutex_lock(&strm->lock);
	rzs_strm_free(strm);
	mutex_unlock(&strm->lock);
	return 0;
}

/**
 * rzs_comp_init() - register the CPU hotplug state of the streams
 *
 * Called once at module load, before any rzs_comp_create().
 *
 * Return: 0 or a negative errno.
 */
int rzs_comp_init(void)
{
	int ret;

	ret = cpuhp_setup_state_multi(CPUHP_BP_PREPARE_DYN,
				      "block/ramzswap:prepare",
				      rzs_comp_cpu_up, rzs_comp_cpu_dead);
	if (ret < 0)
		return ret;
	rzs_cpuhp_state = ret;
	return 0;
}

/**
 * rzs_comp_exit() - unregister the CPU hotplug state
 *
 * Called once at module unload, after every rzs_comp_destroy().
 */
void rzs_comp_exit(void)
{
	cpuhp_remove_multi_state(rzs_cpuhp_state);
}

/**
 * rzs_comp_create() - set up one compression stream per CPU
 * @name: crypto algorithm name (must be rzs_comp_available())
 * @level: compression level, checked with rzs_comp_check_level(); or
 *	   RZS_NO_LEVEL
 *
 * May sleep.
 *
 * Return: the streams or an ERR_PTR().
 */
struct rzs_comp *rzs_comp_create(const char *name, int level)
{
	struct rzs_comp *comp;
	int cpu, err;

	if (strlen(name) >= RZS_COMP_NAME_LEN)
		return ERR_PTR(-EINVAL);
	err = rzs_comp_check_level(name, level);
	if (err)
		return ERR_PTR(err);

	comp = kzalloc(sizeof(*comp), GFP_KERNEL);
	if (!comp)
		return ERR_PTR(-ENOMEM);
	strscpy(comp->name, name, sizeof(comp->name));
	comp->level = level;
	comp->lib = level == RZS_NO_LEVEL ? RZS_LIB_NONE : rzs_lib_of(name);

	comp->strms = alloc_percpu(struct rzs_strm);
	if (!comp->strms) {
		err = -ENOMEM;
		goto out_free;
	}
	for_each_possible_cpu(cpu)
		mutex_init(&per_cpu_ptr(comp->strms, cpu)->lock);

	/* Sets up the stream of every CPU that is up; undoes itself on error. */
	err = cpuhp_state_add_instance(rzs_cpuhp_state, &comp->node);
	if (err)
		goto out_free_percpu;
	return comp;

out_free_percpu:
	free_percpu(comp->strms);
out_free:
	kfree(comp);
	return ERR_PTR(err);
}

/**
 * rzs_comp_destroy() - free the streams
 * @comp: from rzs_comp_create(); no stream may be in use
 */
void rzs_comp_destroy(struct rzs_comp *comp)
{
	cpuhp_state_remove_instance(rzs_cpuhp_state, &comp->node);
	free_percpu(comp->strms);
	kfree(comp);
}

/**
 * rzs_strm_get() - lock the stream of the current CPU
 * @comp: the streams
 *
 * May sleep (waiting for another task of the same CPU); must not be called
 * in atomic context.  The caller may be preempted and migrate while it
 * holds the stream.
 *
 * Return: a stream owned by the caller until rzs_strm_put().
 */
struct rzs_strm *rzs_strm_get(struct rzs_comp *comp)
{
	struct rzs_strm *strm;

	might_sleep();
	for (;;) {
		strm = raw_cpu_ptr(comp->strms);
		mutex_lock(&strm->lock);
		if (likely(strm->tfm))
			return strm;
		/* Its CPU went down while we waited: use the one we are on. */
		mutex_unlock(&strm->lock);
		cond_resched();
	}
}

/**
 * rzs_strm_put() - give a stream back
 * @strm: a stream from rzs_strm_get()
 */
void rzs_strm_put(struct rzs_strm *strm)
{
	mutex_unlock(&strm->lock);
}

/**
 * rzs_compress() - compress one page into the stream's buffer
 * @comp: the streams @strm belongs to
 * @strm: a stream owned by the caller
 * @src: PAGE_SIZE bytes of input
 * @dst_len: set to the compressed length
 *
 * Return: 0 or a negative errno from the crypto API or the library.
 */
int rzs_compress(struct rzs_comp *comp, struct rzs_strm *strm, const void *src,
		 unsigned int *dst_len)
{
	*dst_len = 2 * PAGE_SIZE;
	if (comp->lib != RZS_LIB_NONE)
		return rzs_lib_compress(comp, strm, src, dst_len);
	return crypto_comp_compress(strm->tfm, src, PAGE_SIZE, strm->buffer,
				    dst_len);
}

/**
 * rzs_decompress() - decompress one page
 * @strm: a stream owned by the caller
 * @src: compressed data
 * @src_len: its length
 * @dst: PAGE_SIZE bytes of output
 *
 * Return: 0, or a negative errno if the data is corrupt or does not
 * decompress to exactly PAGE_SIZE bytes.
 */
int rzs_decompress(struct rzs_strm *strm, const void *src, unsigned int src_len,
		   void *dst)
{
	unsigned int dst_len = PAGE_SIZE;
	int ret;

	ret = crypto_comp_decompress(strm->tfm, src, src_len, dst, &dst_len);
	if (!ret && dst_len != PAGE_SIZE)
		ret = -EIO;
	return ret;
}
