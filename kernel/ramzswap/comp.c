// SPDX-License-Identifier: GPL-2.0
/*
 * ramzswap: a pool of compression streams on top of the crypto API.
 *
 * Each stream owns a crypto_comp transform, a two-page output buffer and a
 * bounce page.  Streams sit on an idle list; a task takes one, uses it
 * (possibly sleeping, e.g. in a GFP_NOIO allocation) and gives it back.
 * There is one stream per online CPU at creation time.
 *
 * Why not per-CPU streams with a local_lock as zram has: a local_lock_t in
 * a module's per-CPU data broke lockdep here (see the project's FACTS), and
 * a preemption-disabled section would forbid sleeping allocations while a
 * stream is held.  A small pool of streams is lockdep-clean and simple.
 */

#define pr_fmt(fmt) "ramzswap: " fmt

#include <linux/crypto.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "comp.h"

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

static void rzs_strm_free(struct rzs_strm *strm)
{
	if (!IS_ERR_OR_NULL(strm->tfm))
		crypto_free_comp(strm->tfm);
	if (strm->buffer)
		free_pages((unsigned long)strm->buffer, 1);
	if (strm->bounce)
		__free_page(strm->bounce);
	strm->tfm = NULL;
	strm->buffer = NULL;
	strm->bounce = NULL;
}

static int rzs_strm_init(struct rzs_strm *strm, const char *name)
{
	strm->tfm = crypto_alloc_comp(name, 0, 0);
	if (IS_ERR(strm->tfm)) {
		int err = PTR_ERR(strm->tfm);

		strm->tfm = NULL;
		return err;
	}
	/* Two pages: compressed output may be larger than its input. */
	strm->buffer = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, 1);
	strm->bounce = alloc_page(GFP_KERNEL);
	if (!strm->buffer || !strm->bounce) {
		rzs_strm_free(strm);
		return -ENOMEM;
	}
	return 0;
}

/**
 * rzs_comp_create() - create a pool of compression streams
 * @name: crypto algorithm name (must be rzs_comp_available())
 * @nr_strms: number of streams, at least 1
 *
 * May sleep.
 *
 * Return: the pool or an ERR_PTR().
 */
struct rzs_comp *rzs_comp_create(const char *name, unsigned int nr_strms)
{
	struct rzs_comp *comp;
	unsigned int i;
	int err;

	if (!nr_strms || strlen(name) >= RZS_COMP_NAME_LEN)
		return ERR_PTR(-EINVAL);

	comp = kzalloc(struct_size(comp, strms, nr_strms), GFP_KERNEL);
	if (!comp)
		return ERR_PTR(-ENOMEM);

	spin_lock_init(&comp->lock);
	INIT_LIST_HEAD(&comp->idle);
	init_waitqueue_head(&comp->wait);
	strscpy(comp->name, name, sizeof(comp->name));

	for (i = 0; i < nr_strms; i++) {
		err = rzs_strm_init(&comp->strms[i], name);
		if (err) {
			pr_err("cannot set up a %s stream: %d\n", name, err);
			goto out_free;
		}
		list_add(&comp->strms[i].node, &comp->idle);
		comp->nr_strms++;
	}
	return comp;

out_free:
	rzs_comp_destroy(comp);
	return ERR_PTR(err);
}

/**
 * rzs_comp_destroy() - free a pool of streams
 * @comp: the pool; no stream may be in use
 */
void rzs_comp_destroy(struct rzs_comp *comp)
{
	unsigned int i;

	for (i = 0; i < comp->nr_strms; i++)
		rzs_strm_free(&comp->strms[i]);
	kfree(comp);
}

/**
 * rzs_strm_get() - take an idle stream, waiting for one if needed
 * @comp: the pool
 *
 * May sleep; must not be called in atomic context.
 *
 * Return: a stream owned by the caller until rzs_strm_put().
 */
struct rzs_strm *rzs_strm_get(struct rzs_comp *comp)
{
	struct rzs_strm *strm;

	might_sleep();
	spin_lock(&comp->lock);
	wait_event_exclusive_cmd(comp->wait, !list_empty(&comp->idle),
				 spin_unlock(&comp->lock), spin_lock(&comp->lock));
	strm = list_first_entry(&comp->idle, struct rzs_strm, node);
	list_del(&strm->node);
	spin_unlock(&comp->lock);
	return strm;
}

/**
 * rzs_strm_put() - give a stream back
 * @comp: the pool
 * @strm: a stream from rzs_strm_get()
 */
void rzs_strm_put(struct rzs_comp *comp, struct rzs_strm *strm)
{
	spin_lock(&comp->lock);
	list_add(&strm->node, &comp->idle);
	spin_unlock(&comp->lock);
	/*
	 * A waiter queues itself before it drops comp->lock, so it is seen
	 * here; wq_has_sleeper() has the barrier that pairs with that.
	 */
	if (wq_has_sleeper(&comp->wait))
		wake_up(&comp->wait);
}

/**
 * rzs_compress() - compress one page into the stream's buffer
 * @strm: a stream owned by the caller
 * @src: PAGE_SIZE bytes of input
 * @dst_len: set to the compressed length
 *
 * Return: 0 or a negative errno from the crypto API.
 */
int rzs_compress(struct rzs_strm *strm, const void *src, unsigned int *dst_len)
{
	*dst_len = 2 * PAGE_SIZE;
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
