/* @xlkit/os-tune's N-API addon: the OS settings Node does not expose, one function each. */
#include "os-tune.h"

static int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!export_fn(env, exports, "keepFreedMemory", os_tune_keep_freed_memory)) return NULL;
  if (!export_fn(env, exports, "setSendBuffer", os_tune_set_send_buffer)) return NULL;
  if (!export_fn(env, exports, "readChunk", os_tune_read_chunk)) return NULL;
  if (!export_fn(env, exports, "dupFd", os_tune_dup_fd)) return NULL;
  if (!export_fn(env, exports, "closeFd", os_tune_close_fd)) return NULL;
  return exports;
}
