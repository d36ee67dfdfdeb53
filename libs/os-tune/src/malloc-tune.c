/*
 * keepFreedMemory(mmapThreshold): glibc's mallopt for a process that streams GiBs through
 * short-lived buffers. By default glibc serves blocks of 128 KiB and up (a threshold it moves
 * as blocks are freed) with their own mmap, returned on free, and gives the top of the heap
 * back to the kernel once enough of it is free, so each round of buffers is faulted in afresh.
 * Here blocks below mmapThreshold come from the heap and the heap is never trimmed: memory
 * freed once is reused, not faulted in again. Returns true when glibc took both settings.
 */
#include <malloc.h>
#include "os-tune.h"

/* glibc's ceiling for M_MMAP_THRESHOLD on 64-bit (HEAP_MAX_SIZE / 2). */
#define MMAP_THRESHOLD_MAX (32 * 1024 * 1024)

napi_value os_tune_keep_freed_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t mmap_threshold = 0;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &mmap_threshold) != napi_ok ||
      mmap_threshold <= 0 || mmap_threshold > MMAP_THRESHOLD_MAX) {
    napi_throw_range_error(env, NULL, "keepFreedMemory(mmapThreshold): expected a byte count in 1..33554432");
    return NULL;
  }
  /* Both are tried; the answer is whether glibc took both. */
  int threshold_ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) == 1;
  int trim_ok = mallopt(M_TRIM_THRESHOLD, -1) == 1;
  if (napi_get_boolean(env, threshold_ok && trim_ok, &result) != napi_ok) return NULL;
  return result;
}
