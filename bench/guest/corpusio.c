/*
 * corpusio.c - the benchmark corpus, and block I/O that carries it.
 *
 *   corpusio build OUT MIB SEED BINLIST LIBLIST TEXTLIST
 *       Write MIB MiB of pages to OUT.  Each page's kind is chosen by a hash
 *       of (SEED, page index), per mille: 60 zero, 25 same-filled (one
 *       repeated nonzero 32-bit word), 40 random (incompressible), 200 text,
 *       300 program, 375 library.  Text, program and library pages are the
 *       next 4096 bytes of the concatenation of the files named in TEXTLIST,
 *       BINLIST and LIBLIST (one path a line, in the order given; the stream
 *       starts over when a list is used up).  Prints one JSON line.
 *
 *   corpusio io DEV CORPUS read|write seq|rand JOBS SECONDS
 *       JOBS processes do 4096-byte O_DIRECT preads or pwrites on DEV for
 *       SECONDS.  seq: job j walks its own slice of the device in order;
 *       rand: uniformly random pages of the whole device.  A write of
 *       device page d carries corpus page d (seq) or a random corpus page
 *       (rand), so a compressing device sees the corpus.  Prints one JSON
 *       line (operations, bytes, seconds, MiB/s, IOPS).  No per-operation
 *       latency: a guest under QEMU TCG may keep time in 4 ms jiffies.
 *
 * Plain C99 + POSIX (+ O_DIRECT); built static for i386 by bench/guestprog.py.
 */
#define _GNU_SOURCE 1 /* O_DIRECT */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_JOBS 16

enum kind { K_ZERO, K_SAME, K_RANDOM, K_TEXT, K_BIN, K_LIB, NKINDS };

static const char *const kind_names[NKINDS] = {
	"zero", "same", "random", "text", "program", "library"
};

/* Upper bounds of each kind's share, per mille, cumulative. */
static const unsigned kind_upto[NKINDS] = { 60, 85, 125, 325, 625, 1000 };

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "corpusio: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- build ------------------------------------------------------------- */

struct stream {
	char **paths;
	size_t npaths;
	size_t next;		/* next path to open */
	FILE *cur;
	uint64_t bytes;		/* bytes taken so far */
	unsigned wraps;		/* times the list was started over */
	size_t files_used;
};

static void stream_load(struct stream *s, const char *list)
{
	FILE *f = fopen(list, "r");
	char line[4096];
	size_t cap = 0;

	if (!f)
		die(list);
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");

		line[n] = '\0';
		if (!n)
			continue;
		if (s->npaths == cap) {
			cap = cap ? 2 * cap : 256;
			s->paths = realloc(s->paths, cap * sizeof(*s->paths));
			if (!s->paths)
				die("realloc");
		}
		s->paths[s->npaths] = strdup(line);
		if (!s->paths[s->npaths++])
			die("strdup");
	}
	fclose(f);
	if (!s->npaths) {
		fprintf(stderr, "corpusio: %s lists no files\n", list);
		exit(2);
	}
}

/* The next PAGE bytes of the stream's files, concatenated and repeated. */
static void stream_page(struct stream *s, unsigned char *page)
{
	size_t got = 0;
	size_t empty_opens = 0;

	while (got < PAGE) {
		size_t n;

		if (!s->cur) {
			if (s->next == s->npaths) {
				s->next = 0;
				s->wraps++;
			}
			s->cur = fopen(s->paths[s->next++], "rb");
			if (!s->cur) {
				if (++empty_opens > 2 * s->npaths) {
					fprintf(stderr, "corpusio: no readable data in a list\n");
					exit(2);
				}
				continue;
			}
			if (!s->wraps)
				s->files_used++;
		}
		n = fread(page + got, 1, PAGE - got, s->cur);
		got += n;
		if (got < PAGE) {
			fclose(s->cur);
			s->cur = NULL;
			if (!n && ++empty_opens > 2 * s->npaths) {
				fprintf(stderr, "corpusio: no readable data in a list\n");
				exit(2);
			}
		}
	}
	s->bytes += PAGE;
}

static enum kind page_kind(uint64_t seed, uint64_t index)
{
	unsigned v = (unsigned)(mix64(mix64(seed) + index) % 1000u);
	int k;

	for (k = 0; k < NKINDS - 1; k++)
		if (v < kind_upto[k])
			break;
	return (enum kind)k;
}

static void fill_same(unsigned char *page, uint64_t h)
{
	uint32_t w = (uint32_t)h | 1u;
	unsigned i;

	for (i = 0; i < PAGE; i += 4)
		memcpy(page + i, &w, 4);
}

static void fill_random(unsigned char *page, uint64_t h)
{
	unsigned i;

	for (i = 0; i < PAGE; i += 8) {
		uint64_t v = mix64(h + i);

		memcpy(page + i, &v, 8);
	}
}

static int cmd_build(int argc, char **argv)
{
	struct stream streams[3];	/* text, program, library */
	uint64_t counts[NKINDS] = { 0 };
	unsigned char page[PAGE];
	uint64_t mib, seed, pages, i;
	FILE *out;
	double t0 = now();
	int k;

	if (argc != 8) {
		fprintf(stderr, "usage: corpusio build OUT MIB SEED BINLIST LIBLIST TEXTLIST\n");
		return 2;
	}
	mib = strtoull(argv[3], NULL, 0);
	seed = strtoull(argv[4], NULL, 0);
	stream_load(&streams[1], argv[5]);
	stream_load(&streams[2], argv[6]);
	stream_load(&streams[0], argv[7]);
	out = fopen(argv[2], "wb");
	if (!out)
		die(argv[2]);
	pages = mib * (1u << 20) / PAGE;
	for (i = 0; i < pages; i++) {
		enum kind kind = page_kind(seed, i);
		uint64_t h = mix64(seed ^ mix64(i + 0x5eed));

		switch (kind) {
		case K_ZERO:
			memset(page, 0, PAGE);
			break;
		case K_SAME:
			fill_same(page, h);
			break;
		case K_RANDOM:
			fill_random(page, h);
			break;
		default:
			stream_page(&streams[kind - K_TEXT], page);
			break;
		}
		counts[kind]++;
		if (fwrite(page, PAGE, 1, out) != 1)
			die("write");
	}
	if (fclose(out))
		die("close");
	printf("{\"pages\":%" PRIu64 ",\"mib\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"kinds\":{",
	       pages, mib, seed);
	for (k = 0; k < NKINDS; k++)
		printf("%s\"%s\":%" PRIu64, k ? "," : "", kind_names[k], counts[k]);
	printf("},\"sources\":{");
	for (k = 0; k < 3; k++)
		printf("%s\"%s\":{\"files_listed\":%zu,\"files_used\":%zu,\"bytes\":%" PRIu64
		       ",\"wraps\":%u}", k ? "," : "", kind_names[K_TEXT + k], streams[k].npaths,
		       streams[k].files_used, streams[k].bytes, streams[k].wraps);
	printf("},\"seconds\":%.3f}\n", now() - t0);
	return 0;
}

/* ---- io ------------------------------------------------------------------ */

struct job_result {
	uint64_t ops;
	double seconds;
};

static void run_job(int j, int jobs, const char *dev, const unsigned char *corpus,
		    uint64_t cpages, int write, int seq, double seconds,
		    struct job_result *res)
{
	int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	uint64_t dpages, first, span, pos = 0, rng = mix64((uint64_t)j + 1);
	unsigned char *buf;
	double t0, t, deadline;
	unsigned iter = 0;
	off_t size;

	if (fd < 0)
		die(dev);
	size = lseek(fd, 0, SEEK_END);
	if (size < (off_t)PAGE)
		die("device size");
	dpages = (uint64_t)size / PAGE;
	first = dpages * (uint64_t)j / (uint64_t)jobs;
	span = dpages * (uint64_t)(j + 1) / (uint64_t)jobs - first;
	if (posix_memalign((void **)&buf, PAGE, PAGE))
		die("posix_memalign");
	memset(buf, 0, PAGE);
	t0 = now();
	deadline = t0 + seconds;
	t = t0;
	while (t < deadline) {
		uint64_t d, c;
		ssize_t n;

		if (seq) {
			d = first + pos;
			pos = (pos + 1) % span;
			c = d % cpages;
		} else {
			rng = mix64(rng);
			d = rng % dpages;
			c = (rng >> 32) % cpages;
		}
		if (write) {
			memcpy(buf, corpus + c * PAGE, PAGE);
			n = pwrite(fd, buf, PAGE, (off_t)(d * PAGE));
		} else {
			n = pread(fd, buf, PAGE, (off_t)(d * PAGE));
		}
		if (n != (ssize_t)PAGE)
			die(write ? "pwrite" : "pread");
		res->ops++;
		if (++iter % 16 == 0)
			t = now();
	}
	res->seconds = now() - t0;
	close(fd);
	free(buf);
}

static int cmd_io(int argc, char **argv)
{
	struct job_result *res;
	const unsigned char *corpus;
	uint64_t ops = 0, cpages;
	double seconds, secs = 0;
	int jobs, write, seq, j, cfd;
	struct stat st;

	if (argc != 8) {
		fprintf(stderr, "usage: corpusio io DEV CORPUS read|write seq|rand JOBS SECONDS\n");
		return 2;
	}
	write = !strcmp(argv[4], "write");
	seq = !strcmp(argv[5], "seq");
	jobs = atoi(argv[6]);
	seconds = atof(argv[7]);
	if (jobs < 1 || jobs > MAX_JOBS || seconds <= 0) {
		fprintf(stderr, "corpusio: bad JOBS or SECONDS\n");
		return 2;
	}
	cfd = open(argv[3], O_RDONLY);
	if (cfd < 0 || fstat(cfd, &st))
		die(argv[3]);
	cpages = (uint64_t)st.st_size / PAGE;
	if (!cpages) {
		fprintf(stderr, "corpusio: corpus is shorter than a page\n");
		return 2;
	}
	corpus = mmap(NULL, (size_t)(cpages * PAGE), PROT_READ, MAP_SHARED, cfd, 0);
	if (corpus == MAP_FAILED)
		die("mmap corpus");
	res = mmap(NULL, sizeof(*res) * (size_t)jobs, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap results");
	for (j = 0; j < jobs; j++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			run_job(j, jobs, argv[2], corpus, cpages, write, seq, seconds, &res[j]);
			_exit(0);
		}
	}
	for (j = 0; j < jobs; j++) {
		int status;

		if (wait(&status) < 0)
			die("wait");
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "corpusio: a job failed\n");
			return 2;
		}
	}
	for (j = 0; j < jobs; j++) {
		ops += res[j].ops;
		if (res[j].seconds > secs)
			secs = res[j].seconds;
	}
	printf("{\"rw\":\"%s\",\"pattern\":\"%s\",\"jobs\":%d,\"bs\":%u,\"ops\":%" PRIu64
	       ",\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"mib_s\":%.2f,\"iops\":%.1f}\n",
	       write ? "write" : "read", seq ? "seq" : "rand", jobs, PAGE, ops,
	       ops * PAGE, secs, secs > 0 ? (double)(ops * PAGE) / (1 << 20) / secs : 0.0,
	       secs > 0 ? (double)ops / secs : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "build"))
		return cmd_build(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "io"))
		return cmd_io(argc, argv);
	fprintf(stderr, "usage: corpusio build|io ...  (see the comment at the top of corpusio.c)\n");
	return 2;
}
