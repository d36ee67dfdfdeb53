/*
 * readChunk(fd, buffer, idleMs, waitMs): fills `buffer` from a stream socket on a thread of
 * libuv's pool; resolves [bytes, eof]. For a byte stream xl frames (QEMU's outgoing migration
 * socket): one call reads a whole chunk, where Node's own socket reading delivers 64 KiB at a
 * time, each a fresh Buffer, an event and a promise in JavaScript (measured: about half of the
 * sending xl's CPU). It returns early when the buffer is full, at end of stream, once data
 * came and then none for idleMs (the caller sends a partial chunk while its source is quiet),
 * or when nothing came for waitMs (bytes 0, eof false: the caller may check for an abort and
 * call again). Errors reject with an Error whose code is the errno's name.
 *
 * The descriptor must be one no one else reads (Node's socket paused from the start, or a
 * duplicate from dupFd), and it must stay open until the promise settles: closeFd it after.
 * The buffer is held (a reference) until then; JavaScript must not touch it meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "os-tune.h"

#define WAIT_MS_MAX 60000

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer;
  int fd;
  uint8_t *data;
  size_t length;
  int idle_ms;
  int wait_ms;
  size_t got;
  int eof;
  int error;
} read_request;

static void read_execute(napi_env env, void *arg) {
  (void)env;
  read_request *r = arg;
  while (r->got < r->length) {
    struct pollfd p = {.fd = r->fd, .events = POLLIN, .revents = 0};
    int ready = poll(&p, 1, r->got > 0 ? r->idle_ms : r->wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      r->error = errno;
      return;
    }
    if (ready == 0) return; /* quiet: idle after data, or nothing within waitMs */
    ssize_t n = read(r->fd, r->data + r->got, r->length - r->got);
    if (n > 0) {
      r->got += (size_t)n;
    } else if (n == 0) {
      r->eof = 1;
      return;
    } else if (errno != EAGAIN && errno != EINTR) {
      r->error = errno;
      return;
    }
  }
}

static void read_complete(napi_env env, napi_status status, void *arg) {
  read_request *r = arg;
  napi_value result = NULL;
  if (status != napi_ok) {
    napi_value message;
    napi_create_string_utf8(env, "readChunk: the read was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, r->deferred, result);
  } else if (r->error != 0) {
    const char *name = strerrorname_np(r->error);
    napi_value code, message;
    napi_create_string_utf8(env, name == NULL ? "EUNKNOWN" : name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(r->error), NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &result);
    napi_reject_deferred(env, r->deferred, result);
  } else {
    napi_value bytes, eof;
    napi_create_array_with_length(env, 2, &result);
    napi_create_double(env, (double)r->got, &bytes);
    napi_get_boolean(env, r->eof != 0, &eof);
    napi_set_element(env, result, 0, bytes);
    napi_set_element(env, result, 1, eof);
    napi_resolve_deferred(env, r->deferred, result);
  }
  napi_delete_reference(env, r->buffer);
  napi_delete_async_work(env, r->work);
  free(r);
}

napi_value os_tune_read_chunk(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd = -1, idle_ms = -1, wait_ms = -1;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || length == 0 ||
      napi_get_value_int32(env, argv[2], &idle_ms) != napi_ok || idle_ms < 0 || idle_ms > WAIT_MS_MAX ||
      napi_get_value_int32(env, argv[3], &wait_ms) != napi_ok || wait_ms < 0 || wait_ms > WAIT_MS_MAX) {
    napi_throw_range_error(env, NULL,
                           "readChunk(fd, buffer, idleMs, waitMs): expected a descriptor >= 0, a non-empty "
                           "Uint8Array and two millisecond counts in 0..60000");
    return NULL;
  }
  read_request *r = calloc(1, sizeof *r);
  if (r == NULL) {
    napi_throw_error(env, "ENOMEM", "readChunk: out of memory");
    return NULL;
  }
  r->fd = fd;
  r->data = data;
  r->length = length;
  r->idle_ms = idle_ms;
  r->wait_ms = wait_ms;
  napi_value promise, name;
  if (napi_create_reference(env, argv[1], 1, &r->buffer) != napi_ok) {
    free(r);
    return NULL;
  }
  if (napi_create_promise(env, &r->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "xlkit.readChunk", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, read_execute, read_complete, r, &r->work) != napi_ok ||
      napi_queue_async_work(env, r->work) != napi_ok) {
    napi_delete_reference(env, r->buffer);
    free(r);
    return NULL;
  }
  return promise;
}

/* dupFd(fd): a duplicate (close-on-exec) that stays valid whoever closes the original. */
napi_value os_tune_dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_range_error(env, NULL, "dupFd(fd): expected a descriptor >= 0");
    return NULL;
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    const char *name = strerrorname_np(errno);
    napi_throw_error(env, name == NULL ? "EUNKNOWN" : name, strerror(errno));
    return NULL;
  }
  if (napi_create_int32(env, copy, &result) != napi_ok) return NULL;
  return result;
}

/* closeFd(fd): closes a descriptor dupFd made. */
napi_value os_tune_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_range_error(env, NULL, "closeFd(fd): expected a descriptor >= 0");
    return NULL;
  }
  close(fd);
  return NULL;
}
