// Tensor element types and their traits: ggml's ids and block layouts, so GGUF files keep their
// types.
#ifndef CALM_TYPES_H
#define CALM_TYPES_H

#include <stdint.h>
#include <stddef.h>

typedef enum {
    CALM_TYPE_F32 = 0,
    CALM_TYPE_F16 = 1,
    CALM_TYPE_Q4_0 = 2,
    CALM_TYPE_Q4_1 = 3,
    CALM_TYPE_Q5_0 = 6,
    CALM_TYPE_Q5_1 = 7,
    CALM_TYPE_Q8_0 = 8,
    CALM_TYPE_Q4_K = 12,
    CALM_TYPE_Q5_K = 13,
    CALM_TYPE_Q6_K = 14,
    CALM_TYPE_BF16 = 30,
    // calm's group-quantized formats (docs/FORMATS.md): ids from 64 up, outside ggml's range.
    // One id per (bits, group): CALM_TYPE_QG + 3 * bits_index + group_index, with bits 2, 3, 4, 8
    // and groups 32, 64, 128.
    CALM_TYPE_QG = 64,
    // SmoothQuant's W8A8: per row {f32 d; i32 sum of q; s8 q[n]}, w = d * q; its activations are
    // int8 per token (CALM_ACT_Q8T).
    CALM_TYPE_W8A8 = 76,
    CALM_TYPE_COUNT = 77, // ids below this index the traits table
} calm_type;

// The calm group-quantized type for b bits and group g; -1 if there is none.
int calm_type_qg(int bits, int group);

#define QK4_0 32
#define QK4_1 32
#define QK8_0 32

typedef uint16_t calm_f16;
typedef uint16_t calm_bf16;

typedef struct {
    calm_f16 d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

typedef struct {
    calm_f16 d, m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;

typedef struct {
    calm_f16 d;
    int8_t qs[QK8_0];
} block_q8_0;

// 5-bit: the fifth bits of the 32 weights in a little-endian u32 (bit j: weight j).
typedef struct {
    calm_f16 d;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_0;

typedef struct {
    calm_f16 d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;

#define QK_K 256

// ggml's K-quants: super-blocks of 256 with 6-bit (Q4_K, Q5_K) or 8-bit (Q6_K) sub-block scales.
typedef struct {
    calm_f16 d, dmin;
    uint8_t scales[12]; // 8 scales and 8 mins of 6 bits
    uint8_t qs[QK_K / 2];
} block_q4_k;

typedef struct {
    calm_f16 d, dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_k;

typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    calm_f16 d;
} block_q6_k;

// Activations quantized for integer dot products: blocks of 32 with the scale and d * sum(qs).
typedef struct {
    float d, s;
    int8_t qs[32];
} block_q8x;

// The same activations for tile kernels (AMX): one block of 32 columns of a tile of 16 tokens
// (CALM_GEMM_T). The codes are one A tile, 16 rows of 32 bytes, contiguous; the scales of the 16
// tokens are one vector each. A tile of tokens holds its blocks in column order.
typedef struct {
    int8_t qs[16][32];
    float d[16], s[16];
} block_q8g;

// Activations quantized per token, for W8A8: the header, then n int8 values (rows padded to 64
// bytes, see calm_q8t_stride).
typedef struct {
    float d;
    int32_t s; // sum of the n values
} calm_q8t_head;

static inline size_t calm_q8t_stride(int n) {
    return (sizeof(calm_q8t_head) + (size_t)n + 63) / 64 * 64;
}

typedef enum { CALM_ACT_F32 = 0, CALM_ACT_Q8X = 1, CALM_ACT_Q8T = 2 } calm_act;

// What calm knows of one element type, in the spirit of ggml-cpu's type_traits.
typedef struct {
    const char *name;
    int block_size;   // elements per block
    size_t type_size; // bytes per block
    int supported;    // calm can read it
    // Dequantizes n elements (n a multiple of block_size; for W8A8, one scale per row, exactly one
    // row).
    void (*to_float)(const void *src, float *dst, int64_t n);
    // Quantizes or converts one row of n elements (as to_float) onto the type's default
    // round-to-nearest grid: symmetric for q4_0, q8_0 and w8a8, min/max for q4_1 and calm's qgB_G
    // (what `calm convert --type qgB_G` writes). NULL for types calm cannot write (K-quants, q5_*).
    void (*from_float)(const float *src, void *dst, int64_t n);
    // The activations the type's vec_dot (kernels/kernels.h) takes: f32 rows, q8x blocks or q8t
    // rows; the matmul driver quantizes them once per call.
    calm_act vec_dot_type;
    int symmetric; // the grid has no offset (w = d * q): q4_0, q8_0, w8a8
    int ftype;     // llama.cpp's llama_ftype of a file whose matrices all have this type; -1: none
    int qg_bits;   // calm group formats: bits per weight (0 for other types)
    int qg_group;  // and weights per group; a row's last group may be shorter (a multiple of 32)
} calm_type_traits;

const calm_type_traits *calm_type_get(uint32_t type); // NULL for ids calm does not know

// Bytes of one group of a calm group format with glen weights.
static inline size_t calm_qg_group_bytes(int bits, int glen) {
    return 4 + (size_t)glen * bits / 8;
}

// Bytes of a row of n elements; 0 if n is not a multiple of the block size.
size_t calm_row_size(uint32_t type, int64_t n);

// Unpacks the q values of one group of a calm group format (g <= 128) into out[g].
int calm_qg_unpack(const uint8_t *q, int bits, int g, uint8_t *out);
// Packs g codes (each < 2^bits) of one calm group into that layout (calm_qg_group_bytes - 4 bytes).
void calm_qg_pack(const uint8_t *q, int bits, int g, uint8_t *out);

float calm_f16_to_f32(calm_f16 h);
calm_f16 calm_f32_to_f16(float f);
float calm_bf16_to_f32(calm_bf16 h);
calm_bf16 calm_f32_to_bf16(float f);

#endif
