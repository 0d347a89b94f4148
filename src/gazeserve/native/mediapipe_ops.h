/*
 * MediaPipe's three custom TFLite ops of `face_landmark_with_attention.tflite` (op version 2), as
 * plain functions on float arrays. Semantics follow MediaPipe's
 * `mediapipe/util/tflite/operations/{landmarks_to_transform_matrix,transform_tensor_bilinear,
 * transform_landmarks}.cc`; the float/double mix of their arithmetic is kept so results agree to
 * the last bits. Option parsing (FlexBuffers) lives in options.c.
 */
#ifndef GAZESERVE_NATIVE_MEDIAPIPE_OPS_H_
#define GAZESERVE_NATIVE_MEDIAPIPE_OPS_H_

#include <stddef.h>
#include <stdint.h>

#define GZ_MAX_SUBSET 512

/* Symbols Python (ctypes) and LiteRT (`load_delegate`) look up; everything else is hidden. */
#define GZ_EXPORT __attribute__((visibility("default")))

typedef struct GzL2tmOptions {
  int32_t left_rotation_idx;
  int32_t right_rotation_idx;
  int32_t output_width;
  int32_t output_height;
  float scale_x;
  float scale_y;
  float target_rotation_radians;
  int32_t subset_size;
  int32_t subset[GZ_MAX_SUBSET];
} GzL2tmOptions;

typedef struct GzTtbOptions {
  int32_t output_width;  /* 0 when the options do not say */
  int32_t output_height;
} GzTtbOptions;

/* Landmarks2TransformMatrix v2: landmarks [num_landmarks x 3] -> row-major 4x4 matrix that maps
 * output-grid pixels to landmark (feature-map) coordinates. Returns 0, or -1 when an index in
 * the options is outside [0, num_landmarks). */
GZ_EXPORT int gz_landmarks_to_transform_matrix(const GzL2tmOptions* options,
                                               const float* landmarks, int num_landmarks,
                                               float* matrix);

/* TransformTensorBilinear v2: input [in_h x in_w x channels] (NHWC, batch 1), matrix 4x4 ->
 * output [out_h x out_w x channels]. */
GZ_EXPORT void gz_transform_tensor_bilinear(const float* input, int in_h, int in_w, int channels,
                                            const float* matrix, float* output, int out_h,
                                            int out_w);

/* TransformLandmarks v2: landmarks [n x dims] (dims 2 or 3) through the matrix's x/y rows;
 * z is copied. */
GZ_EXPORT void gz_transform_landmarks(const float* landmarks, int n, int dims,
                                      const float* matrix, float* output);

/* FlexBuffers options -> structs. Return 0, or -1 with a message in `error`. */
GZ_EXPORT int gz_parse_l2tm_options(const uint8_t* data, size_t size, GzL2tmOptions* out,
                                    char* error, size_t error_size);
GZ_EXPORT int gz_parse_ttb_options(const uint8_t* data, size_t size, GzTtbOptions* out,
                                   char* error, size_t error_size);

#endif /* GAZESERVE_NATIVE_MEDIAPIPE_OPS_H_ */
