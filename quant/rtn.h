// Round-to-nearest quantization into calm's group formats (docs/FORMATS.md): per group of g
// weights, asymmetric, w ~ d * q + m with q in [0, 2^b - 1].
#ifndef CALM_RTN_H
#define CALM_RTN_H

#include <stdint.h>

// Quantizes n weights (n a multiple of g) into out (calm_row_size(type, n) bytes).
void calm_rtn_row(const float *x, int n, int bits, int g, uint8_t *out);
// Packs g codes (each < 2^bits) of one group into the layout calm_qg_unpack reads.
void calm_qg_pack(const uint8_t *q, int bits, int g, uint8_t *out);

#endif
