/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ramzswap: a pool of compression streams on top of the crypto API.
 */
#ifndef _RAMZSWAP_COMP_H_
#define _RAMZSWAP_COMP_H_

#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

struct crypto_comp;
struct page;

/* Longest algorithm name accepted through sysfs, NUL included. */
#define RZS_COMP_NAME_LEN	32

/**
 * struct rzs_strm - one compression stream
 * @node: link in the pool's idle list while the stream is not in use
 * @tfm: crypto transform; used by one task at a time
 * @buffer: lowmem output buffer of two pages (compressed data may exceed
 *	    PAGE_SIZE for incompressible input)
 * @bounce: a lowmem page for partial-page I/O (read-modify-write)
 */
struct rzs_strm {
	struct list_head node;
	struct crypto_comp *tfm;
	void *buffer;
	struct page *bounce;
};

/**
 * struct rzs_comp - a pool of compression streams
 * @lock: protects @idle
 * @idle: streams not in use
 * @wait: tasks waiting for a stream
 * @nr_strms: number of streams in @strms
 * @name: crypto algorithm name
 * @strms: the streams
 *
 * A task takes a stream with rzs_strm_get() and gives it back with
 * rzs_strm_put().  A stream is owned by one task at a time and may be
 * held across sleeping calls; no per-CPU data and no preemption-disabled
 * section is involved, so a module can use it under lockdep.
 */
struct rzs_comp {
	spinlock_t lock;		/* protects idle */
	struct list_head idle;
	wait_queue_head_t wait;
	unsigned int nr_strms;
	char name[RZS_COMP_NAME_LEN];
	struct rzs_strm strms[];
};

bool rzs_comp_available(const char *name);
bool rzs_comp_known(const char *name);
ssize_t rzs_comp_available_show(const char *cur, char *buf);

struct rzs_comp *rzs_comp_create(const char *name, unsigned int nr_strms);
void rzs_comp_destroy(struct rzs_comp *comp);

struct rzs_strm *rzs_strm_get(struct rzs_comp *comp);
void rzs_strm_put(struct rzs_comp *comp, struct rzs_strm *strm);

int rzs_compress(struct rzs_strm *strm, const void *src, unsigned int *dst_len);
int rzs_decompress(struct rzs_strm *strm, const void *src, unsigned int src_len,
		   void *dst);

#endif /* _RAMZSWAP_COMP_H_ */
