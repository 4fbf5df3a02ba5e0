/*
 * hog.c - page-integrity hog for ramzswap tests.
 *
 * Allocates N MiB of anonymous memory, fills every 4096-byte page with
 * content derived only from (seed, page index), then re-reads every page,
 * regenerating the expected content, and counts the pages that differ.
 * The test harness sizes N above the guest's free RAM so the kernel has to
 * swap the pages out and back in between the write and the verify; with
 * --pageout the hog also asks the kernel to page its memory out itself
 * (madvise MADV_PAGEOUT, Linux >= 5.4) before every verify pass.  With
 * --hold PATH it stops after the first page-out, creates PATH.held, and
 * waits for PATH to exist before verifying: a test acts on the swapped-out
 * pages (writeback, recompression) while the hog keeps them.
 *
 * Page kinds (see usage()):
 *   zero    all zero
 *   same    one repeated nonzero 32-bit word
 *   text    English-like ASCII text from a built-in word list
 *   binary  struct/code-like data: small integers, pointers, flags
 *   random  incompressible (xorshift128)
 *   mixed   per-page kind, proportions close to Android's page mix
 *
 * Exit status: 0 no mismatches, 1 mismatches, 2 usage or allocation error.
 * Plain C99 + POSIX; built static for i386 by vm/guest_build.py.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS and madvise() under -std=c99 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PAGE_BYTES 4096u
#define PAGE_WORDS (PAGE_BYTES / 4u)
#define PAGES_PER_MIB 256u
#define CHUNK_PAGES 16384u /* one mmap() per 64 MiB: fits a fragmented i386 address space */
#define MAX_MIB (1u << 20)
#define MAX_REPORTED 10 /* mismatching pages described on stderr per pass */
#define BINARY_REPEAT_IN_16 4 /* binary: records out of 16 that repeat an earlier one */
#define TEXT_REPEAT_IN_64 11 /* text: picks out of 64 that repeat an earlier phrase */

enum kind { KIND_ZERO, KIND_SAME, KIND_TEXT, KIND_BINARY, KIND_RANDOM, NKINDS, KIND_MIXED };

static const char *const kind_names[] = { "zero", "same", "text", "binary", "random" };

/*
 * Mixed page mix, per mille.  Android's published measurements put about 6%
 * of anonymous pages at zero and 2.5% at one repeated value; the rest is split
 * between text-like, binary-like and a little incompressible data.
 */
static const unsigned mixed_per_mille[NKINDS] = { 60, 25, 450, 365, 100 };

/*
 * The mix in use: mixed_per_mille, or with --random-pct P the random share
 * set to P% and the other kinds scaled to the rest (text takes the rounding).
 */
static unsigned mix_per_mille[NKINDS] = { 60, 25, 450, 365, 100 };

static void set_random_share(unsigned pct)
{
	unsigned rest = 1000 - 10 * pct, base = 1000 - mixed_per_mille[KIND_RANDOM];
	unsigned k, sum = 0;

	for (k = 0; k < KIND_RANDOM; k++) {
		mix_per_mille[k] = mixed_per_mille[k] * rest / base;
		sum += mix_per_mille[k];
	}
	mix_per_mille[KIND_TEXT] += rest - sum;
	mix_per_mille[KIND_RANDOM] = 10 * pct;
}

/* Independent hash streams, so a page's kind and its content are unrelated. */
#define STREAM_KIND 0x4b494e44u
#define STREAM_DATA 0x44415441u

/* ---- hashing and PRNG ---------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t page_hash(uint64_t seed, uint64_t index, uint32_t stream)
{
	return mix64(mix64(seed ^ ((uint64_t)stream << 32)) + index);
}

struct rng {
	uint32_t x, y, z, w;
};

static void rng_init(struct rng *r, uint64_t h)
{
	uint64_t h2 = mix64(h);

	r->x = (uint32_t)h;
	r->y = (uint32_t)(h >> 32);
	r->z = (uint32_t)h2;
	r->w = (uint32_t)(h2 >> 32) | 1u; /* never the all-zero state */
}

/* Marsaglia's xorshift128: 32-bit arithmetic only, cheap on i386 under TCG. */
static inline uint32_t rng_next(struct rng *r)
{
	uint32_t t = r->x ^ (r->x << 11);

	r->x = r->y;
	r->y = r->z;
	r->z = r->w;
	r->w = r->w ^ (r->w >> 19) ^ t ^ (t >> 8);
	return r->w;
}

/* ---- page generators ----------------------------------------------------- */

struct word {
	char s[12]; /* NUL padded: fill_text copies 8 bytes at once */
	unsigned char len;
};

#define W(s) { s, sizeof(s) - 1 }
/* 256 common English words, most frequent first (the index is skewed low). */
static const struct word words[256] = {
	W("the"), W("of"), W("and"), W("to"), W("a"), W("in"), W("is"), W("it"),
	W("you"), W("that"), W("he"), W("was"), W("for"), W("on"), W("are"), W("with"),
	W("as"), W("his"), W("they"), W("be"), W("at"), W("one"), W("have"), W("this"),
	W("from"), W("or"), W("had"), W("by"), W("hot"), W("word"), W("but"), W("what"),
	W("some"), W("we"), W("can"), W("out"), W("other"), W("were"), W("all"), W("there"),
	W("when"), W("up"), W("use"), W("your"), W("how"), W("said"), W("an"), W("each"),
	W("she"), W("which"), W("do"), W("their"), W("time"), W("if"), W("will"), W("way"),
	W("about"), W("many"), W("then"), W("them"), W("write"), W("would"), W("like"), W("so"),
	W("these"), W("her"), W("long"), W("make"), W("thing"), W("see"), W("him"), W("two"),
	W("has"), W("look"), W("more"), W("day"), W("could"), W("go"), W("come"), W("did"),
	W("number"), W("sound"), W("no"), W("most"), W("people"), W("my"), W("over"), W("know"),
	W("water"), W("than"), W("call"), W("first"), W("who"), W("may"), W("down"), W("side"),
	W("been"), W("now"), W("find"), W("any"), W("new"), W("work"), W("part"), W("take"),
	W("get"), W("place"), W("made"), W("live"), W("where"), W("after"), W("back"), W("little"),
	W("only"), W("round"), W("man"), W("year"), W("came"), W("show"), W("every"), W("good"),
	W("me"), W("give"), W("our"), W("under"), W("name"), W("very"), W("through"), W("just"),
	W("form"), W("sentence"), W("great"), W("think"), W("say"), W("help"), W("low"), W("line"),
	W("differ"), W("turn"), W("cause"), W("much"), W("mean"), W("before"), W("move"), W("right"),
	W("boy"), W("old"), W("too"), W("same"), W("tell"), W("does"), W("set"), W("three"),
	W("want"), W("air"), W("well"), W("also"), W("play"), W("small"), W("end"), W("put"),
	W("home"), W("read"), W("hand"), W("port"), W("large"), W("spell"), W("add"), W("even"),
	W("land"), W("here"), W("must"), W("big"), W("high"), W("such"), W("follow"), W("act"),
	W("why"), W("ask"), W("men"), W("change"), W("went"), W("light"), W("kind"), W("off"),
	W("need"), W("house"), W("picture"), W("try"), W("us"), W("again"), W("animal"), W("point"),
	W("mother"), W("world"), W("near"), W("build"), W("self"), W("earth"), W("father"), W("head"),
	W("stand"), W("own"), W("page"), W("should"), W("country"), W("found"), W("answer"), W("school"),
	W("grow"), W("study"), W("still"), W("learn"), W("plant"), W("cover"), W("food"), W("sun"),
	W("four"), W("between"), W("state"), W("keep"), W("eye"), W("never"), W("last"), W("let"),
	W("thought"), W("city"), W("tree"), W("cross"), W("farm"), W("hard"), W("start"), W("might"),
	W("story"), W("saw"), W("far"), W("sea"), W("draw"), W("left"), W("late"), W("run"),
	W("while"), W("press"), W("close"), W("night"), W("real"), W("life"), W("few"), W("north"),
	W("open"), W("seem"), W("together"), W("next"), W("white"), W("children"), W("begin"), W("got"),
};
#undef W

static uint32_t same_word(uint64_t h)
{
	uint32_t v = (uint32_t)(h >> 16);

	return v ? v : 0x5a5a5a5au;
}

/*
 * Text: words picked with a skew towards the frequent ones (the product of two
 * uniform bytes), sentences with capitals and punctuation, lines of about 70
 * columns; about one pick in five repeats a phrase from earlier in the page,
 * as real prose repeats itself.  Pure word salad packs to only ~1.5x with
 * LZO; with the repeats it packs to about 2.4x (see tests/unit/test_hog.py).
 * Generated into a buffer with slack so each word is one fixed 8-byte copy.
 */
/* slack: the last repeat (<= 75 bytes) or word (8) and a separator may overrun */
static unsigned char text_buf[PAGE_BYTES + 128];

static void fill_text(unsigned char *out, struct rng *r)
{
	unsigned char *p = text_buf;
	unsigned pos = 0, col = 0;
	int cap = 1;

	while (pos < PAGE_BYTES) {
		uint32_t v = rng_next(r);
		unsigned sel = v >> 26; /* 0..63 */

		if (sel < TEXT_REPEAT_IN_64 && pos >= 256) {
			/* repeat 12..75 bytes from anywhere earlier in the page */
			unsigned len = 12 + ((v >> 12) & 63u);
			unsigned src = (unsigned)(((v & 0xfffu) * (pos - 64)) >> 12);
			unsigned i;

			for (i = 0; i < len; i++)
				p[pos + i] = p[src + i];
			pos += len;
			col += len;
		} else {
			const struct word *w = &words[((v & 0xffu) * ((v >> 8) & 0xffu)) >> 8];

			memcpy(p + pos, w->s, 8);
			if (cap) {
				p[pos] = (unsigned char)(p[pos] - ('a' - 'A'));
				cap = 0;
			}
			pos += w->len;
			col += w->len;
			if (sel >= 58) {
				p[pos++] = '.';
				cap = 1;
			} else if (sel >= 54) {
				p[pos++] = ',';
			}
		}
		if (col >= 68) {
			p[pos++] = '\n';
			col = 0;
		} else {
			p[pos++] = ' ';
			col++;
		}
	}
	memcpy(out, p, PAGE_BYTES);
}

/*
 * Binary: 32-byte records like a kernel or C++ heap object array: a sequence
 * number, a pointer into one region, a small type and flags, a length, a
 * random cookie and padding.  A quarter of the records are x86
 * prologue-like byte runs with random immediates, and some records repeat an
 * earlier one with a new sequence number, as arrays of similar objects do.
 * LZO packs it to about 1.7x (see tests/unit/test_hog.py).
 */
static void fill_binary(uint32_t *p, struct rng *r)
{
	uint32_t base = 0xc1000000u | ((rng_next(r) & 0xffu) << 16);
	uint32_t seq = rng_next(r) & 0xffffu;
	unsigned i;

	for (i = 0; i < PAGE_WORDS; i += 8) {
		uint32_t a = rng_next(r), b = rng_next(r), c = rng_next(r);

		if (i >= 32 && (a >> 28) < BINARY_REPEAT_IN_16) {
			/* an earlier record (1..4 back), with the next sequence number */
			unsigned from = i - 8 * (1 + ((a >> 26) & 3u));

			memcpy(p + i, p + from, 32);
			p[i] = seq++;
		} else if ((a & 3u) == 0) {
			/* push ebp; mov ebp,esp; sub esp,imm8; mov eax,[ebp+imm8]; call rel32 */
			p[i + 0] = 0x83e58955u;
			p[i + 1] = 0x458b00ecu | ((b & 0x3cu) << 16);
			p[i + 2] = 0x00e80008u | ((a & 0x1cu) << 8);
			p[i + 3] = 0xfff00000u | (b & 0xfffffu); /* near call */
			p[i + 4] = 0x8b55c3c9u ^ (c & 0x00000100u);
			p[i + 5] = c & 0xffffu;
			p[i + 6] = 0x00000000u;
			p[i + 7] = (a >> 8) & 0xffffu;
		} else {
			p[i + 0] = seq++;
			p[i + 1] = base | (a & 0xfff0u);
			p[i + 2] = (a >> 16) & 0x7u;
			p[i + 3] = (a >> 20) & 0x30u;
			p[i + 4] = b;
			p[i + 5] = (b >> 8) & 0x3ffu;
			p[i + 6] = c & 0x0fff00ffu;
			p[i + 7] = 0;
		}
	}
}

static void fill_random(uint32_t *p, struct rng *r)
{
	unsigned i;

	for (i = 0; i < PAGE_WORDS; i++)
		p[i] = rng_next(r);
}

static enum kind page_kind(enum kind chosen, uint64_t seed, uint64_t index)
{
	unsigned v, k;

	if (chosen != KIND_MIXED)
		return chosen;
	v = (unsigned)(page_hash(seed, index, STREAM_KIND) % 1000u);
	for (k = 0; k < NKINDS - 1; k++) {
		if (v < mix_per_mille[k])
			break;
		v -= mix_per_mille[k];
	}
	return (enum kind)k;
}

/* Writes the content of page @index of kind @k to @p (4096 bytes, 4-aligned). */
static void fill_page(void *p, enum kind k, uint64_t seed, uint64_t index)
{
	uint64_t h = page_hash(seed, index, STREAM_DATA);
	struct rng r;
	uint32_t *w = p;
	unsigned i;

	switch (k) {
	case KIND_ZERO:
		memset(p, 0, PAGE_BYTES);
		return;
	case KIND_SAME: {
		uint32_t v = same_word(h);

		for (i = 0; i < PAGE_WORDS; i++)
			w[i] = v;
		return;
	}
	default:
		break;
	}
	rng_init(&r, h);
	if (k == KIND_TEXT)
		fill_text(p, &r);
	else if (k == KIND_BINARY)
		fill_binary(w, &r);
	else
		fill_random(w, &r);
}

static uint32_t expected_buf[PAGE_WORDS];

/* Returns the offset of the first differing byte, or -1 if the page is intact. */
static long check_page(const void *p, enum kind k, uint64_t seed, uint64_t index)
{
	const uint32_t *w = p;
	const unsigned char *b = p;
	const unsigned char *e = (const unsigned char *)expected_buf;
	unsigned i;

	if (k == KIND_ZERO) {
		uint32_t acc = 0;

		for (i = 0; i < PAGE_WORDS; i++)
			acc |= w[i];
		if (acc == 0)
			return -1;
		memset(expected_buf, 0, PAGE_BYTES);
	} else if (k == KIND_SAME) {
		uint32_t v = same_word(page_hash(seed, index, STREAM_DATA));

		for (i = 0; i < PAGE_WORDS; i++)
			if (w[i] != v)
				break;
		if (i == PAGE_WORDS)
			return -1;
		fill_page(expected_buf, k, seed, index);
	} else {
		fill_page(expected_buf, k, seed, index);
		if (memcmp(p, expected_buf, PAGE_BYTES) == 0)
			return -1;
	}
	for (i = 0; i < PAGE_BYTES; i++)
		if (b[i] != e[i])
			return (long)i;
	return -1; /* not reached */
}

/* zlib-compatible CRC-32, for --dump-page. */
static uint32_t crc32_bytes(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int j;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (j = 0; j < 8; j++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* ---- memory ---------------------------------------------------------------- */

struct arena {
	unsigned char **chunks;
	uint64_t nchunks;
	uint64_t pages;
};

static uint64_t chunk_pages(const struct arena *a, uint64_t c)
{
	uint64_t left = a->pages - c * CHUNK_PAGES;

	return left < CHUNK_PAGES ? left : CHUNK_PAGES;
}

static void arena_free(struct arena *a)
{
	uint64_t c;

	for (c = 0; c < a->nchunks; c++)
		if (a->chunks[c])
			munmap(a->chunks[c], (size_t)chunk_pages(a, c) * PAGE_BYTES);
	free(a->chunks);
	a->chunks = NULL;
}

static int arena_map(struct arena *a, uint64_t mib)
{
	uint64_t c;

	a->pages = mib * PAGES_PER_MIB;
	a->nchunks = (a->pages + CHUNK_PAGES - 1) / CHUNK_PAGES;
	if (a->nchunks > SIZE_MAX / sizeof(*a->chunks)) {
		fprintf(stderr, "hog: --mib %" PRIu64 " is too large for this process\n", mib);
		return -1;
	}
	a->chunks = calloc((size_t)a->nchunks, sizeof(*a->chunks));
	if (!a->chunks) {
		fprintf(stderr, "hog: out of memory for the chunk table\n");
		return -1;
	}
	for (c = 0; c < a->nchunks; c++) {
		size_t len = (size_t)chunk_pages(a, c) * PAGE_BYTES;
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED) {
			int err = errno;

			fprintf(stderr,
				"hog: cannot map %" PRIu64 " MiB: mmap failed after %" PRIu64
				" MiB (%s)\n",
				mib, c * CHUNK_PAGES / PAGES_PER_MIB, strerror(err));
			if (sizeof(void *) == 4)
				fprintf(stderr,
					"hog: a 32-bit process has about 3 GiB of address space; "
					"run several hogs to use more memory (or check ulimit -v)\n");
			else
				fprintf(stderr, "hog: check overcommit settings and ulimit -v\n");
			arena_free(a);
			return -1;
		}
		a->chunks[c] = m;
	}
	return 0;
}

static int arena_pageout(const struct arena *a)
{
	uint64_t c;

	for (c = 0; c < a->nchunks; c++) {
		if (madvise(a->chunks[c], (size_t)chunk_pages(a, c) * PAGE_BYTES, MADV_PAGEOUT)) {
			fprintf(stderr,
				"hog: madvise(MADV_PAGEOUT) failed: %s (needs Linux >= 5.4 "
				"and CONFIG_ADVISE_SYSCALLS)\n",
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* --hold: announce PATH.held, then poll for PATH every 50 ms. */
static int hold(const char *path)
{
	const struct timespec tick = { 0, 50 * 1000 * 1000 };
	char held[4100];
	struct stat st;
	FILE *f;

	snprintf(held, sizeof(held), "%s.held", path);
	f = fopen(held, "w");
	if (!f || fclose(f)) {
		fprintf(stderr, "hog: cannot create %s: %s\n", held, strerror(errno));
		return -1;
	}
	while (stat(path, &st) != 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "hog: cannot stat %s: %s\n", path, strerror(errno));
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* ---- progress and timing ------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress {
	const char *what;
	uint64_t total, tenth, next; /* report at each tenth of total */
	double start;
	int quiet;
};

static void progress_start(struct progress *pr, const char *what, uint64_t total, int quiet)
{
	pr->what = what;
	pr->total = total;
	pr->tenth = 1;
	pr->next = (total + 9) / 10;
	pr->start = now_seconds();
	pr->quiet = quiet;
}

static void progress_tick(struct progress *pr, uint64_t done)
{
	double secs;

	if (done < pr->next)
		return;
	pr->tenth++;
	pr->next = (pr->total * pr->tenth + 9) / 10;
	if (pr->quiet)
		return;
	secs = now_seconds() - pr->start;
	fprintf(stderr, "hog: %s %3u%% (%" PRIu64 "/%" PRIu64 " MiB, %.1f MiB/s)\n", pr->what,
		(unsigned)(done * 100 / pr->total), done / PAGES_PER_MIB, pr->total / PAGES_PER_MIB,
		secs > 0 ? (double)done / PAGES_PER_MIB / secs : 0.0);
}

/* ---- options ------------------------------------------------------------- */

struct options {
	uint64_t mib;
	uint64_t seed;
	uint64_t passes;
	enum kind kind;
	int json, quiet, pageout, raw;
	int have_mib;
	int64_t corrupt_page; /* -1: none */
	int64_t dump_page;    /* -1: none */
	const char *hold;     /* NULL: none */
	int random_pct;       /* --random-pct given */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hog --mib N [--kind mixed|zero|same|text|binary|random] [--seed S]\n"
		"           [--random-pct P] [--passes P] [--pageout] [--json] [--quiet]\n"
		"       hog --dump-page K [--kind KIND] [--seed S] [--raw]\n"
		"\n"
		"Fills N MiB of anonymous memory page by page with content derived from\n"
		"(seed, page index), then re-reads every page P times (default 1) and\n"
		"counts the pages that differ from the regenerated content.\n"
		"\n"
		"  --mib N          memory to allocate, in MiB (mapped in 64 MiB chunks)\n"
		"  --kind KIND      page content (default mixed: ~6%% zero, 2.5%% same,\n"
		"                   45%% text, 36.5%% binary, 10%% random, chosen per page)\n"
		"  --random-pct P   with mixed: P%% random (incompressible) pages, the other\n"
		"                   kinds scaled to the rest (0..100, default 10)\n"
		"  --seed S         64-bit seed (default 1)\n"
		"  --passes P       verify passes (default 1); mismatches counts distinct pages,\n"
		"                   pass_mismatches each pass, verify_seconds all passes\n"
		"  --pageout        madvise(MADV_PAGEOUT) all memory before each verify pass\n"
		"  --hold PATH      after the first page-out create PATH.held, then wait until\n"
		"                   PATH exists before verifying\n"
		"  --json           print exactly one JSON line on stdout\n"
		"  --quiet          no progress on stderr\n"
		"  --corrupt-page K test only: flip one byte of page K after filling\n"
		"  --dump-page K    print page K's kind and CRC-32 as JSON (no allocation);\n"
		"                   with --raw write its 4096 raw bytes instead\n"
		"\n"
		"Exit status: 0 all pages intact, 1 mismatches, 2 usage or allocation error.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int parse_kind(const char *s, enum kind *out)
{
	unsigned k;

	if (!s)
		return -1;
	if (strcmp(s, "mixed") == 0) {
		*out = KIND_MIXED;
		return 0;
	}
	for (k = 0; k < NKINDS; k++) {
		if (strcmp(s, kind_names[k]) == 0) {
			*out = (enum kind)k;
			return 0;
		}
	}
	return -1;
}

/* Accepts "--opt value" and "--opt=value"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "hog: %s needs a value\n", name);
		exit(2);
	}
	return argv[++*i];
}

static void bad_value(const char *name, const char *v)
{
	fprintf(stderr, "hog: bad value for %s: '%s'\n", name, v);
	usage(stderr);
	exit(2);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->passes = 1;
	o->kind = KIND_MIXED;
	o->corrupt_page = -1;
	o->dump_page = -1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		uint64_t n;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = 1;
		} else if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
		} else if (strcmp(a, "--pageout") == 0) {
			o->pageout = 1;
		} else if (strcmp(a, "--raw") == 0) {
			o->raw = 1;
		} else if ((v = opt_value(argc, argv, &i, "--mib"))) {
			if (parse_u64(v, &o->mib) || o->mib == 0 || o->mib > MAX_MIB)
				bad_value("--mib", v);
			o->have_mib = 1;
		} else if ((v = opt_value(argc, argv, &i, "--seed"))) {
			if (parse_u64(v, &o->seed))
				bad_value("--seed", v);
		} else if ((v = opt_value(argc, argv, &i, "--passes"))) {
			if (parse_u64(v, &o->passes) || o->passes == 0 || o->passes > 1000000)
				bad_value("--passes", v);
		} else if ((v = opt_value(argc, argv, &i, "--random-pct"))) {
			if (parse_u64(v, &n) || n > 100)
				bad_value("--random-pct", v);
			set_random_share((unsigned)n);
			o->random_pct = 1;
		} else if ((v = opt_value(argc, argv, &i, "--kind"))) {
			if (parse_kind(v, &o->kind))
				bad_value("--kind", v);
		} else if ((v = opt_value(argc, argv, &i, "--hold"))) {
			if (!*v || strlen(v) > 4000)
				bad_value("--hold", v);
			o->hold = v;
		} else if ((v = opt_value(argc, argv, &i, "--corrupt-page"))) {
			if (parse_u64(v, &n) || n > INT64_MAX)
				bad_value("--corrupt-page", v);
			o->corrupt_page = (int64_t)n;
		} else if ((v = opt_value(argc, argv, &i, "--dump-page"))) {
			if (parse_u64(v, &n) || n > INT64_MAX)
				bad_value("--dump-page", v);
			o->dump_page = (int64_t)n;
		} else {
			fprintf(stderr, "hog: unknown argument '%s'\n", a);
			usage(stderr);
			exit(2);
		}
	}
	if (o->dump_page < 0 && !o->have_mib) {
		fprintf(stderr, "hog: --mib N is required\n");
		usage(stderr);
		exit(2);
	}
	if (o->random_pct && o->kind != KIND_MIXED) {
		fprintf(stderr, "hog: --random-pct needs --kind mixed\n");
		exit(2);
	}
	if (o->have_mib && o->corrupt_page >= 0 &&
	    (uint64_t)o->corrupt_page >= o->mib * PAGES_PER_MIB) {
		fprintf(stderr, "hog: --corrupt-page %" PRId64 " is beyond the last page (%" PRIu64 ")\n",
			o->corrupt_page, o->mib * PAGES_PER_MIB - 1);
		exit(2);
	}
}

/* ---- main ------------------------------------------------------------------ */

static int dump_page(const struct options *o)
{
	uint64_t index = (uint64_t)o->dump_page;
	enum kind k = page_kind(o->kind, o->seed, index);
	unsigned char *p = (unsigned char *)expected_buf;

	fill_page(p, k, o->seed, index);
	if (o->raw)
		return fwrite(p, 1, PAGE_BYTES, stdout) == PAGE_BYTES && fflush(stdout) == 0 ? 0 : 2;
	printf("{\"page\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"kind\":\"%s\",\"crc32\":\"%08" PRIx32
	       "\"}\n",
	       index, o->seed, kind_names[k], crc32_bytes(p, PAGE_BYTES));
	return 0;
}

static void write_pages(const struct arena *a, const struct options *o, uint64_t *counts)
{
	struct progress pr;
	uint64_t c, j, index = 0;

	progress_start(&pr, "write", a->pages, o->quiet);
	for (c = 0; c < a->nchunks; c++) {
		uint64_t n = chunk_pages(a, c);

		for (j = 0; j < n; j++, index++) {
			enum kind k = page_kind(o->kind, o->seed, index);

			fill_page(a->chunks[c] + j * PAGE_BYTES, k, o->seed, index);
			counts[k]++;
			progress_tick(&pr, index + 1);
		}
	}
	if (o->corrupt_page >= 0) {
		uint64_t cp = (uint64_t)o->corrupt_page;

		a->chunks[cp / CHUNK_PAGES][(cp % CHUNK_PAGES) * PAGE_BYTES + 100] ^= 0x5a;
	}
}

/* One verify pass; marks bad pages in @bad, returns this pass's mismatch count. */
static uint64_t verify_pages(const struct arena *a, const struct options *o, uint64_t pass,
			     unsigned char *bad, int64_t *first)
{
	struct progress pr;
	uint64_t c, j, index = 0, mismatches = 0;
	char what[64];

	snprintf(what, sizeof(what), "verify %" PRIu64 "/%" PRIu64, pass + 1, o->passes);
	progress_start(&pr, what, a->pages, o->quiet);
	for (c = 0; c < a->nchunks; c++) {
		uint64_t n = chunk_pages(a, c);

		for (j = 0; j < n; j++, index++) {
			enum kind k = page_kind(o->kind, o->seed, index);
			const unsigned char *p = a->chunks[c] + j * PAGE_BYTES;
			long off = check_page(p, k, o->seed, index);

			if (off >= 0) {
				const unsigned char *e = (const unsigned char *)expected_buf;

				if (mismatches < MAX_REPORTED)
					fprintf(stderr,
						"hog: pass %" PRIu64 ": page %" PRIu64
						" (%s) differs at byte %ld: got 0x%02x, want 0x%02x\n",
						pass + 1, index, kind_names[k], off, p[off], e[off]);
				mismatches++;
				bad[index / 8] |= (unsigned char)(1u << (index % 8));
				if (*first < 0 || (int64_t)index < *first)
					*first = (int64_t)index;
			}
			progress_tick(&pr, index + 1);
		}
	}
	return mismatches;
}

static double rate(double mib, double secs)
{
	return secs > 0 ? mib / secs : 0.0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct arena a = { 0 };
	uint64_t counts[NKINDS] = { 0 };
	uint64_t *pass_bad, pass, i, distinct = 0;
	unsigned char *bad;
	int64_t first = -1;
	double t0, write_s, verify_s = 0;
	const char *kind_name;

	parse_args(argc, argv, &o);
	if (o.dump_page >= 0)
		return dump_page(&o);

	if (arena_map(&a, o.mib))
		return 2;
	bad = calloc((size_t)(a.pages / 8 + 1), 1);
	pass_bad = calloc((size_t)o.passes, sizeof(*pass_bad));
	if (!bad || !pass_bad) {
		fprintf(stderr, "hog: out of memory for the mismatch tables\n");
		return 2;
	}

	t0 = now_seconds();
	write_pages(&a, &o, counts);
	write_s = now_seconds() - t0;

	for (pass = 0; pass < o.passes; pass++) {
		if (o.pageout && arena_pageout(&a))
			return 2;
		if (!pass && o.hold && hold(o.hold))
			return 2;
		t0 = now_seconds();
		pass_bad[pass] = verify_pages(&a, &o, pass, bad, &first);
		verify_s += now_seconds() - t0;
	}
	for (i = 0; i < a.pages / 8 + 1; i++) {
		unsigned v = bad[i];

		for (; v; v &= v - 1)
			distinct++;
	}

	kind_name = o.kind == KIND_MIXED ? "mixed" : kind_names[o.kind];
	if (o.json) {
		printf("{\"mib\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"seed\":%" PRIu64
		       ",\"kind\":\"%s\",\"kind_counts\":{",
		       o.mib, a.pages, o.seed, kind_name);
		for (i = 0; i < NKINDS; i++)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", kind_names[i], counts[i]);
		printf("},\"mismatches\":%" PRIu64 ",\"first_mismatch_page\":%" PRId64
		       ",\"write_seconds\":%.3f,\"verify_seconds\":%.3f"
		       ",\"write_mib_s\":%.1f,\"verify_mib_s\":%.1f,\"passes\":%" PRIu64
		       ",\"pass_mismatches\":[",
		       distinct, first, write_s, verify_s, rate((double)o.mib, write_s),
		       rate((double)o.mib * (double)o.passes, verify_s), o.passes);
		for (pass = 0; pass < o.passes; pass++)
			printf("%s%" PRIu64, pass ? "," : "", pass_bad[pass]);
		printf("],\"pageout\":%s}\n", o.pageout ? "true" : "false");
	} else {
		printf("hog: %" PRIu64 " MiB, %" PRIu64 " pages, kind %s, seed %" PRIu64 "\n", o.mib,
		       a.pages, kind_name, o.seed);
		printf("hog: pages by kind:");
		for (i = 0; i < NKINDS; i++)
			printf(" %s %" PRIu64, kind_names[i], counts[i]);
		printf("\nhog: write %.3f s (%.1f MiB/s), verify %" PRIu64 " pass(es) %.3f s (%.1f MiB/s)\n",
		       write_s, rate((double)o.mib, write_s), o.passes, verify_s,
		       rate((double)o.mib * (double)o.passes, verify_s));
		printf("hog: %" PRIu64 " mismatching page(s)", distinct);
		if (first >= 0)
			printf(", first at page %" PRId64, first);
		printf("\n");
	}
	fflush(stdout);
	arena_free(&a);
	free(bad);
	free(pass_bad);
	return distinct ? 1 : 0;
}
