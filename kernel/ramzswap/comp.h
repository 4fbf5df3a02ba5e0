/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ramzswap: per-CPU compression streams on top of the crypto API.
 */
#ifndef _RAMZSWAP_COMP_H_
#define _RAMZSWAP_COMP_H_

#include <linux/limits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>

struct crypto_comp;

/* Longest algorithm name accepted through sysfs, NUL included. */
#define RZS_COMP_NAME_LEN	32

/* algorithm_params' "no level": the algorithm's own default. */
#define RZS_NO_LEVEL		INT_MIN

/**
 * struct rzs_strm - one CPU's compression stream
 * @lock: owns the stream; held by one task at a time, which may sleep and
 *	  migrate while it holds it
 * @tfm: crypto transform; NULL while the stream's CPU is not up
 * @buffer: lowmem output buffer of two pages (compressed data may exceed
 *	    PAGE_SIZE for incompressible input)
 * @wksp: workspace of the compression library when a level is set (the
 *	  crypto API has no levels); NULL otherwise
 * @ctx: what the library made of @wksp (zstd's cctx)
 */
struct rzs_strm {
	struct mutex lock;	/* owns everything below */
	struct crypto_comp *tfm;
	void *buffer;
	void *wksp;
	void *ctx;
};

/**
 * struct rzs_comp - a device's compression streams, one per CPU
 * @strms: the streams (alloc_percpu(); locks initialised at run time)
 * @node: instance of the CPU hotplug state that sets up and frees the
 *	  stream of a CPU coming up or gone
 * @name: crypto algorithm name
 * @level: compression level (RZS_NO_LEVEL: the crypto API's default)
 * @lib: enum rzs_lib: which library compresses at @level
 *
 * rzs_strm_get() returns the stream of the CPU the caller runs on, locked;
 * rzs_strm_put() unlocks it.  Holding a stream does not disable
 * preemption, but the holder should give it back soon: the tasks of that
 * CPU wait for it.  Nothing that can wait for memory reclaim may be done
 * with a stream held.
 */
struct rzs_comp {
	struct rzs_strm __percpu *strms;
	struct hlist_node node;
	char name[RZS_COMP_NAME_LEN];
	int level;
	int lib;
};

int rzs_comp_init(void);
void rzs_comp_exit(void);

bool rzs_comp_available(const char *name);
bool rzs_comp_known(const char *name);
ssize_t rzs_comp_available_show(const char *cur, char *buf);

int rzs_comp_check_level(const char *name, int level);

struct rzs_comp *rzs_comp_create(const char *name, int level);
void rzs_comp_destroy(struct rzs_comp *comp);

struct rzs_strm *rzs_strm_get(struct rzs_comp *comp);
void rzs_strm_put(struct rzs_strm *strm);

int rzs_compress(struct rzs_comp *comp, struct rzs_strm *strm, const void *src,
		 unsigned int *dst_len);
int rzs_decompress(struct rzs_strm *strm, const void *src, unsigned int src_len,
		   void *dst);

#endif /* _RAMZSWAP_COMP_H_ */
