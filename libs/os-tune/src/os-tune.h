/* The addon's functions, one file each; src/addon.c registers them. */
#ifndef XLKIT_OS_TUNE_H
#define XLKIT_OS_TUNE_H
#include <node_api.h>

napi_value os_tune_keep_freed_memory(napi_env env, napi_callback_info info);
napi_value os_tune_set_send_buffer(napi_env env, napi_callback_info info);
napi_value os_tune_read_chunk(napi_env env, napi_callback_info info);
napi_value os_tune_dup_fd(napi_env env, napi_callback_info info);
napi_value os_tune_close_fd(napi_env env, napi_callback_info info);

#endif
