/*
 * keepFreedMemory(mmapThreshold): glibc's mallopt for a process that streams GiBs through
 * short-lived buffers. By default glibc serves blocks of 128 KiB and up (a threshold it moves
 * as blocks are freed) with their own mmap, returned on free, and gives the top of the heap
 * back to the kernel once enough of it is free, so each round of buffers is faulted in afresh.
 * Here blocks below mmapThreshold come from the heap and the heap is never trimmed: memory
 * freed once is reused, not faulted in again. Returns true when glibc took both settings.
 */
#include <malloc.h>
#include <node_api.h>

static napi_value keep_freed_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t mmap_threshold = 0;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &mmap_threshold) != napi_ok || mmap_threshold <= 0) {
    napi_throw_type_error(env, NULL, "keepFreedMemory(mmapThreshold): a positive int32 byte count expected");
    return NULL;
  }
  int ok = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, -1) == 1 && ok;
  napi_get_boolean(env, ok, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "keepFreedMemory", NAPI_AUTO_LENGTH, keep_freed_memory, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "keepFreedMemory", fn) != napi_ok) return NULL;
  return exports;
}
