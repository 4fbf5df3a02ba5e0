/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ramzswap: the backing device for writeback.
 */
#ifndef _RAMZSWAP_BACKING_H_
#define _RAMZSWAP_BACKING_H_

#include <linux/blk_types.h>
#include <linux/types.h>

struct block_device;
struct file;
struct page;

/**
 * struct rzs_backing - the backing device pages are written back to
 * @file: the block device, opened exclusively (O_EXCL); NULL for none
 * @bdev: its block_device
 * @bitmap: one bit per page-sized block, set while a slot owns the block
 * @nr_blocks: blocks on the device
 * @next: where rzs_backing_alloc() looks first (next fit)
 */
struct rzs_backing {
	struct file *file;
	struct block_device *bdev;
	unsigned long *bitmap;
	unsigned long nr_blocks;
	unsigned long next;
};

extern struct workqueue_struct *rzs_backing_wq;

int rzs_backing_init(void);
void rzs_backing_exit(void);
int rzs_backing_open(struct rzs_backing *b, const char *path);
void rzs_backing_close(struct rzs_backing *b);
int rzs_backing_alloc(struct rzs_backing *b, unsigned long *blk);
void rzs_backing_free(struct rzs_backing *b, unsigned long blk);
int rzs_backing_read(struct rzs_backing *b, unsigned long blk,
		     struct page *page);
void rzs_backing_read_async(struct rzs_backing *b, unsigned long blk,
			    struct page *page, bio_end_io_t *done,
			    void *private);
int rzs_backing_write(struct rzs_backing *b, unsigned long blk,
		      struct page *page);
ssize_t rzs_backing_show(struct rzs_backing *b, char *buf);

#endif /* _RAMZSWAP_BACKING_H_ */
