/* MediaPipe's custom ops for the attention face mesh; see mediapipe_ops.h. */
#include "mediapipe_ops.h"

#include <math.h>
#include <string.h>

/* Row-major 4x4 product a = a * b, accumulated in float from 0 as MediaPipe's Mat4 does. */
static void mat4_mul_inplace(float a[16], const float b[16]) {
  float result[16];
  for (int r = 0; r < 4; r++) {
    for (int c = 0; c < 4; c++) {
      float sum = 0.0f;
      for (int k = 0; k < 4; k++) sum += a[r * 4 + k] * b[k * 4 + c];
      result[r * 4 + c] = sum;
    }
  }
  memcpy(a, result, sizeof(result));
}

/* 3x3 rotation about the origin applied to (x, y, 1), float accumulation from 0. */
static void rotate_xy1(float cos_r, float sin_r, float x, float y, float* out_x, float* out_y) {
  float sx = 0.0f, sy = 0.0f;
  sx += cos_r * x;
  sx += -sin_r * y;
  sx += 0.0f * 1.0f;
  sy += sin_r * x;
  sy += cos_r * y;
  sy += 0.0f * 1.0f;
  *out_x = sx;
  *out_y = sy;
}

int gz_landmarks_to_transform_matrix(const GzL2tmOptions* o, const float* landmarks,
                                     int num_landmarks, float* matrix) {
  if (o->left_rotation_idx < 0 || o->left_rotation_idx >= num_landmarks ||
      o->right_rotation_idx < 0 || o->right_rotation_idx >= num_landmarks ||
      o->subset_size < 1) {
    return -1;
  }
  for (int i = 0; i < o->subset_size; i++) {
    if (o->subset[i] < 0 || o->subset[i] >= num_landmarks) return -1;
  }
  /* EstimateRotationRadians: target - atan2(y_right - y_left, x_right - x_left). */
  const float* left = landmarks + 3 * o->left_rotation_idx;
  const float* right = landmarks + 3 * o->right_rotation_idx;
  float rotation = atan2f(right[1] - left[1], right[0] - left[0]);
  rotation = o->target_rotation_radians - rotation;

  /* EstimateCenterAndSize: rotate the subset by `rotation`, take its axis-aligned box, rotate
   * the box centre back. */
  const float cos_r = cosf(rotation), sin_r = sinf(rotation);
  float min_x = 0, min_y = 0, max_x = 0, max_y = 0;
  for (int i = 0; i < o->subset_size; i++) {
    const float* p = landmarks + 3 * o->subset[i];
    float x, y;
    rotate_xy1(cos_r, sin_r, p[0], p[1], &x, &y);
    if (i == 0) {
      min_x = max_x = x;
      min_y = max_y = y;
      continue;
    }
    if (max_x < x) max_x = x;
    if (max_y < y) max_y = y;
    if (min_x > x) min_x = x;
    if (min_y > y) min_y = y;
  }
  const float crop_width = max_x - min_x;
  const float crop_height = max_y - min_y;
  float centre_x = (min_x + max_x) / 2;
  float centre_y = (min_y + max_y) / 2;
  rotate_xy1(cosf(-rotation), sinf(-rotation), centre_x, centre_y, &centre_x, &centre_y);

  /* Translate(centre) . Rotate(-rotation) . Scale(sx w / W, sy h / H) . Translate(-W/2, -H/2) */
  float t[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  const float shift[16] = {1, 0, 0, centre_x, 0, 1, 0, centre_y, 0, 0, 1, 0, 0, 0, 0, 1};
  mat4_mul_inplace(t, shift);
  const float r = -rotation;
  const float rot[16] = {cosf(r), -sinf(r), 0, 0, sinf(r), cosf(r), 0, 0,
                         0,       0,        1, 0, 0,       0,       0, 1};
  mat4_mul_inplace(t, rot);
  const float scale_x = o->scale_x * crop_width / (float)o->output_width;
  const float scale_y = o->scale_y * crop_height / (float)o->output_height;
  const float scale[16] = {scale_x, 0, 0, 0, 0, scale_y, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  mat4_mul_inplace(t, scale);
  const float shift_x = (float)(-1.0 * (o->output_width / 2.0));
  const float shift_y = (float)(-1.0 * (o->output_height / 2.0));
  const float shift2[16] = {1, 0, 0, shift_x, 0, 1, 0, shift_y, 0, 0, 1, 0, 0, 0, 0, 1};
  mat4_mul_inplace(t, shift2);
  memcpy(matrix, t, sizeof(t));
  return 0;
}

static float dot4(const float a[4], float x, float y, float z, float w) {
  return a[0] * x + a[1] * y + a[2] * z + a[3] * w;
}

void gz_transform_tensor_bilinear(const float* input, int in_h, int in_w, int channels,
                                  const float* matrix, float* output, int out_h, int out_w) {
  float xt[4] = {matrix[0], matrix[1], matrix[2], matrix[3]};
  float yt[4] = {matrix[4], matrix[5], matrix[6], matrix[7]};
  /* Align-corners correction: sample at M (p + 0.5) - 0.5 (double arithmetic, as MediaPipe). */
  xt[3] += xt[0] * 0.5 + xt[1] * 0.5 - 0.5;
  yt[3] += yt[0] * 0.5 + yt[1] * 0.5 - 0.5;
  for (int oy = 0; oy < out_h; ++oy) {
    for (int ox = 0; ox < out_w; ++ox) {
      float* out = output + ((size_t)oy * out_w + ox) * channels;
      const float tx = dot4(xt, (float)ox, (float)oy, 0.0f, 1.0f);
      const float ty = dot4(yt, (float)ox, (float)oy, 0.0f, 1.0f);
      /* Written as negations so that NaN coordinates also count as out of bounds. */
      if (!(tx >= 0.0f && tx <= (float)(in_w - 1) && ty >= 0.0f && ty <= (float)(in_h - 1))) {
        memset(out, 0, sizeof(float) * (size_t)channels);
        continue;
      }
      const float fx = floorf(tx), fy = floorf(ty);
      const int x0 = (int)fx, y0 = (int)fy, x1 = x0 + 1, y1 = y0 + 1;
      const float right = tx - fx, lower = ty - fy;
      const float* row0 = input + (size_t)y0 * in_w * channels;
      const float* row1 = input + (size_t)y1 * in_w * channels;
      const int has_x1 = x1 < in_w, has_y1 = y1 < in_h;
      for (int c = 0; c < channels; ++c) {
        /* A neighbour past the edge reads 0 (only x1/y1 can be: 0 <= x0 <= in_w - 1). */
        const float q11 = row0[(size_t)x0 * channels + c];
        const float q21 = has_x1 ? row0[(size_t)x1 * channels + c] : 0.0f;
        const float q12 = has_y1 ? row1[(size_t)x0 * channels + c] : 0.0f;
        const float q22 = has_x1 && has_y1 ? row1[(size_t)x1 * channels + c] : 0.0f;
        const float upper_v = (1.0 - right) * q11 + right * q21;
        const float lower_v = (1.0 - right) * q12 + right * q22;
        out[c] = lower * lower_v + (1.0 - lower) * upper_v;
      }
    }
  }
}

void gz_transform_landmarks(const float* landmarks, int n, int dims, const float* matrix,
                            float* output) {
  const float xt[4] = {matrix[0], matrix[1], matrix[2], matrix[3]};
  const float yt[4] = {matrix[4], matrix[5], matrix[6], matrix[7]};
  for (int i = 0; i < n; ++i) {
    const float* p = landmarks + (size_t)i * dims;
    float* q = output + (size_t)i * dims;
    const float x = p[0], y = p[1];
    const float z = dims == 3 ? p[2] : 0.0f;
    q[0] = dot4(xt, x, y, 0.0f, 1.0f);
    q[1] = dot4(yt, x, y, 0.0f, 1.0f);
    if (dims == 3) q[2] = z;
  }
}
