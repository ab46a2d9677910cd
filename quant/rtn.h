// Round-to-nearest into one row of a quantized type (asymmetric for calm's qgB_G, docs/FORMATS.md).
#ifndef CALM_RTN_H
#define CALM_RTN_H

#include <stdint.h>

// Quantizes n weights into out (calm_row_size(type, n) bytes); -1 if type has no grid.
int calm_rtn_row(const float *x, int n, uint32_t type, uint8_t *out);

#endif
