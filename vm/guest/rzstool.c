/*
 * rzstool.c - guest-side helper for the ramzswap hardening tests.
 *
 * Each sub-command does in one process what would otherwise take thousands
 * of ssh round trips under TCG, and prints one JSON line on stdout.
 *
 *   rzstool fiwrite DEV NPAGES SEED [--fail] [--first N]
 *       Write NPAGES pages (content from SEED and the page index) to DEV with
 *       O_DIRECT, one page per pwrite().  With --fail the process marks itself
 *       /proc/thread-self/make-it-fail for the writes only (its memory is
 *       locked and touched first), so fault injection with task-filter hits
 *       the driver's allocations.  Then, unmarked, every failed page is
 *       written again and every page is read back and compared.
 *   rzstool verify DEV NPAGES SEED [--first N]
 *       Read pages back: how many equal their SEED content, how many are all
 *       zero, how many are neither.
 *   rzstool pageout PID SECONDS [--fail]
 *       process_madvise(MADV_PAGEOUT) over PID's large private anonymous
 *       mappings until PID exits or SECONDS pass: reclaim, and so swap-out,
 *       runs in this process's context (marked with --fail).
 *   rzstool sysfuzz SPECFILE [START]
 *       Write malformed values to sysfs files; see the comment above
 *       cmd_sysfuzz().
 *   rzstool openloop PATH SECONDS open|rw [PAGES [FIRST]]
 *       Open (and with rw: write a page with O_DIRECT, read it back,
 *       compare) and close PATH in a loop; count outcomes by errno.  rw uses
 *       pages FIRST .. FIRST + PAGES - 1, one per iteration in turn (give
 *       concurrent writers disjoint ranges).
 *   rzstool readloop DEV NPAGES SECONDS SEED [SEED ...]
 *       Read random pages of the first NPAGES with O_DIRECT for SECONDS;
 *       each must hold its index's content for one of the SEEDs (what
 *       concurrent writers put there): count reads that match, that hold
 *       anything else, and that fail.
 *   rzstool spam SECONDS PATH VALUE [PATH VALUE ...]
 *       Write each VALUE to its PATH in turn, in a loop; count by errno.
 *   rzstool failnth MAX [--from N] [--to N] [--step S] [--stop-kmsg P] [-v] OP [UNDO]
 *       For n = 1.. MAX: fail the n-th fault-injection point of OP (via
 *       /proc/thread-self/fail-nth) until OP completes without reaching it.
 *       OP: w:PATH:VALUE (write), r:PATH (read), m:KO:PARAMS (finit_module).
 *       UNDO after each success: w:PATH:VALUE, hotrm:PATH (write what OP
 *       read to PATH), rmmod:NAME.  --stop-kmsg PATTERN stops the sweep after
 *       the attempt whose kernel log records contain PATTERN.
 *   rzstool points OP [UNDO]
 *       How many fault-injection points OP passes when none fails.
 *   rzstool modfuzz KO MODNAME SPECFILE
 *       finit_module(KO) with each parameter string of SPECFILE (hex lines);
 *       report the errno and whether the module is loaded afterwards.
 *
 * Plain C99 + POSIX + Linux syscalls; built static for i386.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

/* ---- small utilities ------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *errname(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOTTY: return "ENOTTY";
	case EROFS: return "EROFS";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOSYS: return "ENOSYS";
	default:
		snprintf(buf, sizeof(buf), "E%d", e);
		return buf;
	}
}

/* A tiny errno -> count map, printed as a JSON object. */
#define MAXKEYS 24
struct counts {
	int key[MAXKEYS];
	long val[MAXKEYS];
	int n;
};

static void count(struct counts *c, int key)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->key[i] == key) {
			c->val[i]++;
			return;
		}
	if (c->n < MAXKEYS) {
		c->key[c->n] = key;
		c->val[c->n++] = 1;
	}
}

static void print_counts(const char *name, const struct counts *c)
{
	int i;

	printf("\"%s\": {", name);
	for (i = 0; i < c->n; i++)
		printf("%s\"%s\": %ld", i ? ", " : "", errname(c->key[i]), c->val[i]);
	printf("}");
}

static int write_str(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY);
	int err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, len) < 0)
		err = errno;
	close(fd);
	return err;
}

static void die(const char *what)
{
	fprintf(stderr, "rzstool: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* make-it-fail of this thread, through an fd opened once (no allocation later). */
static int mif_fd = -1;

static void mark(int on)
{
	if (mif_fd < 0) {
		mif_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
		if (mif_fd < 0)
			die("open /proc/thread-self/make-it-fail");
	}
	if (pwrite(mif_fd, on ? "1" : "0", 1, 0) != 1)
		die("write make-it-fail");
}

/* ---- page content ----------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

enum pkind { PK_RANDOM, PK_TEXT, PK_ZERO, PK_SAME };

static enum pkind page_kind(uint64_t seed, uint64_t idx)
{
	unsigned k = (unsigned)(mix64(seed * 31 + idx) % 100);

	if (k < 45)
		return PK_RANDOM;
	if (k < 85)
		return PK_TEXT;
	if (k < 95)
		return PK_ZERO;
	return PK_SAME;
}

/* Page @idx of the sequence @seed: random, compressible text, zero or one word. */
static void gen_page(uint64_t seed, uint64_t idx, unsigned char *p)
{
	uint64_t h = mix64(mix64(seed) ^ idx);
	unsigned i;

	switch (page_kind(seed, idx)) {
	case PK_ZERO:
		memset(p, 0, PAGE);
		return;
	case PK_SAME: {
		uint32_t w = (uint32_t)h | 1u;

		for (i = 0; i < PAGE; i += 4)
			memcpy(p + i, &w, 4);
		return;
	}
	case PK_RANDOM:
		for (i = 0; i < PAGE; i += 8) {
			uint64_t r = mix64(h + i);

			memcpy(p + i, &r, 8);
		}
		break;
	case PK_TEXT:
		for (i = 0; i < PAGE; i += 64)
			snprintf((char *)p + i, 65,
				 "rzs-hardening seed %08" PRIx64 " page %010" PRIu64 " off %04u ..........",
				 seed & 0xffffffffu, idx, i);
		break;
	}
	/* A header no other page has: seed and index. */
	memcpy(p, &seed, 8);
	memcpy(p + 8, &idx, 8);
}

static int is_zero(const unsigned char *p)
{
	unsigned i;

	for (i = 0; i < PAGE; i++)
		if (p[i])
			return 0;
	return 1;
}

static unsigned char *page_buf(void)
{
	void *p;

	if (posix_memalign(&p, PAGE, PAGE))
		die("posix_memalign");
	memset(p, 0, PAGE);
	return p;
}

/* ---- fiwrite / verify --------------------------------------------------------- */

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "rzstool: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static int cmd_fiwrite(int argc, char **argv)
{
	long npages, first = 0, i, retry_fail = 0, mismatches = 0, done_first = 0;
	int fail = 0, fd, a;
	uint64_t seed;
	unsigned char *buf, *rbuf, *status;
	struct counts first_errs = { .n = 0 }, retry_errs = { .n = 0 };
	double t0, t1;

	if (argc < 5)
		return 2;
	npages = parse_long(argv[3], "NPAGES");
	seed = (uint64_t)parse_long(argv[4], "SEED");
	for (a = 5; a < argc; a++) {
		if (!strcmp(argv[a], "--fail"))
			fail = 1;
		else if (!strcmp(argv[a], "--first") && a + 1 < argc)
			first = parse_long(argv[++a], "--first");
		else
			return 2;
	}
	fd = open(argv[2], O_RDWR | O_DIRECT);
	if (fd < 0)
		die(argv[2]);
	buf = page_buf();
	rbuf = page_buf();
	status = calloc((size_t)npages, 1);
	if (!status)
		die("calloc");
	memset(status, 0, (size_t)npages);
	if (fail) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE))
			die("mlockall");
		mark(0);
	}
	t0 = now();
	if (fail)
		mark(1);
	for (i = 0; i < npages; i++) {
		gen_page(seed, (uint64_t)(first + i), buf);
		if (pwrite(fd, buf, PAGE, (off_t)(first + i) * PAGE) == (ssize_t)PAGE) {
			done_first++;
			count(&first_errs, 0);
		} else {
			count(&first_errs, errno);
			status[i] = 1;
		}
	}
	if (fail)
		mark(0);
	t1 = now();
	for (i = 0; i < npages; i++) {
		if (!status[i])
			continue;
		gen_page(seed, (uint64_t)(first + i), buf);
		if (pwrite(fd, buf, PAGE, (off_t)(first + i) * PAGE) != (ssize_t)PAGE) {
			count(&retry_errs, errno);
			retry_fail++;
		}
	}
	for (i = 0; i < npages; i++) {
		gen_page(seed, (uint64_t)(first + i), buf);
		if (pread(fd, rbuf, PAGE, (off_t)(first + i) * PAGE) != (ssize_t)PAGE ||
		    memcmp(buf, rbuf, PAGE))
			mismatches++;
	}
	close(fd);
	printf("{\"pages\": %ld, \"written_first\": %ld, \"failed_first\": %ld, ", npages,
	       done_first, npages - done_first);
	print_counts("first", &first_errs);
	printf(", \"retry_failed\": %ld, ", retry_fail);
	print_counts("retry", &retry_errs);
	printf(", \"mismatches\": %ld, \"write_seconds\": %.3f}\n", mismatches, t1 - t0);
	return mismatches || retry_fail ? 1 : 0;
}

static int cmd_verify(int argc, char **argv)
{
	long npages, first = 0, i, match = 0, zero = 0, other = 0, rderr = 0;
	long match_nonzero_kind = 0;
	unsigned char *buf, *rbuf;
	uint64_t seed;
	int fd;

	if (argc < 5)
		return 2;
	npages = parse_long(argv[3], "NPAGES");
	seed = (uint64_t)parse_long(argv[4], "SEED");
	if (argc == 7 && !strcmp(argv[5], "--first"))
		first = parse_long(argv[6], "--first");
	fd = open(argv[2], O_RDONLY | O_DIRECT);
	if (fd < 0)
		die(argv[2]);
	buf = page_buf();
	rbuf = page_buf();
	for (i = 0; i < npages; i++) {
		uint64_t idx = (uint64_t)(first + i);

		if (pread(fd, rbuf, PAGE, (off_t)idx * PAGE) != (ssize_t)PAGE) {
			rderr++;
			continue;
		}
		gen_page(seed, idx, buf);
		/* "zero" counts every page that reads as zeros, matching or not */
		if (is_zero(rbuf))
			zero++;
		if (!memcmp(buf, rbuf, PAGE)) {
			match++;
			if (page_kind(seed, idx) != PK_ZERO)
				match_nonzero_kind++;
		} else if (!is_zero(rbuf)) {
			other++;
		}
	}
	close(fd);
	printf("{\"pages\": %ld, \"match\": %ld, \"match_nonzero_kind\": %ld, \"zero\": %ld, "
	       "\"other\": %ld, \"read_errors\": %ld}\n",
	       npages, match, match_nonzero_kind, zero, other, rderr);
	return 0;
}

/* ---- pageout ----------------------------------------------------------------- */

#define MAXMAPS 64

static int read_maps(int pid, struct iovec *iov)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < MAXMAPS) {
		unsigned long lo, hi, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s%n", &lo, &hi, perms, &off, &pos) < 4)
			continue;
		/* private, writable, anonymous (no path after the inode) */
		while (line[pos] == ' ')
			pos++;
		if (perms[1] != 'w' || perms[3] != 'p' || (line[pos] && line[pos] != '\n' &&
							  strncmp(line + pos, "[heap]", 6)))
			continue;
		if (hi - lo < (1u << 20))
			continue;
		iov[n].iov_base = (void *)lo;
		iov[n].iov_len = hi - lo;
		n++;
	}
	fclose(f);
	return n;
}

static int cmd_pageout(int argc, char **argv)
{
	struct iovec iov[MAXMAPS];
	struct counts errs = { .n = 0 };
	int pid, pidfd, fail = 0, n, i;
	double secs, end;
	long calls = 0, loops = 0;
	unsigned long long bytes = 0;

	if (argc < 4)
		return 2;
	pid = (int)parse_long(argv[2], "PID");
	secs = (double)parse_long(argv[3], "SECONDS");
	if (argc > 4 && !strcmp(argv[4], "--fail"))
		fail = 1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	if (fail) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE))
			die("mlockall");
		mark(0);
	}
	end = now() + secs;
	while (now() < end) {
		n = read_maps(pid, iov);
		if (n < 0)
			break;		/* the target exited */
		loops++;
		for (i = 0; i < n; i += 8) {
			int k = n - i < 8 ? n - i : 8;	/* <= UIO_FASTIOV: no iovec allocation */
			long r;

			if (fail)
				mark(1);
			r = syscall(SYS_process_madvise, pidfd, iov + i, k, MADV_PAGEOUT, 0);
			if (fail)
				mark(0);
			calls++;
			if (r < 0) {
				if (errno == ESRCH)
					goto out;
				count(&errs, errno);
			} else {
				bytes += (unsigned long long)r;
			}
		}
		if (kill(pid, 0) && errno == ESRCH)
			break;
	}
out:
	printf("{\"loops\": %ld, \"calls\": %ld, \"bytes\": %llu, ", loops, calls, bytes);
	print_counts("errors", &errs);
	printf("}\n");
	return 0;
}

/* ---- sysfuzz --------------------------------------------------------------------- */

/*
 * SPECFILE lines:
 *   S <path>            a file read after every write; together the state
 *   W <path> <hex|->    write the bytes (hex; "-" = empty) to path
 * Output, per W line (numbered from 0 among the W lines):
 *   R <idx> <open errno name> <write result> <errno name> <same|changed>
 * A write that changes the state is followed by "C <idx>" and the new state,
 * and the tool stops (exit 3), so the caller can restore and resume from
 * idx + 1 (START).
 */
#define MAXSNAP 16
#define SNAPLEN 4096

static int snapshot(char paths[][256], int n, char *out, size_t outlen)
{
	size_t used = 0;
	int i;

	for (i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY);
		ssize_t r = 0;

		used += (size_t)snprintf(out + used, outlen - used, "%s=", paths[i]);
		if (fd >= 0) {
			r = read(fd, out + used, outlen - used - 2);
			close(fd);
		}
		if (fd < 0 || r < 0)
			used += (size_t)snprintf(out + used, outlen - used, "<%s>", errname(errno));
		else
			used += (size_t)r;
		if (used + 300 >= outlen)
			return -1;
		out[used++] = '\n';
		out[used] = 0;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int cmd_sysfuzz(int argc, char **argv)
{
	static char snaps[MAXSNAP][256];
	static char base[MAXSNAP * SNAPLEN], cur[MAXSNAP * SNAPLEN];
	static char line[3 * 8192];
	static unsigned char val[8192];
	int nsnap = 0, idx = -1, start = 0, have_base = 0;
	FILE *f;

	if (argc < 3)
		return 2;
	if (argc > 3)
		start = (int)parse_long(argv[3], "START");
	f = fopen(argv[2], "r");
	if (!f)
		die(argv[2]);
	while (fgets(line, sizeof(line), f)) {
		char *path, *hex, *nl;
		size_t len = 0;
		ssize_t w;
		int fd, oerr = 0, werr = 0;

		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (line[0] == 'S' && line[1] == ' ') {
			if (nsnap < MAXSNAP && strlen(line + 2) < sizeof(snaps[0]))
				memcpy(snaps[nsnap++], line + 2, strlen(line + 2) + 1);
			continue;
		}
		if (line[0] != 'W' || line[1] != ' ')
			continue;
		idx++;
		if (idx < start)
			continue;
		if (!have_base) {
			if (snapshot(snaps, nsnap, base, sizeof(base)))
				die("snapshot too large");
			have_base = 1;
		}
		path = line + 2;
		hex = strchr(path, ' ');
		if (!hex)
			continue;
		*hex++ = 0;
		if (strcmp(hex, "-")) {
			size_t i;

			for (i = 0; hex[i] && hex[i + 1] && len < sizeof(val); i += 2) {
				int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

				if (hi < 0 || lo < 0)
					break;
				val[len++] = (unsigned char)(hi << 4 | lo);
			}
		}
		w = -2;
		fd = open(path, O_WRONLY);
		if (fd < 0) {
			oerr = errno;
		} else {
			w = write(fd, val, len);
			if (w < 0)
				werr = errno;
			close(fd);
		}
		if (snapshot(snaps, nsnap, cur, sizeof(cur)))
			die("snapshot too large");
		printf("R %d %s %zd %s %s\n", idx, errname(oerr), w, errname(werr),
		       strcmp(base, cur) ? "changed" : "same");
		if (strcmp(base, cur)) {
			printf("C %d\n%s", idx, cur);
			fflush(stdout);
			return 3;
		}
	}
	fclose(f);
	printf("E %d\n", idx + 1);
	return 0;
}

/* ---- openloop / spam ------------------------------------------------------------ */

static int cmd_openloop(int argc, char **argv)
{
	struct counts opens = { .n = 0 }, ios = { .n = 0 };
	long iter = 0, mismatches = 0, pages = 256, first = 0;
	unsigned char *buf, *rbuf;
	double end;
	int rw;

	if (argc < 5)
		return 2;
	end = now() + (double)parse_long(argv[3], "SECONDS");
	rw = !strcmp(argv[4], "rw");
	if (argc > 5)
		pages = parse_long(argv[5], "PAGES");
	if (argc > 6)
		first = parse_long(argv[6], "FIRST");
	buf = page_buf();
	rbuf = page_buf();
	while (now() < end) {
		int fd = open(argv[2], rw ? O_RDWR | O_DIRECT : O_RDONLY);

		iter++;
		count(&opens, fd < 0 ? errno : 0);
		if (fd < 0) {
			usleep(1000);
			continue;
		}
		if (rw) {
			uint64_t idx = (uint64_t)(first + iter % pages);
			uint64_t seed = (uint64_t)getpid() << 20 | (uint64_t)(iter & 0xfffff);
			int e = 0;

			gen_page(seed, idx, buf);
			errno = 0;
			if (pwrite(fd, buf, PAGE, (off_t)idx * PAGE) != (ssize_t)PAGE)
				e = errno ? errno : ENOSPC;
			else if ((errno = 0, pread(fd, rbuf, PAGE, (off_t)idx * PAGE)) != (ssize_t)PAGE)
				e = errno ? errno : ENOSPC;
			else if (memcmp(buf, rbuf, PAGE))
				mismatches++;
			count(&ios, e);
		}
		close(fd);
	}
	printf("{\"iterations\": %ld, ", iter);
	print_counts("open", &opens);
	printf(", ");
	print_counts("io", &ios);
	printf(", \"mismatches\": %ld}\n", mismatches);
	return mismatches ? 1 : 0;
}

#define READLOOP_SEEDS 8

static int cmd_readloop(int argc, char **argv)
{
	long npages, reads = 0, match = 0, other = 0, rderr = 0, first_other = -1;
	uint64_t seeds[READLOOP_SEEDS], rng = 0x9e3779b97f4a7c15ull;
	unsigned char *buf, *rbuf;
	int nseeds, k, fd;
	double end;

	if (argc < 6 || argc - 5 > READLOOP_SEEDS)
		return 2;
	npages = parse_long(argv[3], "NPAGES");
	end = now() + (double)parse_long(argv[4], "SECONDS");
	nseeds = argc - 5;
	for (k = 0; k < nseeds; k++)
		seeds[k] = (uint64_t)parse_long(argv[5 + k], "SEED");
	fd = open(argv[2], O_RDONLY | O_DIRECT);
	if (fd < 0)
		die(argv[2]);
	buf = page_buf();
	rbuf = page_buf();
	while (now() < end) {
		uint64_t idx;

		rng = mix64(rng);
		idx = rng % (uint64_t)npages;
		reads++;
		if (pread(fd, rbuf, PAGE, (off_t)idx * PAGE) != (ssize_t)PAGE) {
			rderr++;
			continue;
		}
		for (k = 0; k < nseeds; k++) {
			gen_page(seeds[k], idx, buf);
			if (!memcmp(buf, rbuf, PAGE))
				break;
		}
		if (k < nseeds) {
			match++;
		} else {
			other++;
			if (first_other < 0)
				first_other = (long)idx;
		}
	}
	close(fd);
	printf("{\"reads\": %ld, \"match\": %ld, \"other\": %ld, \"first_other\": %ld, "
	       "\"read_errors\": %ld}\n", reads, match, other, first_other, rderr);
	return other || rderr ? 1 : 0;
}

static int cmd_spam(int argc, char **argv)
{
	struct counts c[8];
	int npairs, i;
	long iter = 0;
	double end;

	if (argc < 5 || (argc - 3) % 2 || (argc - 3) / 2 > 8)
		return 2;
	npairs = (argc - 3) / 2;
	memset(c, 0, sizeof(c));
	end = now() + (double)parse_long(argv[2], "SECONDS");
	while (now() < end) {
		for (i = 0; i < npairs; i++) {
			const char *v = argv[4 + 2 * i];

			count(&c[i], write_str(argv[3 + 2 * i], v, strlen(v)));
		}
		iter++;
	}
	printf("{\"iterations\": %ld, \"writes\": [", iter);
	for (i = 0; i < npairs; i++) {
		printf("%s{\"path\": \"%s\", \"value\": \"%s\", ", i ? ", " : "", argv[3 + 2 * i],
		       argv[4 + 2 * i]);
		print_counts("result", &c[i]);
		printf("}");
	}
	printf("]}\n");
	return 0;
}

/* ---- failnth ----------------------------------------------------------------------- */

static int nth_fd = -1;

static void set_nth(unsigned n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%u", n);

	if (pwrite(nth_fd, s, (size_t)len, 0) != len)
		die("write fail-nth");
}

static unsigned get_nth(void)
{
	char s[16] = "";

	if (pread(nth_fd, s, sizeof(s) - 1, 0) < 0)
		die("read fail-nth");
	return (unsigned)strtoul(s, NULL, 10);
}

/*
 * Run OP once with the n-th injection point failing; returns 0 or the errno
 * of OP (negative if OP could not be started); *left is what remained of n.
 */
static int run_op_left(const char *op, unsigned n, char *out, size_t outlen, unsigned *left)
{
	char spec[512], *a, *b;
	int fd, err = 0;

	snprintf(spec, sizeof(spec), "%s", op);
	a = strchr(spec, ':');
	if (!a)
		return EINVAL;
	*a++ = 0;
	b = strchr(a, ':');
	if (b)
		*b++ = 0;
	out[0] = 0;
	if (!strcmp(spec, "w") && b) {
		fd = open(a, O_WRONLY);
		if (fd < 0)
			return -errno;
		set_nth(n);
		if (write(fd, b, strlen(b)) < 0)
			err = errno;
	} else if (!strcmp(spec, "r")) {
		ssize_t r;

		fd = open(a, O_RDONLY);
		if (fd < 0)
			return -errno;
		set_nth(n);
		r = read(fd, out, outlen - 1);
		if (r < 0)
			err = errno;
		else
			out[r] = 0;
	} else if (!strcmp(spec, "m")) {
		fd = open(a, O_RDONLY);
		if (fd < 0)
			return -errno;
		set_nth(n);
		if (syscall(SYS_finit_module, fd, b ? b : "", 0))
			err = errno;
	} else {
		return -EINVAL;
	}
	*left = get_nth();
	set_nth(0);
	close(fd);
	return err;
}

static int run_op(const char *op, unsigned n, char *out, size_t outlen, int *fired)
{
	unsigned left = 0;
	int err = run_op_left(op, n, out, outlen, &left);

	*fired = left == 0;
	return err;
}

static int undo(const char *u, const char *out)
{
	char spec[512], *a, *b;

	if (!u)
		return 0;
	snprintf(spec, sizeof(spec), "%s", u);
	a = strchr(spec, ':');
	if (!a)
		return EINVAL;
	*a++ = 0;
	b = strchr(a, ':');
	if (b)
		*b++ = 0;
	if (!strcmp(spec, "w") && b)
		return write_str(a, b, strlen(b));
	if (!strcmp(spec, "hotrm"))
		return write_str(a, out, strlen(out));
	if (!strcmp(spec, "rmmod"))
		return syscall(SYS_delete_module, a, O_NONBLOCK) ? errno : 0;
	return EINVAL;
}

/* Does any new kernel log record (since the last call) contain @pat? */
static int kmsg_has(int fd, const char *pat)
{
	char rec[2048];
	int found = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0) {
			if (errno == EPIPE)	/* overwritten records: go on */
				continue;
			break;		/* EAGAIN: no more */
		}
		rec[r] = 0;
		if (strstr(rec, pat))
			found = 1;
	}
	return found;
}

static int cmd_failnth(int argc, char **argv)
{
	struct counts results = { .n = 0 }, undos = { .n = 0 };
	long max, n, from = 1, to = -1, step = 1, fired_total = 0, attempts = 0;
	int last_err = -1, completed = 0, a, verbose = 0;
	const char *op = NULL, *undo_op = NULL, *stop_pat = NULL;
	int kmsg = -1, stopped = 0;
	char out[256];

	if (argc < 4)
		return 2;
	max = parse_long(argv[2], "MAX");
	for (a = 3; a < argc; a++) {
		if (!strcmp(argv[a], "--stop-kmsg") && a + 1 < argc)
			stop_pat = argv[++a];
		else if (!strcmp(argv[a], "--from") && a + 1 < argc)
			from = parse_long(argv[++a], "--from");
		else if (!strcmp(argv[a], "--to") && a + 1 < argc)
			to = parse_long(argv[++a], "--to");
		else if (!strcmp(argv[a], "--step") && a + 1 < argc)
			step = parse_long(argv[++a], "--step");
		else if (!strcmp(argv[a], "-v"))
			verbose = 1;
		else if (!op)
			op = argv[a];
		else if (!undo_op)
			undo_op = argv[a];
		else
			return 2;
	}
	if (!op || step < 1 || from < 1)
		return 2;
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		die("open /proc/thread-self/fail-nth");
	if (stop_pat) {
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0)
			die("/dev/kmsg");
	}
	for (n = from; n <= max && (to < 0 || n <= to); n += step) {
		int fired = 0;
		int err = run_op(op, (unsigned)n, out, sizeof(out), &fired);

		if (err < 0) {
			fprintf(stderr, "rzstool: failnth: cannot run %s: %s\n", op, strerror(-err));
			return 2;
		}
		attempts++;
		count(&results, err);
		fired_total += fired;
		last_err = err;
		if (verbose)
			fprintf(stderr, "n=%ld fired=%d result=%s\n", n, fired, errname(err));
		if (!err)
			count(&undos, undo(undo_op, out));
		if (!fired) {
			completed = 1;
			break;
		}
		if (kmsg >= 0 && kmsg_has(kmsg, stop_pat)) {
			stopped = 1;
			break;
		}
	}
	printf("{\"attempts\": %ld, \"injected\": %ld, \"completed\": %s, \"stopped\": %s, "
	       "\"last_n\": %ld, \"last\": \"%s\", ", attempts, fired_total,
	       completed ? "true" : "false", stopped ? "true" : "false", n, errname(last_err));
	print_counts("results", &results);
	printf(", ");
	print_counts("undo", &undos);
	printf("}\n");
	return 0;
}

static int cmd_points(int argc, char **argv)
{
	char out[256];
	unsigned left = 0;
	int err;

	if (argc < 3)
		return 2;
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		die("open /proc/thread-self/fail-nth");
	/* run_op() reads fail-nth back before resetting it: capture it there */
	err = run_op_left(argv[2], 1000000u, out, sizeof(out), &left);
	if (err < 0)
		return 2;
	if (!err)
		undo(argc > 3 ? argv[3] : NULL, out);
	printf("{\"points\": %u, \"result\": \"%s\"}\n", 1000000u - left, errname(err));
	return 0;
}

/* ---- modfuzz ----------------------------------------------------------------------- */

/*
 * SPECFILE: one parameter string per line, hex ("-" = empty).  For each,
 * finit_module(KO, params); print "M <idx> <errno name> <loaded 0|1>" and
 * unload the module if it loaded.
 */
static int cmd_modfuzz(int argc, char **argv)
{
	static char line[4 * 8192], params[8192];
	const char *name;
	int idx = 0;
	FILE *f;

	if (argc < 5)
		return 2;
	name = argv[3];
	f = fopen(argv[4], "r");
	if (!f)
		die(argv[4]);
	while (fgets(line, sizeof(line), f)) {
		size_t i, len = 0;
		int fd, err = 0, loaded;
		char sysmod[128];

		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "-"))
			for (i = 0; line[i] && line[i + 1] && len + 1 < sizeof(params); i += 2)
				params[len++] = (char)(hexval(line[i]) << 4 | hexval(line[i + 1]));
		params[len] = 0;
		fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			die(argv[2]);
		if (syscall(SYS_finit_module, fd, params, 0))
			err = errno;
		close(fd);
		snprintf(sysmod, sizeof(sysmod), "/sys/module/%s/initstate", name);
		loaded = access(sysmod, F_OK) == 0;
		printf("M %d %s %d\n", idx++, errname(err), loaded);
		if (loaded && syscall(SYS_delete_module, name, O_NONBLOCK))
			die("delete_module");
	}
	fclose(f);
	return 0;
}

/* ---------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: rzstool fiwrite DEV NPAGES SEED [--fail] [--first N]\n"
		"       rzstool verify DEV NPAGES SEED [--first N]\n"
		"       rzstool pageout PID SECONDS [--fail]\n"
		"       rzstool sysfuzz SPECFILE [START]\n"
		"       rzstool openloop PATH SECONDS open|rw [PAGES [FIRST]]\n"
		"       rzstool readloop DEV NPAGES SECONDS SEED [SEED ...]\n"
		"       rzstool spam SECONDS PATH VALUE [PATH VALUE ...]\n"
		"       rzstool failnth MAX [--from N] [--to N] [--step S] [--stop-kmsg P] [-v]\n"
		"                       OP [UNDO]\n"
		"       rzstool points OP [UNDO]\n"
		"       rzstool modfuzz KO MODNAME SPECFILE\n");
}

int main(int argc, char **argv)
{
	int r = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "fiwrite"))
		r = cmd_fiwrite(argc, argv);
	else if (!strcmp(argv[1], "verify"))
		r = cmd_verify(argc, argv);
	else if (!strcmp(argv[1], "pageout"))
		r = cmd_pageout(argc, argv);
	else if (!strcmp(argv[1], "sysfuzz"))
		r = cmd_sysfuzz(argc, argv);
	else if (!strcmp(argv[1], "openloop"))
		r = cmd_openloop(argc, argv);
	else if (!strcmp(argv[1], "readloop"))
		r = cmd_readloop(argc, argv);
	else if (!strcmp(argv[1], "spam"))
		r = cmd_spam(argc, argv);
	else if (!strcmp(argv[1], "failnth"))
		r = cmd_failnth(argc, argv);
	else if (!strcmp(argv[1], "points"))
		r = cmd_points(argc, argv);
	else if (!strcmp(argv[1], "modfuzz"))
		r = cmd_modfuzz(argc, argv);
	if (r == 2)
		usage();
	return r;
}
