/*
 * @xlkit/stream's N-API addon: CRC-32 from Intel's ISA-L (Debian's libisal2), whose
 * crc32_gzip_refl is the zlib/Xen polynomial with zlib's chaining convention and picks the
 * widest carry-less multiply the CPU has (VPCLMULQDQ over AVX-512 where present).
 */
#include <isa-l/crc.h>
#include <node_api.h>
#include <stdbool.h>

/* crc32(data: Uint8Array, previous?: number): number, as zlib's crc32(previous, data). */
static napi_value crc32_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;

  bool is_typed = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, "crc32: expected a Uint8Array as the first argument");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32: expected a Uint8Array as the first argument");
    return NULL;
  }

  uint32_t crc = 0;
  if (argc > 1) {
    napi_valuetype kind;
    if (napi_typeof(env, argv[1], &kind) != napi_ok) return NULL;
    if (kind != napi_undefined) {
      if (kind != napi_number) {
        napi_throw_type_error(env, NULL, "crc32: expected the previous crc as a number");
        return NULL;
      }
      double previous;
      if (napi_get_value_double(env, argv[1], &previous) != napi_ok ||
          !(previous >= 0 && previous <= 4294967295.0) || previous != (double)(uint32_t)previous) {
        napi_throw_range_error(env, NULL, "crc32: expected the previous crc as an integer in 0..2^32-1");
        return NULL;
      }
      crc = (uint32_t)previous;
    }
  }
  if (length > 0) crc = crc32_gzip_refl(crc, (const unsigned char *)data, length);

  napi_value result;
  if (napi_create_uint32(env, crc, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "crc32", NAPI_AUTO_LENGTH, crc32_js, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "crc32", fn) != napi_ok)
    return NULL;
  return exports;
}
