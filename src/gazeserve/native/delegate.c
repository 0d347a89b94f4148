/*
 * gazeserve's external TFLite delegate for MediaPipe's attention face mesh
 * (`face_landmark_with_attention.tflite`).
 *
 * Stock LiteRT does not know the model's three MediaPipe custom ops. Its interpreter still builds
 * the graph, with placeholder nodes for them, and only fails when it prepares those nodes. This
 * delegate, loaded with `ai_edge_litert.interpreter.load_delegate`, claims exactly those nodes
 * (Landmarks2TransformMatrix, TransformTensorBilinear, TransformLandmarks, op version 2) and runs
 * them with mediapipe_ops.c; everything else stays with LiteRT (XNNPACK). It sets
 * kTfLiteDelegateFlagsAllowDynamicTensors, which makes the runtime skip preparing the original
 * graph (where the placeholders would fail) before handing it to us.
 *
 * Entry points: the external-delegate interface (`tflite_plugin_create_delegate`,
 * `tflite_plugin_destroy_delegate`, as in TFLite's
 * `delegates/external/external_delegate_interface.h`) plus introspection used by the Python
 * loader's self-check: `gz_abi_layout_json` (sizes and offsets of our header's structs) and
 * `gz_delegate_report_json` (what the delegate read from the runtime's graph).
 *
 * One delegate instance serves one interpreter. Kernels keep no global state.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mediapipe_ops.h"
#include "tflite_abi.h"

#define GZ_KERNEL_NAME "GazeserveMediaPipeOps"
#define GZ_DELEGATE_MAGIC 0x475A4D50u /* "GZMP" */
#define GZ_MAX_DIMS 8

/* Delegates and kernels alive in this process: lets tests see that the runtime frees what it
 * asked us to create (create/destroy cycles must return to the same count). */
static atomic_long live_objects;

static const char* const kL2tm = "Landmarks2TransformMatrix";
static const char* const kTtb = "TransformTensorBilinear";
static const char* const kTl = "TransformLandmarks";

/* ------------------------------------------------------------------------------------------ */
/* A growable text buffer for the JSON report. */

typedef struct Text {
  char* data;
  size_t len;
  size_t cap;
  int failed;
} Text;

static void text_printf(Text* t, const char* fmt, ...) {
  if (t->failed) return;
  for (;;) {
    va_list args;
    va_start(args, fmt);
    const size_t room = t->cap - t->len;
    const int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? room : 0, fmt, args);
    va_end(args);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if (t->data != NULL && (size_t)n < room) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->len <= (size_t)n) cap *= 2;
    char* grown = realloc(t->data, cap);
    if (grown == NULL) {
      t->failed = 1;
      return;
    }
    t->data = grown;
    t->cap = cap;
  }
}

static void text_json_string(Text* t, const char* s) {
  text_printf(t, "\"");
  for (const unsigned char* p = (const unsigned char*)(s ? s : ""); *p; ++p) {
    if (*p == '"' || *p == '\\') {
      text_printf(t, "\\%c", *p);
    } else if (*p < 0x20 || *p >= 0x7f) {
      text_printf(t, "\\u%04x", *p);
    } else {
      text_printf(t, "%c", *p);
    }
  }
  text_printf(t, "\"");
}

static void text_reset(Text* t) {
  free(t->data);
  memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------------------------------ */
/* One claimed op, described from its original node. */

typedef enum OpKind { OP_L2TM = 0, OP_TTB = 1, OP_TL = 2 } OpKind;

typedef struct Op {
  OpKind kind;
  int node_index;
  int inputs[2];
  int num_inputs;
  int output;
  GzL2tmOptions l2tm;
  GzTtbOptions ttb;
} Op;

static int op_kind(const TfLiteRegistration* reg, OpKind* kind) {
  if (reg == NULL || reg->builtin_code != kGzBuiltinCustom || reg->custom_name == NULL) return 0;
  if (strcmp(reg->custom_name, kL2tm) == 0) {
    *kind = OP_L2TM;
  } else if (strcmp(reg->custom_name, kTtb) == 0) {
    *kind = OP_TTB;
  } else if (strcmp(reg->custom_name, kTl) == 0) {
    *kind = OP_TL;
  } else {
    return 0;
  }
  return 1;
}

static const char* kind_name(OpKind kind) {
  return kind == OP_L2TM ? kL2tm : kind == OP_TTB ? kTtb : kTl;
}

/* Reads a claimed node's tensors and options. Returns 0, or -1 with a reason in `error`. */
static int describe_node(TfLiteContext* context, int node_index, Op* op, char* error,
                         size_t error_size) {
  TfLiteNode* node = NULL;
  TfLiteRegistration* reg = NULL;
  memset(op, 0, sizeof(*op));
  if (context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk ||
      node == NULL || !op_kind(reg, &op->kind)) {
    snprintf(error, error_size, "node %d is not a MediaPipe custom op", node_index);
    return -1;
  }
  op->node_index = node_index;
  const int want_inputs = op->kind == OP_L2TM ? 1 : 2;
  if (node->inputs == NULL || node->outputs == NULL || node->inputs->size != want_inputs ||
      node->outputs->size != 1) {
    snprintf(error, error_size, "node %d (%s): expected %d input(s) and 1 output", node_index,
             kind_name(op->kind), want_inputs);
    return -1;
  }
  op->num_inputs = want_inputs;
  for (int i = 0; i < want_inputs; ++i) op->inputs[i] = node->inputs->data[i];
  op->output = node->outputs->data[0];
  const int tensors[3] = {op->inputs[0], op->num_inputs > 1 ? op->inputs[1] : op->inputs[0],
                          op->output};
  for (int i = 0; i < 3; ++i) {
    if (tensors[i] < 0 || (size_t)tensors[i] >= context->tensors_size) {
      snprintf(error, error_size, "node %d (%s): tensor index %d out of range", node_index,
               kind_name(op->kind), tensors[i]);
      return -1;
    }
  }
  const uint8_t* options = (const uint8_t*)node->custom_initial_data;
  const size_t options_size =
      node->custom_initial_data_size > 0 ? (size_t)node->custom_initial_data_size : 0;
  char why[200] = "";
  int status = 0;
  if (op->kind == OP_L2TM) {
    status = gz_parse_l2tm_options(options, options_size, &op->l2tm, why, sizeof(why));
  } else if (op->kind == OP_TTB) {
    status = gz_parse_ttb_options(options, options_size, &op->ttb, why, sizeof(why));
  }
  if (status != 0) {
    snprintf(error, error_size, "node %d (%s): %s", node_index, kind_name(op->kind), why);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Tensor checks shared by the kernel's prepare. */

static size_t num_elements(const TfLiteTensor* t) {
  size_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= (size_t)(t->dims->data[i] > 0 ? t->dims->data[i] : 0);
  return n;
}

static int is_float_with_rank(const TfLiteTensor* t, int rank) {
  return t->type == kTfLiteFloat32 && t->dims != NULL && t->dims->size == rank &&
         t->dims->size <= GZ_MAX_DIMS && t->bytes == num_elements(t) * sizeof(float);
}

static int is_matrix(const TfLiteTensor* t) {
  return t->type == kTfLiteFloat32 && t->dims != NULL && t->dims->size <= GZ_MAX_DIMS &&
         num_elements(t) == 16 && t->bytes == 16 * sizeof(float);
}

static int same_dims(const TfLiteTensor* a, const TfLiteTensor* b) {
  if (a->dims->size != b->dims->size) return 0;
  for (int i = 0; i < a->dims->size; ++i) {
    if (a->dims->data[i] != b->dims->data[i]) return 0;
  }
  return 1;
}

static TfLiteStatus check_op_tensors(TfLiteContext* context, const Op* op) {
  const TfLiteTensor* in = &context->tensors[op->inputs[0]];
  const TfLiteTensor* out = &context->tensors[op->output];
  const char* name = kind_name(op->kind);
  if (op->kind == OP_L2TM) {
    if (!is_float_with_rank(in, 3) || in->dims->data[0] != 1 || in->dims->data[2] != 3 ||
        !is_matrix(out)) {
      context->ReportError(context, "%s node %d: expected float [1,N,3] -> 16 floats", name,
                           op->node_index);
      return kTfLiteError;
    }
    const int n = in->dims->data[1];
    int bad = op->l2tm.left_rotation_idx >= n || op->l2tm.right_rotation_idx >= n;
    for (int i = 0; i < op->l2tm.subset_size; ++i) bad |= op->l2tm.subset[i] >= n;
    if (bad) {
      context->ReportError(context, "%s node %d: landmark index >= %d", name, op->node_index, n);
      return kTfLiteError;
    }
    return kTfLiteOk;
  }
  const TfLiteTensor* matrix = &context->tensors[op->inputs[1]];
  if (!is_matrix(matrix)) {
    context->ReportError(context, "%s node %d: second input is not a 4x4 float matrix", name,
                         op->node_index);
    return kTfLiteError;
  }
  if (op->kind == OP_TTB) {
    if (!is_float_with_rank(in, 4) || !is_float_with_rank(out, 4) || in->dims->data[0] != 1 ||
        out->dims->data[0] != 1 || in->dims->data[3] != out->dims->data[3] ||
        (op->ttb.output_height > 0 && out->dims->data[1] != op->ttb.output_height) ||
        (op->ttb.output_width > 0 && out->dims->data[2] != op->ttb.output_width)) {
      context->ReportError(context, "%s node %d: expected float [1,H,W,C] -> [1,%d,%d,C]", name,
                           op->node_index, op->ttb.output_height, op->ttb.output_width);
      return kTfLiteError;
    }
    return kTfLiteOk;
  }
  if (!is_float_with_rank(in, 3) || in->dims->data[0] != 1 ||
      (in->dims->data[2] != 2 && in->dims->data[2] != 3) || out->type != kTfLiteFloat32 ||
      out->dims == NULL || !same_dims(in, out) || out->bytes != in->bytes) {
    context->ReportError(context, "%s node %d: expected float [1,N,2|3] -> same shape", name,
                         op->node_index);
    return kTfLiteError;
  }
  return kTfLiteOk;
}

/* ------------------------------------------------------------------------------------------ */
/* The delegate kernel: one per connected group of claimed nodes. */

typedef struct Kernel {
  int num_ops;
  Op* ops;
  /* Outputs that no node outside the kernel reads get no memory from the runtime's arena;
   * they live here instead (one buffer per op, NULL where the runtime's tensor is used). */
  float** scratch;
} Kernel;

static void kernel_free(TfLiteContext* context, void* buffer) {
  (void)context;
  Kernel* k = (Kernel*)buffer;
  if (k == NULL) return;
  if (k->scratch != NULL) {
    for (int i = 0; i < k->num_ops; ++i) free(k->scratch[i]);
  }
  free(k->scratch);
  free(k->ops);
  free(k);
  atomic_fetch_sub(&live_objects, 1);
}

static void* kernel_init(TfLiteContext* context, const char* buffer, size_t length) {
  (void)length;
  const TfLiteDelegateParams* params = (const TfLiteDelegateParams*)buffer;
  if (params == NULL || params->nodes_to_replace == NULL) return NULL;
  const int n = params->nodes_to_replace->size;
  Kernel* k = calloc(1, sizeof(Kernel));
  if (k == NULL) return NULL;
  atomic_fetch_add(&live_objects, 1);
  k->ops = calloc((size_t)(n > 0 ? n : 1), sizeof(Op));
  k->scratch = calloc((size_t)(n > 0 ? n : 1), sizeof(float*));
  if (k->ops == NULL || k->scratch == NULL) {
    kernel_free(context, k);
    return NULL;
  }
  k->num_ops = n;
  for (int i = 0; i < n; ++i) {
    char error[256];
    if (describe_node(context, params->nodes_to_replace->data[i], &k->ops[i], error,
                      sizeof(error)) != 0) {
      context->ReportError(context, "%s: %s", GZ_KERNEL_NAME, error);
      kernel_free(context, k);
      return NULL;
    }
  }
  return k;
}

static int int_array_contains(const TfLiteIntArray* a, int value) {
  for (int i = 0; a != NULL && i < a->size; ++i) {
    if (a->data[i] == value) return 1;
  }
  return 0;
}

static TfLiteStatus kernel_prepare(TfLiteContext* context, TfLiteNode* node) {
  Kernel* k = (Kernel*)node->user_data;
  if (k == NULL) {
    context->ReportError(context, "%s: kernel failed to initialise", GZ_KERNEL_NAME);
    return kTfLiteError;
  }
  for (int i = 0; i < k->num_ops; ++i) {
    const Op* op = &k->ops[i];
    if (check_op_tensors(context, op) != kTfLiteOk) return kTfLiteError;
    free(k->scratch[i]);
    k->scratch[i] = NULL;
    if (!int_array_contains(node->outputs, op->output)) {
      const size_t bytes = context->tensors[op->output].bytes;
      k->scratch[i] = malloc(bytes > 0 ? bytes : 1);
      if (k->scratch[i] == NULL) {
        context->ReportError(context, "%s: out of memory", GZ_KERNEL_NAME);
        return kTfLiteError;
      }
    }
  }
  return kTfLiteOk;
}

/* The data of tensor `index` as this kernel sees it: a scratch buffer when an earlier op of the
 * kernel produced it there, else the runtime's buffer. */
static float* tensor_data(TfLiteContext* context, const Kernel* k, int upto, int index) {
  for (int i = upto - 1; i >= 0; --i) {
    if (k->ops[i].output == index && k->scratch[i] != NULL) return k->scratch[i];
  }
  return context->tensors[index].data.f;
}

static TfLiteStatus kernel_invoke(TfLiteContext* context, TfLiteNode* node) {
  const Kernel* k = (const Kernel*)node->user_data;
  if (k == NULL) return kTfLiteError;
  for (int i = 0; i < k->num_ops; ++i) {
    const Op* op = &k->ops[i];
    const TfLiteTensor* in = &context->tensors[op->inputs[0]];
    const TfLiteTensor* out = &context->tensors[op->output];
    const float* in_data = tensor_data(context, k, i, op->inputs[0]);
    const float* matrix = op->num_inputs > 1 ? tensor_data(context, k, i, op->inputs[1]) : NULL;
    float* out_data = k->scratch[i] != NULL ? k->scratch[i] : out->data.f;
    if (in_data == NULL || out_data == NULL || (op->num_inputs > 1 && matrix == NULL)) {
      context->ReportError(context, "%s: node %d has an unallocated tensor", GZ_KERNEL_NAME,
                           op->node_index);
      return kTfLiteError;
    }
#ifdef GZ_FAULT_SHIFTED_SAMPLES
    /* Test builds only (tests/.../test_attention_fallback.py): a delegate that loads and runs
     * but samples the feature map 0.75 px off, which only the stored test vector can catch. */
    float shifted[16];
    if (matrix != NULL && op->kind == OP_TTB) {
      memcpy(shifted, matrix, sizeof(shifted));
      shifted[3] += 0.75f;
      matrix = shifted;
    }
#endif
    switch (op->kind) {
      case OP_L2TM:
        if (gz_landmarks_to_transform_matrix(&op->l2tm, in_data, in->dims->data[1], out_data)) {
          context->ReportError(context, "%s: bad landmark index", kL2tm);
          return kTfLiteError;
        }
        break;
      case OP_TTB:
        gz_transform_tensor_bilinear(in_data, in->dims->data[1], in->dims->data[2],
                                     in->dims->data[3], matrix, out_data, out->dims->data[1],
                                     out->dims->data[2]);
        break;
      case OP_TL:
        gz_transform_landmarks(in_data, in->dims->data[1], in->dims->data[2], matrix, out_data);
        break;
    }
  }
  return kTfLiteOk;
}

/* ------------------------------------------------------------------------------------------ */
/* The delegate. */

typedef struct DelegateState {
  uint32_t magic;
  int prepare_calls;
  int claimed;
  Text report; /* JSON written by the last Prepare */
} DelegateState;

static void report_tensor(Text* t, const TfLiteContext* context, int index) {
  const TfLiteTensor* tensor = &context->tensors[index];
  text_printf(t, "{\"index\":%d,\"name\":", index);
  text_json_string(t, tensor->name);
  text_printf(t, ",\"type\":%d,\"bytes\":%zu,\"dims\":[", (int)tensor->type, tensor->bytes);
  for (int i = 0; tensor->dims != NULL && i < tensor->dims->size && i < GZ_MAX_DIMS; ++i) {
    text_printf(t, "%s%d", i ? "," : "", tensor->dims->data[i]);
  }
  text_printf(t, "]}");
}

static void report_op(Text* t, const TfLiteContext* context, const Op* op, int reg_version) {
  text_printf(t, "{\"node\":%d,\"op\":\"%s\",\"registration_version\":%d,\"inputs\":[",
              op->node_index, kind_name(op->kind), reg_version);
  for (int i = 0; i < op->num_inputs; ++i) {
    if (i) text_printf(t, ",");
    report_tensor(t, context, op->inputs[i]);
  }
  text_printf(t, "],\"outputs\":[");
  report_tensor(t, context, op->output);
  text_printf(t, "]");
  if (op->kind == OP_L2TM) {
    text_printf(t, ",\"options\":{\"left_rotation_idx\":%d,\"right_rotation_idx\":%d,"
                   "\"output_width\":%d,\"output_height\":%d,\"scale_x\":%.9g,\"scale_y\":%.9g,"
                   "\"target_rotation_radians\":%.9g,\"subset_size\":%d}",
                op->l2tm.left_rotation_idx, op->l2tm.right_rotation_idx, op->l2tm.output_width,
                op->l2tm.output_height, op->l2tm.scale_x, op->l2tm.scale_y,
                op->l2tm.target_rotation_radians, op->l2tm.subset_size);
  }
  text_printf(t, "}");
}

static TfLiteStatus delegate_prepare(TfLiteContext* context, TfLiteDelegate* delegate) {
  DelegateState* state = (DelegateState*)delegate->data_;
  text_reset(&state->report);
  state->prepare_calls++;
  state->claimed = 0;
  Text* t = &state->report;

  TfLiteIntArray* plan = NULL;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == NULL) {
    text_printf(t, "{\"error\":\"GetExecutionPlan failed\"}");
    return kTfLiteDelegateError;
  }
  const int plan_size = plan->size;
  TfLiteIntArray* nodes = malloc(sizeof(TfLiteIntArray) + sizeof(int) * (size_t)(plan_size + 1));
  int* node_ids = malloc(sizeof(int) * (size_t)(plan_size + 1));
  if (nodes == NULL || node_ids == NULL) {
    free(nodes);
    free(node_ids);
    text_printf(t, "{\"error\":\"out of memory\"}");
    return kTfLiteDelegateError;
  }
  /* Copy the plan first: GetNodeAndRegistration may not keep it valid. */
  for (int i = 0; i < plan_size; ++i) node_ids[i] = plan->data[i];
  nodes->size = 0;

  char error[256] = "";
  text_printf(t, "{\"kernel\":\"%s\",\"tensors_size\":%zu,\"plan_size\":%d,\"claimed\":[",
              GZ_KERNEL_NAME, context->tensors_size, plan_size);
  for (int i = 0; i < plan_size; ++i) {
    TfLiteNode* node = NULL;
    TfLiteRegistration* reg = NULL;
    OpKind kind;
    if (context->GetNodeAndRegistration(context, node_ids[i], &node, &reg) != kTfLiteOk ||
        !op_kind(reg, &kind)) {
      continue;
    }
    Op op;
    if (describe_node(context, node_ids[i], &op, error, sizeof(error)) != 0) break;
    if (nodes->size) text_printf(t, ",");
    report_op(t, context, &op, reg->version);
    nodes->data[nodes->size++] = node_ids[i];
  }
  text_printf(t, "],\"error\":");
  text_json_string(t, error);
  text_printf(t, "}");
  free(node_ids);

  TfLiteStatus status = kTfLiteOk;
  if (error[0] != '\0') {
    /* All or nothing: a model we do not fully understand is not run half by us. */
    context->ReportError(context, "%s: %s", GZ_KERNEL_NAME, error);
    status = kTfLiteDelegateError;
  } else if (t->failed) {
    context->ReportError(context, "%s: out of memory", GZ_KERNEL_NAME);
    status = kTfLiteDelegateError;
  } else if (nodes->size > 0) {
    TfLiteRegistration reg;
    memset(&reg, 0, sizeof(reg));
    reg.init = kernel_init;
    reg.free = kernel_free;
    reg.prepare = kernel_prepare;
    reg.invoke = kernel_invoke;
    reg.builtin_code = kGzBuiltinDelegate;
    reg.custom_name = GZ_KERNEL_NAME;
    reg.version = 1;
    status = context->ReplaceNodeSubsetsWithDelegateKernels(context, reg, nodes, delegate);
    if (status == kTfLiteOk) state->claimed = nodes->size;
  }
  free(nodes);
  return status;
}

GZ_EXPORT TfLiteDelegate* tflite_plugin_create_delegate(const char* const* options_keys,
                                                        const char* const* options_values,
                                                        size_t num_options,
                                                        void (*report_error)(const char*)) {
  (void)options_values;
  /* Python's ctypes passes the count as a C int: read only its low 32 bits. */
  if ((int)num_options != 0) {
    if (report_error != NULL) {
      char message[160];
      snprintf(message, sizeof(message), "%s takes no options (got '%s')", GZ_KERNEL_NAME,
               options_keys && options_keys[0] ? options_keys[0] : "?");
      report_error(message);
    }
    return NULL;
  }
  TfLiteDelegate* delegate = calloc(1, sizeof(TfLiteDelegate));
  DelegateState* state = calloc(1, sizeof(DelegateState));
  if (delegate == NULL || state == NULL) {
    free(delegate);
    free(state);
    if (report_error != NULL) report_error("out of memory");
    return NULL;
  }
  atomic_fetch_add(&live_objects, 1);
  state->magic = GZ_DELEGATE_MAGIC;
  delegate->data_ = state;
  delegate->Prepare = delegate_prepare;
  delegate->flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  delegate->opaque_delegate_builder = NULL;
  return delegate;
}

static DelegateState* our_state(const TfLiteDelegate* delegate) {
  if (delegate == NULL || delegate->Prepare != delegate_prepare || delegate->data_ == NULL)
    return NULL;
  DelegateState* state = (DelegateState*)delegate->data_;
  return state->magic == GZ_DELEGATE_MAGIC ? state : NULL;
}

GZ_EXPORT void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  DelegateState* state = our_state(delegate);
  if (state != NULL) {
    text_reset(&state->report);
    state->magic = 0;
    free(state);
    atomic_fetch_sub(&live_objects, 1);
  }
  free(delegate);
}

/* Delegates plus kernels currently allocated by this library. */
GZ_EXPORT long gz_live_objects(void) { return atomic_load(&live_objects); }

/* Copies t into buf (NUL-terminated, truncated to size) and frees it; returns t's full length,
 * or -1 when building t ran out of memory. */
static int text_copy_out(Text* t, char* buf, size_t size) {
  const int len = t->failed ? -1 : (int)t->len;
  if (!t->failed && buf != NULL && size > 0) {
    const size_t n = t->len < size - 1 ? t->len : size - 1;
    memcpy(buf, t->data, n);
    buf[n] = '\0';
  }
  text_reset(t);
  return len;
}

/* The delegate's report of its last Prepare as JSON; -1 for a pointer that is not ours. */
GZ_EXPORT int gz_delegate_report_json(const TfLiteDelegate* delegate, char* buf, size_t size) {
  const DelegateState* state = our_state(delegate);
  if (state == NULL) return -1;
  Text t = {0};
  text_printf(&t, "{\"prepare_calls\":%d,\"claimed_nodes\":%d,\"last\":%s}",
              state->prepare_calls, state->claimed,
              state->report.data ? state->report.data : "null");
  return text_copy_out(&t, buf, size);
}

#define LAYOUT(T, F) text_printf(&t, "%s\"offsetof(" #T "." #F ")\":%zu", \
                                 t.len > 1 ? "," : "", offsetof(T, F))
#define SIZE(T) text_printf(&t, "%s\"sizeof(" #T ")\":%zu", t.len > 1 ? "," : "", sizeof(T))

/* sizeof/offsetof of every struct member in tflite_abi.h, as JSON. */
GZ_EXPORT int gz_abi_layout_json(char* buf, size_t size) {
  Text t = {0};
  text_printf(&t, "{");
  SIZE(void*);
  SIZE(size_t);
  SIZE(int);
  SIZE(TfLiteIntArray);
  LAYOUT(TfLiteIntArray, data);
  SIZE(TfLiteQuantizationParams);
  SIZE(TfLiteQuantization);
  SIZE(TfLiteTensor);
  LAYOUT(TfLiteTensor, type);
  LAYOUT(TfLiteTensor, data);
  LAYOUT(TfLiteTensor, dims);
  LAYOUT(TfLiteTensor, params);
  LAYOUT(TfLiteTensor, allocation_type);
  LAYOUT(TfLiteTensor, bytes);
  LAYOUT(TfLiteTensor, allocation);
  LAYOUT(TfLiteTensor, name);
  LAYOUT(TfLiteTensor, delegate);
  LAYOUT(TfLiteTensor, buffer_handle);
  LAYOUT(TfLiteTensor, data_is_stale);
  LAYOUT(TfLiteTensor, is_variable);
  LAYOUT(TfLiteTensor, quantization);
  LAYOUT(TfLiteTensor, sparsity);
  LAYOUT(TfLiteTensor, dims_signature);
  SIZE(TfLiteNode);
  LAYOUT(TfLiteNode, inputs);
  LAYOUT(TfLiteNode, outputs);
  LAYOUT(TfLiteNode, user_data);
  LAYOUT(TfLiteNode, builtin_data);
  LAYOUT(TfLiteNode, custom_initial_data);
  LAYOUT(TfLiteNode, custom_initial_data_size);
  LAYOUT(TfLiteNode, delegate);
  SIZE(TfLiteRegistration);
  LAYOUT(TfLiteRegistration, init);
  LAYOUT(TfLiteRegistration, free);
  LAYOUT(TfLiteRegistration, prepare);
  LAYOUT(TfLiteRegistration, invoke);
  LAYOUT(TfLiteRegistration, builtin_code);
  LAYOUT(TfLiteRegistration, custom_name);
  LAYOUT(TfLiteRegistration, version);
  LAYOUT(TfLiteRegistration, registration_external);
  LAYOUT(TfLiteRegistration, async_kernel);
  LAYOUT(TfLiteRegistration, inplace_operator);
  LAYOUT(TfLiteContext, tensors_size);
  LAYOUT(TfLiteContext, GetExecutionPlan);
  LAYOUT(TfLiteContext, tensors);
  LAYOUT(TfLiteContext, ResizeTensor);
  LAYOUT(TfLiteContext, ReportError);
  LAYOUT(TfLiteContext, GetNodeAndRegistration);
  LAYOUT(TfLiteContext, ReplaceNodeSubsetsWithDelegateKernels);
  SIZE(TfLiteDelegateParams);
  LAYOUT(TfLiteDelegateParams, nodes_to_replace);
  SIZE(TfLiteDelegate);
  LAYOUT(TfLiteDelegate, data_);
  LAYOUT(TfLiteDelegate, Prepare);
  LAYOUT(TfLiteDelegate, flags);
  LAYOUT(TfLiteDelegate, opaque_delegate_builder);
  text_printf(&t, "}");
  return text_copy_out(&t, buf, size);
}
