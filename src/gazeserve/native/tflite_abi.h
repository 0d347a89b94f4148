/*
 * The slice of the TensorFlow Lite C ABI that gazeserve's delegate touches.
 *
 * No Python package ships TFLite's headers, so these are our own declarations of the structs in
 * TFLite's public `tensorflow/lite/core/c/common.h` and `c_api_types.h`, for the runtime inside
 * `ai-edge-litert==2.3.0` (TFLite 2.22.0-dev, the version string in its
 * `libpywrap_litert_common.so`). TFLite keeps these structs "semi-ABI stable": fields are only
 * ever appended. So:
 *
 *   - structs the runtime only hands us a pointer to (TfLiteContext, TfLiteNode,
 *     TfLiteDelegateParams) are declared up to the last field we read;
 *   - structs whose size matters to the runtime are declared whole: TfLiteTensor (we index the
 *     context's tensor array), TfLiteRegistration (passed by value to
 *     ReplaceNodeSubsetsWithDelegateKernels), TfLiteDelegate (we allocate it).
 *
 * `gz_abi_layout_json()` in delegate.c reports sizeof/offsetof of every field below, and the
 * Python loader compares them with the values it expects for this TFLite version before it
 * trusts the library; the delegate also records what it read through these structs so the
 * loader can compare it with the interpreter's own view of the graph (see litert_attention.py).
 */
#ifndef GAZESERVE_NATIVE_TFLITE_ABI_H_
#define GAZESERVE_NATIVE_TFLITE_ABI_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* c_api_types.h */
typedef enum TfLiteStatus {
  kTfLiteOk = 0,
  kTfLiteError = 1,
  kTfLiteDelegateError = 2,
  kTfLiteApplicationError = 3,
} TfLiteStatus;

typedef enum TfLiteType {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
} TfLiteType;

typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

/* common.h */
enum { kGzBuiltinCustom = 32, kGzBuiltinDelegate = 51 }; /* schema BuiltinOperator values */
enum { kTfLiteDelegateFlagsAllowDynamicTensors = 1 };

typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

typedef struct TfLiteQuantization {
  int type; /* TfLiteQuantizationType */
  void* params;
} TfLiteQuantization;

struct TfLiteContext;
struct TfLiteDelegate;
struct TfLiteRegistration;

typedef struct TfLiteTensor {
  TfLiteType type;
  union {
    float* f;
    void* data;
  } data;
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
  int allocation_type; /* TfLiteAllocationType */
  size_t bytes;
  const void* allocation;
  const char* name;
  struct TfLiteDelegate* delegate;
  int buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  void* sparsity;
  const TfLiteIntArray* dims_signature;
#ifdef GZ_FAULT_TENSOR_LAYOUT
  int gz_fault_extra; /* test builds only: a header that disagrees with the runtime */
#endif
} TfLiteTensor;

typedef struct TfLiteNode {
  TfLiteIntArray* inputs;
  TfLiteIntArray* outputs;
  TfLiteIntArray* intermediates;
  TfLiteIntArray* temporaries;
  void* user_data;
  void* builtin_data;
  const void* custom_initial_data;
  int custom_initial_data_size;
  struct TfLiteDelegate* delegate;
  bool might_have_side_effect;
} TfLiteNode;

typedef struct TfLiteRegistration {
  void* (*init)(struct TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(struct TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(struct TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(struct TfLiteContext* context, TfLiteNode* node);
  const char* (*profiling_string)(const struct TfLiteContext* context, const TfLiteNode* node);
  int32_t builtin_code;
  const char* custom_name;
  int version;
  void* registration_external; /* TfLiteOperator* */
  void* async_kernel;          /* TfLiteAsyncKernel* (*)(TfLiteContext*, TfLiteNode*) */
  uint64_t inplace_operator;
} TfLiteRegistration;

/* Declared up to the last member the delegate uses; the runtime owns the real object. */
typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext* context, TfLiteIntArray** execution_plan);
  TfLiteTensor* tensors;
  void* impl_;
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext*, TfLiteTensor* tensor,
                               TfLiteIntArray* new_size);
  void (*ReportError)(struct TfLiteContext*, const char* msg, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext*, int tensors_to_add,
                             int* first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext*, int node_index, TfLiteNode** node,
                                         TfLiteRegistration** registration);
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(struct TfLiteContext*,
                                                        TfLiteRegistration registration,
                                                        const TfLiteIntArray* nodes_to_replace,
                                                        struct TfLiteDelegate* delegate);
  int recommended_num_threads;
} TfLiteContext;

typedef struct TfLiteDelegateParams {
  struct TfLiteDelegate* delegate;
  TfLiteIntArray* nodes_to_replace;
  TfLiteIntArray* input_tensors;
  TfLiteIntArray* output_tensors;
} TfLiteDelegateParams;

typedef struct TfLiteDelegate {
  void* data_;
  TfLiteStatus (*Prepare)(TfLiteContext* context, struct TfLiteDelegate* delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                                       int buffer_handle, TfLiteTensor* tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                                     int buffer_handle, TfLiteTensor* tensor);
  void (*FreeBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate, int* handle);
  int64_t flags;
  void* opaque_delegate_builder; /* must stay NULL: the runtime prefers it over Prepare */
} TfLiteDelegate;

#ifdef __cplusplus
}
#endif

#endif /* GAZESERVE_NATIVE_TFLITE_ABI_H_ */
