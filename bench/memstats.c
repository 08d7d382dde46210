/*
 * Linked into the footprint build of examples/enroll.c (scripts/footprint.sh): with
 * STEPCA_MEMSTATS=1 in the environment, prints the process's memory at exit to stderr:
 *
 *   memstats: VmHWM_kB=N VmRSS_kB=N anon_resident_kB=N
 *
 * VmHWM (peak resident set) and VmRSS come from /proc/self/status. Under qemu-user that
 * file is qemu's own (the emulator and its translated code included), so it is an upper
 * bound there. anon_resident_kB is the program's own anonymous memory (heap, stacks,
 * data) resident at exit: the mappings /proc/self/maps lists without a file, probed page by
 * page with mincore(2). qemu-user lists the guest's mappings only and passes mincore to the
 * host, so the figure is the guest's and compares across native and emulated runs.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      v = atol(line + n + 1);
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return v;
}

static long anon_resident_kb(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  long page = sysconf(_SC_PAGESIZE), pages = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi, off, inode;
    char perms[8], dev[16], path[512] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %511s", &lo, &hi, perms, &off, dev, &inode, path) < 6) {
      continue;
    }
    /* Anonymous memory: no inode; [heap] and [stack] included, the kernel's pages not. */
    if (inode != 0 || strcmp(path, "[vvar]") == 0 || strcmp(path, "[vdso]") == 0 ||
        strcmp(path, "[vsyscall]") == 0 || perms[0] == '-' ) {
      continue;
    }
    size_t n = (hi - lo) / (unsigned long)page;
    unsigned char *vec = malloc(n);
    if (vec != NULL && mincore((void *)lo, hi - lo, vec) == 0) {
      for (size_t i = 0; i < n; i++) {
        pages += vec[i] & 1;
      }
    }
    free(vec);
  }
  if (f != NULL) {
    fclose(f);
  }
  return pages * page / 1024;
}

static void __attribute__((destructor)) memstats(void) {
  const char *on = getenv("STEPCA_MEMSTATS");
  if (on == NULL || on[0] == '\0' || on[0] == '0') {
    return;
  }
  fprintf(stderr, "memstats: VmHWM_kB=%ld VmRSS_kB=%ld anon_resident_kB=%ld\n", status_kb("VmHWM"),
          status_kb("VmRSS"), anon_resident_kb());
}
