/*
 * A small, bounds-checked FlexBuffers reader for the custom ops' options (the `custom_options`
 * bytes of the op in the .tflite file, format FLEXBUFFERS): a root map of scalars and integer
 * vectors. Layout as documented in FlatBuffers' `docs/source/flexbuffers.md` / `flexbuffers.h`:
 * the buffer ends with the root value, its packed type byte and its byte width; a map's values
 * are preceded by [keys-vector offset, keys byte width, size] and followed by one packed type
 * byte per value; offsets point backwards.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mediapipe_ops.h"

enum {
  FBT_NULL = 0, FBT_INT = 1, FBT_UINT = 2, FBT_FLOAT = 3, FBT_KEY = 4, FBT_STRING = 5,
  FBT_INDIRECT_INT = 6, FBT_INDIRECT_UINT = 7, FBT_INDIRECT_FLOAT = 8, FBT_MAP = 9,
  FBT_VECTOR = 10, FBT_VECTOR_INT = 11, FBT_VECTOR_UINT = 12, FBT_VECTOR_FLOAT = 13,
  FBT_BOOL = 26,
};

typedef struct Buf {
  const uint8_t* data;
  size_t size;
} Buf;

/* A value: where it sits, the width it is stored with, and its packed type. */
typedef struct Ref {
  size_t pos;
  int parent_width;
  int type;
  int child_width;
} Ref;

static int in_bounds(const Buf* b, size_t pos, size_t len) {
  return pos <= b->size && len <= b->size - pos;
}

static int valid_width(int w) { return w == 1 || w == 2 || w == 4 || w == 8; }

static int read_uint(const Buf* b, size_t pos, int width, uint64_t* out) {
  if (!valid_width(width) || !in_bounds(b, pos, (size_t)width)) return -1;
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | b->data[pos + (size_t)i]; /* little end. */
  *out = v;
  return 0;
}

static int read_int(const Buf* b, size_t pos, int width, int64_t* out) {
  uint64_t u;
  if (read_uint(b, pos, width, &u) != 0) return -1;
  if (width < 8 && (u >> (8 * width - 1)) & 1u) u |= ~(uint64_t)0 << (8 * width);
  *out = (int64_t)u;
  return 0;
}

static int read_float(const Buf* b, size_t pos, int width, double* out) {
  if (width == 4) {
    uint64_t u;
    if (read_uint(b, pos, 4, &u) != 0) return -1;
    uint32_t u32 = (uint32_t)u;
    float f;
    memcpy(&f, &u32, sizeof(f));
    *out = f;
    return 0;
  }
  if (width == 8) {
    uint64_t u;
    if (read_uint(b, pos, 8, &u) != 0) return -1;
    double d;
    memcpy(&d, &u, sizeof(d));
    *out = d;
    return 0;
  }
  return -1;
}

/* Follows a backward offset stored at `pos` (width `width`). */
static int indirect(const Buf* b, size_t pos, int width, size_t* target) {
  uint64_t off;
  if (read_uint(b, pos, width, &off) != 0 || off > pos) return -1;
  *target = pos - (size_t)off;
  return 0;
}

static Ref make_ref(size_t pos, int parent_width, uint8_t packed) {
  Ref r = {pos, parent_width, packed >> 2, 1 << (packed & 3)};
  return r;
}

static int ref_as_int(const Buf* b, const Ref* r, int64_t* out) {
  size_t target;
  double d;
  uint64_t u;
  switch (r->type) {
    case FBT_INT: return read_int(b, r->pos, r->parent_width, out);
    case FBT_UINT:
    case FBT_BOOL:
      if (read_uint(b, r->pos, r->parent_width, &u) != 0 || u > INT64_MAX) return -1;
      *out = (int64_t)u;
      return 0;
    case FBT_INDIRECT_INT:
      if (indirect(b, r->pos, r->parent_width, &target) != 0) return -1;
      return read_int(b, target, r->child_width, out);
    case FBT_INDIRECT_UINT:
      if (indirect(b, r->pos, r->parent_width, &target) != 0 ||
          read_uint(b, target, r->child_width, &u) != 0 || u > INT64_MAX) return -1;
      *out = (int64_t)u;
      return 0;
    case FBT_FLOAT:
      if (read_float(b, r->pos, r->parent_width, &d) != 0 || d != floor(d) || fabs(d) > 1e9)
        return -1;
      *out = (int64_t)d;
      return 0;
    default: return -1;
  }
}

static int ref_as_double(const Buf* b, const Ref* r, double* out) {
  size_t target;
  int64_t i;
  switch (r->type) {
    case FBT_FLOAT: return read_float(b, r->pos, r->parent_width, out);
    case FBT_INDIRECT_FLOAT:
      if (indirect(b, r->pos, r->parent_width, &target) != 0) return -1;
      return read_float(b, target, r->child_width, out);
    default:
      if (ref_as_int(b, r, &i) != 0) return -1;
      *out = (double)i;
      return 0;
  }
}

/* A vector's element positions: first element at `start`, `size` elements of `width` bytes. */
typedef struct Vec {
  size_t start;
  uint64_t size;
  int width;
} Vec;

static int ref_as_vector(const Buf* b, const Ref* r, Vec* v) {
  if (indirect(b, r->pos, r->parent_width, &v->start) != 0) return -1;
  v->width = r->child_width;
  if (v->start < (size_t)v->width ||
      read_uint(b, v->start - (size_t)v->width, v->width, &v->size) != 0 ||
      v->size > b->size || !in_bounds(b, v->start, (size_t)v->size * (size_t)v->width)) {
    return -1;
  }
  return 0;
}

/* Finds `key` in the root map. Returns 0 and the value, 1 when absent, -1 on a malformed map. */
static int map_lookup(const Buf* b, const Ref* map, const char* key, Ref* out) {
  Vec values;
  if (map->type != FBT_MAP || ref_as_vector(b, map, &values) != 0) return -1;
  const size_t w = (size_t)values.width;
  if (values.start < 3 * w) return -1;
  uint64_t keys_width;
  size_t keys_pos;
  if (read_uint(b, values.start - 2 * w, values.width, &keys_width) != 0 ||
      !valid_width((int)keys_width) ||
      indirect(b, values.start - 3 * w, values.width, &keys_pos) != 0) {
    return -1;
  }
  const size_t types_pos = values.start + (size_t)values.size * w;
  if (!in_bounds(b, types_pos, (size_t)values.size)) return -1;
  uint64_t num_keys;
  if (keys_pos < keys_width || read_uint(b, keys_pos - keys_width, (int)keys_width, &num_keys) != 0 ||
      num_keys != values.size || !in_bounds(b, keys_pos, (size_t)(num_keys * keys_width))) {
    return -1;
  }
  const size_t key_len = strlen(key);
  for (uint64_t i = 0; i < num_keys; ++i) {
    size_t str;
    if (indirect(b, keys_pos + (size_t)i * keys_width, (int)keys_width, &str) != 0) return -1;
    const uint8_t* end = memchr(b->data + str, 0, b->size - str);
    if (end == NULL) return -1;
    if ((size_t)(end - (b->data + str)) == key_len && memcmp(b->data + str, key, key_len) == 0) {
      *out = make_ref(values.start + (size_t)i * w, values.width, b->data[types_pos + i]);
      return 0;
    }
  }
  return 1;
}

static int root(const Buf* b, Ref* out) {
  if (b->data == NULL || b->size < 3) return -1;
  const int width = b->data[b->size - 1];
  if (!valid_width(width) || b->size < 2 + (size_t)width) return -1;
  *out = make_ref(b->size - 2 - (size_t)width, width, b->data[b->size - 2]);
  return 0;
}

static int fail(char* error, size_t error_size, const char* fmt, ...) {
  if (error != NULL && error_size > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, error_size, fmt, args);
    va_end(args);
  }
  return -1;
}

static int get_int(const Buf* b, const Ref* map, const char* key, int required, int32_t* out,
                   char* error, size_t error_size) {
  Ref r;
  int64_t v;
  const int found = map_lookup(b, map, key, &r);
  if (found == 1 && !required) return 0;
  if (found != 0) return fail(error, error_size, "option '%s' missing or malformed", key);
  if (ref_as_int(b, &r, &v) != 0 || v < INT32_MIN || v > INT32_MAX)
    return fail(error, error_size, "option '%s' is not a 32-bit integer", key);
  *out = (int32_t)v;
  return 0;
}

static int get_float(const Buf* b, const Ref* map, const char* key, float* out, char* error,
                     size_t error_size) {
  Ref r;
  double v;
  if (map_lookup(b, map, key, &r) != 0)
    return fail(error, error_size, "option '%s' missing or malformed", key);
  if (ref_as_double(b, &r, &v) != 0 || !isfinite(v))
    return fail(error, error_size, "option '%s' is not a finite number", key);
  *out = (float)v;
  return 0;
}

int gz_parse_l2tm_options(const uint8_t* data, size_t size, GzL2tmOptions* out, char* error,
                          size_t error_size) {
  const Buf b = {data, size};
  Ref map, subset;
  memset(out, 0, sizeof(*out));
  if (root(&b, &map) != 0 || map.type != FBT_MAP)
    return fail(error, error_size, "Landmarks2TransformMatrix options are not a FlexBuffers map");
  if (get_int(&b, &map, "left_rotation_idx", 1, &out->left_rotation_idx, error, error_size) ||
      get_int(&b, &map, "right_rotation_idx", 1, &out->right_rotation_idx, error, error_size) ||
      get_int(&b, &map, "output_width", 1, &out->output_width, error, error_size) ||
      get_int(&b, &map, "output_height", 1, &out->output_height, error, error_size) ||
      get_float(&b, &map, "scale_x", &out->scale_x, error, error_size) ||
      get_float(&b, &map, "scale_y", &out->scale_y, error, error_size) ||
      get_float(&b, &map, "target_rotation_radians", &out->target_rotation_radians, error,
                error_size)) {
    return -1;
  }
  if (out->output_width <= 0 || out->output_height <= 0 || !(out->scale_x > 0) ||
      !(out->scale_y > 0)) {
    return fail(error, error_size, "Landmarks2TransformMatrix options out of range");
  }
  if (map_lookup(&b, &map, "subset_idxs", &subset) != 0)
    return fail(error, error_size, "option 'subset_idxs' missing (not a version-2 op?)");
  Vec v;
  if ((subset.type != FBT_VECTOR_INT && subset.type != FBT_VECTOR_UINT &&
       subset.type != FBT_VECTOR) || ref_as_vector(&b, &subset, &v) != 0) {
    return fail(error, error_size, "option 'subset_idxs' is not an integer vector");
  }
  if (v.size < 1 || v.size > GZ_MAX_SUBSET)
    return fail(error, error_size, "option 'subset_idxs' has %llu entries",
                (unsigned long long)v.size);
  const size_t types_pos = v.start + (size_t)v.size * (size_t)v.width;
  if (subset.type == FBT_VECTOR && !in_bounds(&b, types_pos, (size_t)v.size))
    return fail(error, error_size, "option 'subset_idxs' is truncated");
  for (uint64_t i = 0; i < v.size; ++i) {
    const size_t pos = v.start + (size_t)i * (size_t)v.width;
    const uint8_t packed = subset.type == FBT_VECTOR
                               ? b.data[types_pos + i]
                               : (uint8_t)((subset.type == FBT_VECTOR_INT ? FBT_INT : FBT_UINT)
                                           << 2);
    const Ref element = make_ref(pos, v.width, packed);
    int64_t value;
    if (ref_as_int(&b, &element, &value) != 0 || value < 0 || value > INT32_MAX)
      return fail(error, error_size, "option 'subset_idxs' holds a bad index");
    out->subset[i] = (int32_t)value;
  }
  out->subset_size = (int32_t)v.size;
  if (out->left_rotation_idx < 0 || out->right_rotation_idx < 0)
    return fail(error, error_size, "Landmarks2TransformMatrix rotation index is negative");
  return 0;
}

int gz_parse_ttb_options(const uint8_t* data, size_t size, GzTtbOptions* out, char* error,
                         size_t error_size) {
  const Buf b = {data, size};
  Ref map;
  memset(out, 0, sizeof(*out));
  if (size == 0) return 0;
  if (root(&b, &map) != 0 || map.type != FBT_MAP)
    return fail(error, error_size, "TransformTensorBilinear options are not a FlexBuffers map");
  if (get_int(&b, &map, "output_width", 0, &out->output_width, error, error_size) ||
      get_int(&b, &map, "output_height", 0, &out->output_height, error, error_size)) {
    return -1;
  }
  if (out->output_width < 0 || out->output_height < 0)
    return fail(error, error_size, "TransformTensorBilinear output size is negative");
  return 0;
}
