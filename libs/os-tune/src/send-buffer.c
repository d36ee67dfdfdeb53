/*
 * setSendBuffer(fd, bytes): the send buffer of a socket xl writes bulk data into (SO_SNDBUF,
 * which Node does not expose). A unix stream socket can hold only its sender's buffer (about
 * 208 KiB by default) between the two processes, and the writer is woken to refill it only
 * once it is three-quarters empty; the reader, QEMU taking 32 KiB at a time, runs dry in
 * between. A buffer of a few MiB keeps it fed across the writer's own work (reading, checking).
 *
 * A privileged process sets it with SO_SNDBUFFORCE, past the host's net.core.wmem_max; any
 * other gets SO_SNDBUF, which the kernel caps there. Returns [bytes, forced]: the buffer as the
 * kernel reports it (Linux doubles what is asked, for its bookkeeping) and whether the force
 * was taken. Throws an Error whose code is the errno's name when the socket refuses both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "os-tune.h"

#define SEND_BUFFER_MIN 4096
#define SEND_BUFFER_MAX (256 * 1024 * 1024)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  const char *name = strerrorname_np(err);
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, name == NULL ? "EUNKNOWN" : name, message);
  return NULL;
}

napi_value os_tune_set_send_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  int32_t bytes = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int32(env, argv[1], &bytes) != napi_ok || bytes < SEND_BUFFER_MIN || bytes > SEND_BUFFER_MAX) {
    napi_throw_range_error(env, NULL, "setSendBuffer(fd, bytes): expected a descriptor >= 0 and a byte count in 4096..268435456");
    return NULL;
  }
  int forced = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) == 0;
  if (!forced && errno != EPERM) return throw_errno(env, "setsockopt(SO_SNDBUFFORCE)", errno);
  if (!forced && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0) return throw_errno(env, "setsockopt(SO_SNDBUF)", errno);
  int effective = 0;
  socklen_t length = sizeof effective;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &effective, &length) != 0) return throw_errno(env, "getsockopt(SO_SNDBUF)", errno);
  napi_value result, size, took;
  if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_create_int32(env, effective, &size) != napi_ok ||
      napi_get_boolean(env, forced, &took) != napi_ok || napi_set_element(env, result, 0, size) != napi_ok ||
      napi_set_element(env, result, 1, took) != napi_ok) {
    return NULL;
  }
  return result;
}
