// Tensor element types and their traits: ggml's ids and block layouts, so GGUF files keep their types.
#ifndef CALM_TYPES_H
#define CALM_TYPES_H

#include <stdint.h>
#include <stddef.h>

typedef enum {
    CALM_TYPE_F32 = 0,
    CALM_TYPE_F16 = 1,
    CALM_TYPE_Q4_0 = 2,
    CALM_TYPE_Q4_1 = 3,
    CALM_TYPE_Q8_0 = 8,
    CALM_TYPE_BF16 = 30,
    CALM_TYPE_COUNT = 40, // ids below this index the traits table
} calm_type;

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

typedef struct {
    const char *name;
    int block_size;     // elements per block
    size_t type_size;   // bytes per block
    int supported;      // calm can read it
    void (*to_float)(const void *src, float *dst, int64_t n); // n is a multiple of block_size
} calm_type_traits;

const calm_type_traits *calm_type_get(uint32_t type); // NULL for ids calm does not know

// Bytes of a row of n elements; 0 if n is not a multiple of the block size.
size_t calm_row_size(uint32_t type, int64_t n);

float calm_f16_to_f32(calm_f16 h);
calm_f16 calm_f32_to_f16(float f);
float calm_bf16_to_f32(calm_bf16 h);
calm_bf16 calm_f32_to_bf16(float f);

#endif
