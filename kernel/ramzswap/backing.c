// SPDX-License-Identifier: GPL-2.0
/*
 * ramzswap: the backing device that idle and incompressible pages are
 * written back to (zram's backing_dev).
 *
 * The device is opened exclusively (O_EXCL), so it cannot be mounted, used
 * as swap or given to a second ramzswap device meanwhile.  Its space is cut
 * into page-sized blocks, one bit each in a bitmap; a slot that was written
 * back owns its block until the slot is freed or rewritten.  Block I/O is
 * one page, synchronous.
 *
 * A read may come from inside our ->submit_bio: a bio submitted to another
 * device there only starts once ->submit_bio returns (current->bio_list), so
 * waiting for it would wait forever.  Such a read goes to a work item and
 * the caller waits for the work instead.
 */

#define pr_fmt(fmt) "ramzswap: " fmt

#include <linux/bio.h>
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "backing.h"

/*
 * Reads of written-back pages that cannot be waited for where they start
 * (inside a ->submit_bio) finish here.  WQ_MEM_RECLAIM: a swap-in may be
 * one of them (6.12 swaps in through bios), and it must progress when
 * memory is short.
 */
struct workqueue_struct *rzs_backing_wq;

int __init rzs_backing_init(void)
{
	rzs_backing_wq = alloc_workqueue("ramzswap_bd", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return rzs_backing_wq ? 0 : -ENOMEM;
}

void rzs_backing_exit(void)
{
	destroy_workqueue(rzs_backing_wq);
}

/**
 * rzs_backing_open() - open a block device as backing device
 * @b: where to keep it; must hold none
 * @path: the device's path, NUL-terminated
 *
 * May sleep.
 *
 * Return: 0; -ENOTBLK if @path is not a block device; -EINVAL if it holds
 * no whole page; -EROFS if it is read-only; -EBUSY if it is in use
 * (mounted, swap, opened exclusively elsewhere); -ENOMEM; or the error of
 * opening it (-ENOENT, -EACCES, ...).
 */
int rzs_backing_open(struct rzs_backing *b, const char *path)
{
	unsigned long nr_blocks, *bitmap;
	struct inode *inode;
	struct file *file;
	int err;

	file = filp_open(path, O_RDWR | O_LARGEFILE | O_EXCL, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);

	inode = file->f_mapping->host;
	if (!S_ISBLK(inode->i_mode)) {
		err = -ENOTBLK;
		goto out_close;
	}
	/* opened read-write all the same (the open does not check) */
	if (bdev_read_only(I_BDEV(inode))) {
		err = -EROFS;
		goto out_close;
	}
	/* no block at all; also refuses an uninitialised ramzswap device */
	nr_blocks = i_size_read(inode) >> PAGE_SHIFT;
	if (!nr_blocks) {
		err = -EINVAL;
		goto out_close;
	}
	bitmap = kvcalloc(BITS_TO_LONGS(nr_blocks), sizeof(long), GFP_KERNEL);
	if (!bitmap) {
		err = -ENOMEM;
		goto out_close;
	}

	b->file = file;
	b->bdev = I_BDEV(inode);
	b->bitmap = bitmap;
	b->nr_blocks = nr_blocks;
	return 0;

out_close:
	filp_close(file, NULL);
	return err;
}

/**
 * rzs_backing_close() - close the backing device, if any
 * @b: the backing device; no block may be in use and no I/O in flight
 */
void rzs_backing_close(struct rzs_backing *b)
{
	if (!b->file)
		return;
	WARN_ON_ONCE(!bitmap_empty(b->bitmap, b->nr_blocks));
	filp_close(b->file, NULL);
	kvfree(b->bitmap);
	memset(b, 0, sizeof(*b));
}

/* Take the first free block in [@from, @to); nr_blocks if there is none. */
static unsigned long rzs_backing_take(struct rzs_backing *b, unsigned long from,
				      unsigned long to)
{
	unsigned long idx = from;

	for (;;) {
		idx = find_next_zero_bit(b->bitmap, to, idx);
		if (idx >= to)
			return b->nr_blocks;
		if (!test_and_set_bit(idx, b->bitmap))
			return idx;
	}
}

/**
 * rzs_backing_alloc() - take a free block
 * @b: an open backing device
 * @blk: set to the block
 *
 * Next fit: the search starts after the block taken last and wraps once,
 * so a block just given back is not the next one handed out, as it would
 * be with lowest-first (see rzs_read_slot() on reads racing a free).
 * Does not sleep.
 *
 * Return: 0, or -ENOSPC if every block is taken.
 */
int rzs_backing_alloc(struct rzs_backing *b, unsigned long *blk)
{
	unsigned long start = READ_ONCE(b->next);
	unsigned long idx;

	if (start >= b->nr_blocks)
		start = 0;
	idx = rzs_backing_take(b, start, b->nr_blocks);
	if (idx == b->nr_blocks)
		idx = rzs_backing_take(b, 0, start);
	if (idx == b->nr_blocks)
		return -ENOSPC;
	WRITE_ONCE(b->next, idx + 1);
	*blk = idx;
	return 0;
}

/**
 * rzs_backing_free() - give a block back
 * @b: the backing device
 * @blk: a block from rzs_backing_alloc()
 *
 * Does not sleep; may be called under a spinlock.
 */
void rzs_backing_free(struct rzs_backing *b, unsigned long blk)
{
	WARN_ON_ONCE(!test_and_clear_bit(blk, b->bitmap));
}

static int rzs_backing_rw(struct rzs_backing *b, unsigned long blk,
			  struct page *page, blk_opf_t opf)
{
	struct bio_vec bv;
	struct bio bio;

	bio_init(&bio, b->bdev, &bv, 1, opf);
	bio.bi_iter.bi_sector = (sector_t)blk << (PAGE_SHIFT - SECTOR_SHIFT);
	__bio_add_page(&bio, page, PAGE_SIZE, 0);
	return submit_bio_wait(&bio);
}

struct rzs_backing_work {
	struct work_struct work;
	struct rzs_backing *b;
	unsigned long blk;
	struct page *page;
	int err;
};

static void rzs_backing_read_work(struct work_struct *work)
{
	struct rzs_backing_work *w = container_of(work, struct rzs_backing_work,
						  work);

	w->err = rzs_backing_rw(w->b, w->blk, w->page, REQ_OP_READ);
}

/**
 * rzs_backing_read() - read a block into a page
 * @b: the backing device
 * @blk: the block
 * @page: a whole page
 *
 * Sleeps until the read is done, also when called from ->submit_bio.
 * Allocates nothing.
 *
 * Return: 0 or the block layer's error.
 */
int rzs_backing_read(struct rzs_backing *b, unsigned long blk,
		     struct page *page)
{
	struct rzs_backing_work w = { .b = b, .blk = blk, .page = page };

	if (!current->bio_list)
		return rzs_backing_rw(b, blk, page, REQ_OP_READ);

	INIT_WORK_ONSTACK(&w.work, rzs_backing_read_work);
	queue_work(rzs_backing_wq, &w.work);
	flush_work(&w.work);
	destroy_work_on_stack(&w.work);
	return w.err;
}

/**
 * rzs_backing_read_async() - start reading a block, without waiting
 * @b: an open backing device
 * @blk: the block
 * @page: where its PAGE_SIZE bytes go
 * @done: called with the bio when the read completes (interrupt context;
 *	  it owns the bio and must bio_put() it)
 * @private: the bio's bi_private for @done
 *
 * For a read inside a ->submit_bio: the bio is queued on the caller's bio
 * list and starts when that ->submit_bio returns, so many such reads run at
 * once where rzs_backing_read() would run them one after another.
 *
 * Context: process context, may sleep (the bio comes from a mempool).
 */
void rzs_backing_read_async(struct rzs_backing *b, unsigned long blk,
			    struct page *page, bio_end_io_t *done,
			    void *private)
{
	struct bio *bio = bio_alloc(b->bdev, 1, REQ_OP_READ, GFP_NOIO);

	bio->bi_iter.bi_sector = (sector_t)blk << (PAGE_SHIFT - SECTOR_SHIFT);
	__bio_add_page(bio, page, PAGE_SIZE, 0);
	bio->bi_end_io = done;
	bio->bi_private = private;
	submit_bio(bio);
}

/**
 * rzs_backing_write() - write a page to a block
 * @b: the backing device
 * @blk: the block, owned by the caller
 * @page: a whole page
 *
 * Sleeps until the write is done; not to be called from ->submit_bio.
 *
 * Return: 0 or the block layer's error.
 */
int rzs_backing_write(struct rzs_backing *b, unsigned long blk,
		      struct page *page)
{
	return rzs_backing_rw(b, blk, page, REQ_OP_WRITE | REQ_SYNC);
}

/**
 * rzs_backing_show() - the backing device's path for sysfs, or "none"
 * @b: the backing device
 * @buf: sysfs buffer of PAGE_SIZE bytes
 *
 * Return: bytes written, or a negative errno.
 */
ssize_t rzs_backing_show(struct rzs_backing *b, char *buf)
{
	char *p;
	size_t len;

	if (!b->file)
		return sysfs_emit(buf, "none\n");
	p = file_path(b->file, buf, PAGE_SIZE - 1);
	if (IS_ERR(p))
		return PTR_ERR(p);
	len = strlen(p);
	memmove(buf, p, len);
	buf[len++] = '\n';
	return len;
}
