/*
 * xlkit-guest: the test guest's workloads, one static binary.
 *
 *   xlkit-guest heartbeat                 "xlkit-heartbeat <n>" every 200 ms, n from 1
 *   xlkit-guest disk-write <dev> <MiB>    write the block pattern in passes, forever
 *   xlkit-guest disk-verify <dev> <MiB>   verify the pattern once, print the result
 *   xlkit-guest dirty <MiB/s> <MiB>       dirty RAM at a rate within a working set
 *   xlkit-guest fill <MiB>                fill RAM with random data once, keep it
 *   xlkit-guest ramcheck <MiB> <MiB/s>    write known page patterns generation after
 *                                         generation, checking every page, forever
 *   xlkit-guest power-button              power off when the ACPI power button is pressed
 *
 * <MiB> of 0 for the disk commands means the whole device.
 * The block and RAM page formats are described in README.md beside this file; the
 * host side (test/helpers/disk-pattern.ts, test/helpers/ramcheck.ts) must agree with
 * them byte for byte.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u
#define MAGIC 0x424b4c58u /* "XLKB" little-endian */
#define VERSION 1u
#define CRC_OFFSET (BLOCK - 4u)
#define PAYLOAD_OFFSET 32u

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* Console lines go out in one write(2) so concurrent workloads never interleave mid-line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = write(1, line + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += w;
  }
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

static uint32_t block_seed(uint64_t block, uint64_t gen) {
  uint32_t s = ((uint32_t)block * 2654435761u) ^ ((uint32_t)gen * 0x85ebca6bu) ^ 0xa5a5a5a5u;
  s ^= s >> 16; s *= 0x7feb352du; s ^= s >> 15; s *= 0x846ca68bu; s ^= s >> 16;
  return s ? s : 1u;
}

static void encode_block(uint8_t *b, uint64_t block, uint64_t gen) {
  uint32_t x = block_seed(block, gen);
  put32(b, MAGIC); put32(b + 4, VERSION); put64(b + 8, block); put64(b + 16, gen);
  put32(b + 24, x); put32(b + 28, 0);
  for (uint32_t off = PAYLOAD_OFFSET; off < CRC_OFFSET; off += 4) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    put32(b + off, x);
  }
  put32(b + CRC_OFFSET, crc32(b, CRC_OFFSET));
}

static int is_zero(const uint8_t *b) {
  for (uint32_t i = 0; i < BLOCK; i++) if (b[i]) return 0;
  return 1;
}

/* Checks one block in isolation. Returns NULL when valid (or all zero, *gen = 0). */
static const char *check_block(const uint8_t *b, uint64_t block, uint64_t *gen, char *why, size_t whylen) {
  static uint8_t want[BLOCK];
  if (is_zero(b)) { *gen = 0; return NULL; }
  if (get32(b) != MAGIC || get32(b + 4) != VERSION) return "bad-magic";
  if (crc32(b, CRC_OFFSET) != get32(b + CRC_OFFSET)) return "bad-checksum";
  if (get64(b + 8) != block) {
    snprintf(why, whylen, "wrong-block %llu", (unsigned long long)get64(b + 8));
    return why;
  }
  *gen = get64(b + 16);
  if (*gen == 0) return "bad-generation";
  encode_block(want, block, *gen);
  if (memcmp(want, b, BLOCK) != 0) return "bad-pattern";
  return NULL;
}

static int open_disk(const char *dev, int flags, uint64_t limit_mib, uint64_t *blocks) {
  int fd = open(dev, flags | O_DIRECT);
  if (fd < 0) fd = open(dev, flags); /* files in tests; devices take O_DIRECT */
  if (fd < 0) return -1;
  uint64_t size = 0;
  if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
    off_t end = lseek(fd, 0, SEEK_END);
    size = end > 0 ? (uint64_t)end : 0;
  }
  *blocks = size / BLOCK;
  if (limit_mib && limit_mib * 256u < *blocks) *blocks = limit_mib * 256u;
  return fd;
}

static uint8_t *aligned_buf(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, BLOCK, n) != 0) { say("xlkit-guest out of memory"); exit(2); }
  return p;
}

/* The result of sweeping the disk with the pattern rules. */
struct scan {
  uint64_t blocks;   /* blocks checked */
  uint64_t first;    /* generation of block 0 (0 = never written) */
  uint64_t boundary; /* first block of the older generation; == blocks when there is none */
  int64_t bad_at;    /* first invalid block, -1 when the whole disk is valid */
  char why[64];
};

/* One writer sweeping the disk leaves generation g then g-1 (0 = never written):
 * generations never increase along the disk and step down at most once, by one. */
static int scan_disk(int fd, uint64_t blocks, struct scan *r) {
  const uint64_t chunk = 64;
  static uint8_t *buf;
  if (!buf) buf = aligned_buf(chunk * BLOCK);
  uint64_t prev = 0;
  memset(r, 0, sizeof *r);
  r->blocks = blocks;
  r->boundary = blocks;
  r->bad_at = -1;
  for (uint64_t i = 0; i < blocks; i += chunk) {
    uint64_t n = blocks - i < chunk ? blocks - i : chunk;
    if (pread(fd, buf, n * BLOCK, (off_t)(i * BLOCK)) != (ssize_t)(n * BLOCK)) {
      r->bad_at = (int64_t)i;
      snprintf(r->why, sizeof r->why, "read-error");
      return -1;
    }
    for (uint64_t j = 0; j < n; j++) {
      uint64_t gen = 0, at = i + j;
      const char *bad = check_block(buf + j * BLOCK, at, &gen, r->why, sizeof r->why);
      if (!bad && at == 0) r->first = gen;
      if (!bad && at > 0 && gen != prev) {
        if (gen + 1 != prev || r->boundary != blocks) {
          snprintf(r->why, sizeof r->why, "generation %llu after %llu", (unsigned long long)gen, (unsigned long long)prev);
          bad = r->why;
        } else {
          r->boundary = at;
        }
      }
      if (bad) {
        if (bad != r->why) snprintf(r->why, sizeof r->why, "%s", bad);
        r->bad_at = (int64_t)at;
        return -1;
      }
      prev = gen;
    }
  }
  return 0;
}

static int disk_write(const char *dev, uint64_t limit_mib) {
  uint64_t blocks;
  int fd = open_disk(dev, O_RDWR, limit_mib, &blocks);
  if (fd < 0 || blocks == 0) { say("xlkit-disk-write FAIL open %s", dev); return 1; }
  uint8_t *b = aligned_buf(BLOCK);
  struct scan s;
  /* A disk already carrying a valid pattern resumes the interrupted pass, so a later
   * verify still holds; anything else starts over with generation 1. */
  uint64_t gen = 1, at = 0;
  if (scan_disk(fd, blocks, &s) == 0 && s.first > 0) {
    if (s.boundary == blocks) gen = s.first + 1;
    else { gen = s.first; at = s.boundary; }
  }
  say("xlkit-disk-write start %llu %llu %llu", (unsigned long long)gen, (unsigned long long)at, (unsigned long long)blocks);
  for (;; gen++, at = 0) {
    for (uint64_t i = at; i < blocks; i++) {
      encode_block(b, i, gen);
      if (pwrite(fd, b, BLOCK, (off_t)(i * BLOCK)) != BLOCK) {
        say("xlkit-disk-write FAIL %llu write-error %d", (unsigned long long)i, errno);
        return 1;
      }
    }
    fdatasync(fd);
    say("xlkit-disk-write pass %llu %llu", (unsigned long long)gen, (unsigned long long)blocks);
  }
}

static int disk_verify(const char *dev, uint64_t limit_mib) {
  uint64_t blocks;
  int fd = open_disk(dev, O_RDONLY, limit_mib, &blocks);
  if (fd < 0 || blocks == 0) { say("xlkit-disk-verify FAIL 0 cannot-open %s", dev); return 1; }
  struct scan s;
  if (scan_disk(fd, blocks, &s) != 0) {
    say("xlkit-disk-verify FAIL %lld %s", (long long)s.bad_at, s.why);
    return 1;
  }
  say("xlkit-disk-verify ok %llu", (unsigned long long)blocks);
  return 0;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static uint64_t *map_random(uint64_t mib) {
  size_t bytes = (size_t)mib << 20;
  uint64_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  for (size_t i = 0; i < bytes / 8; i++) p[i] = next_random();
  return p;
}

static int dirty(uint64_t rate_mib, uint64_t ws_mib) {
  uint64_t *mem = map_random(ws_mib);
  if (!mem) { say("xlkit-dirty FAIL mmap %llu", (unsigned long long)ws_mib); return 1; }
  uint64_t pages = ws_mib * 256u, page = 0, done = 0, report_done = 0;
  double start = now_s(), report_at = start;
  say("xlkit-dirty start %llu %llu", (unsigned long long)rate_mib, (unsigned long long)ws_mib);
  for (;;) {
    double t = now_s();
    uint64_t due = (uint64_t)((t - start) * (double)rate_mib * 256.0);
    /* After a long pause (e.g. a stopped VM) do not burst to catch up. */
    if (due > done + rate_mib * 256u) { done = due - rate_mib * 256u / 10; }
    while (done < due) {
      mem[(page * BLOCK) / 8] = next_random();
      page = (page + 1) % pages;
      done++;
    }
    if (t - report_at >= 5.0) {
      say("xlkit-dirty rate %llu", (unsigned long long)((double)(done - report_done) / 256.0 / (t - report_at)));
      report_at = t;
      report_done = done;
    }
    sleep_ms(10);
  }
}

static int fill(uint64_t mib) {
  if (!map_random(mib)) { say("xlkit-fill FAIL mmap %llu", (unsigned long long)mib); return 1; }
  say("xlkit-fill done %llu", (unsigned long long)mib);
  for (;;) pause();
}

/*
 * ramcheck: every 4 KiB page of the working set holds a pattern fixed by its index and a
 * generation (little-endian 64-bit words): word 0 the page index, word 1 the generation,
 * words 2..511 an xorshift64 stream seeded by both (ram_seed). Cycle g writes generation g
 * over every page, checking each page still holds generation g-1 just before overwriting
 * it, then checks every page holds generation g. So every pattern written is read back in
 * full at least once before it is replaced: a page lost, zeroed, left stale or torn by a
 * migration shows up as a mismatch.
 */
#define PAGE_WORDS (BLOCK / 8u)

static uint64_t mix64(uint64_t z) { /* splitmix64's finaliser */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t ram_seed(uint64_t page, uint64_t gen) {
  uint64_t s = mix64(page * 0x9e3779b97f4a7c15ull + mix64(gen));
  return s ? s : 1u;
}

static uint64_t xorshift64(uint64_t x) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; }

/* volatile: every store and load really reaches guest RAM, in order, one word at a time. */
static void ram_write_page(volatile uint64_t *p, uint64_t page, uint64_t gen) {
  uint64_t x = ram_seed(page, gen);
  p[0] = page;
  p[1] = gen;
  for (uint32_t w = 2; w < PAGE_WORDS; w++) p[w] = x = xorshift64(x);
}

struct ram_mismatch {
  uint32_t offset; /* first differing byte in the page */
  uint64_t want, got; /* the aligned word holding it */
};

/* Compares a whole page with the generation's pattern; 0 when it matches. */
static int ram_check_page(const volatile uint64_t *p, uint64_t page, uint64_t gen, struct ram_mismatch *m) {
  uint64_t x = ram_seed(page, gen);
  for (uint32_t w = 0; w < PAGE_WORDS; w++) {
    uint64_t want = w == 0 ? page : w == 1 ? gen : (x = xorshift64(x));
    uint64_t got = p[w];
    if (got != want) {
      m->offset = w * 8u + (uint32_t)__builtin_ctzll(got ^ want) / 8u;
      m->want = want;
      m->got = got;
      return 1;
    }
  }
  return 0;
}

/* Paces page writes at a rate in pages per second, in 10 ms steps. */
struct pacer {
  double start;
  uint64_t per_s, done;
};

/* Blocks until at least one page is due; takes up to `max` due pages and returns how many. */
static uint64_t pace_take(struct pacer *pc, uint64_t max) {
  for (;;) {
    uint64_t due = (uint64_t)((now_s() - pc->start) * (double)pc->per_s);
    /* After a long pause (e.g. a stopped VM) do not burst to catch up. */
    if (due > pc->done + pc->per_s) pc->done = due - pc->per_s / 10;
    if (due > pc->done) {
      uint64_t n = due - pc->done < max ? due - pc->done : max;
      pc->done += n;
      return n;
    }
    sleep_ms(10);
  }
}

/* Counts a bad page of the cycle; only the cycle's first one gets a FAIL line. */
static void ram_report(uint64_t *bad, uint64_t page, uint64_t gen, const struct ram_mismatch *m) {
  if ((*bad)++ > 0) return;
  say("xlkit-ramcheck FAIL page %llu gen %llu offset %u expected %016llx got %016llx", (unsigned long long)page,
      (unsigned long long)gen, m->offset, (unsigned long long)m->want, (unsigned long long)m->got);
}

static int ramcheck(uint64_t mib, uint64_t rate_mib) {
  if (mib == 0) { say("xlkit-ramcheck FAIL size 0"); return 1; }
  if (rate_mib == 0) rate_mib = 32;
  size_t bytes = (size_t)mib << 20;
  uint64_t pages = mib * 256u;
  void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) { say("xlkit-ramcheck FAIL mmap %llu", (unsigned long long)mib); return 1; }
  volatile uint64_t *mem = map;
  struct ram_mismatch m;
  say("xlkit-ramcheck start %llu", (unsigned long long)mib);
  for (uint64_t gen = 1; gen != 0; gen++) {
    uint64_t bad = 0;
    /* Write generation gen at the paced rate, checking generation gen-1 of each page first. */
    struct pacer pc = { now_s(), rate_mib * 256u, 0 };
    for (uint64_t i = 0; i < pages;) {
      for (uint64_t n = pace_take(&pc, pages - i); n > 0; n--, i++) {
        volatile uint64_t *p = mem + i * PAGE_WORDS;
        if (gen > 1 && ram_check_page(p, i, gen - 1, &m)) ram_report(&bad, i, gen - 1, &m);
        ram_write_page(p, i, gen);
      }
    }
    /* Then check all of generation gen; repair a bad page so it is reported once. */
    for (uint64_t i = 0; i < pages; i++) {
      volatile uint64_t *p = mem + i * PAGE_WORDS;
      if (ram_check_page(p, i, gen, &m)) {
        ram_report(&bad, i, gen, &m);
        ram_write_page(p, i, gen);
      }
      if (i % 256u == 255u) sleep_ms(1); /* a breather every MiB: reading is not paced */
    }
    if (bad == 0) say("xlkit-ramcheck pass %llu %llu", (unsigned long long)gen, (unsigned long long)pages);
    else say("xlkit-ramcheck bad %llu %llu", (unsigned long long)gen, (unsigned long long)bad);
  }
  return 0;
}

static int heartbeat(void) {
  for (uint64_t n = 1; n != 0; n++) {
    say("xlkit-heartbeat %llu", (unsigned long long)n);
    sleep_ms(200);
  }
  return 0;
}

/*
 * What acpid or systemd-logind do for a real system: watch every input device for the
 * power key (QEMU's system_powerdown presses the ACPI power button), then sync and power
 * off, so `xl shutdown` ends the guest cleanly.
 */
static int power_button(void) {
  struct pollfd fds[16];
  int n = 0;
  for (int tries = 0; n == 0 && tries < 50; tries++) {
    DIR *dir = opendir("/dev/input");
    struct dirent *e;
    while (dir && (e = readdir(dir)) && n < 16) {
      char path[300];
      if (strncmp(e->d_name, "event", 5)) continue;
      snprintf(path, sizeof path, "/dev/input/%s", e->d_name);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
    }
    if (dir) closedir(dir);
    if (n == 0) sleep_ms(100);
  }
  if (n == 0) {
    say("xlkit-power-button no-input-devices");
    return 1;
  }
  say("xlkit-power-button watching %d device(s)", n);
  for (;;) {
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct input_event ev[16];
      if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        /* The device went away: stop watching it, or poll would spin on it. */
        close(fds[i].fd);
        fds[i--] = fds[--n];
        if (n == 0) return 1;
        continue;
      }
      if (!(fds[i].revents & POLLIN)) continue;
      ssize_t got = read(fds[i].fd, ev, sizeof ev);
      for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof ev[0]; k++) {
        if (ev[k].type == EV_KEY && ev[k].code == KEY_POWER && ev[k].value == 1) {
          say("xlkit-poweroff");
          sync();
          reboot(RB_POWER_OFF);
          return 1;
        }
      }
    }
  }
}

static uint64_t num(const char *s) { return s ? strtoull(s, NULL, 10) : 0; }

int main(int argc, char **argv) {
  crc_init();
  const char *cmd = argc > 1 ? argv[1] : "";
  const char *a = argc > 2 ? argv[2] : NULL, *b = argc > 3 ? argv[3] : NULL;
  if (!strcmp(cmd, "heartbeat")) return heartbeat();
  if (!strcmp(cmd, "disk-write") && a) return disk_write(a, num(b));
  if (!strcmp(cmd, "disk-verify") && a) return disk_verify(a, num(b));
  if (!strcmp(cmd, "dirty") && a) return dirty(num(a), b ? num(b) : 64);
  if (!strcmp(cmd, "fill") && a) return fill(num(a));
  if (!strcmp(cmd, "ramcheck") && a) return ramcheck(num(a), b ? num(b) : 32);
  if (!strcmp(cmd, "power-button")) return power_button();
  fprintf(stderr, "usage: xlkit-guest heartbeat | disk-write DEV MIB | disk-verify DEV MIB | dirty RATE MIB | fill MIB | ramcheck MIB RATE | power-button\n");
  return 2;
}
