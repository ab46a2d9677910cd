// The weight grids of the PTQ algorithms: kernels/grid.h's calm_qfmt, set up with a message when a
// type has none.
#ifndef CALM_QFORMAT_H
#define CALM_QFORMAT_H

#include <stdint.h>

#include "../kernels/grid.h"
#include "../kernels/status.h"

// calm_qfmt_grid (kernels/grid.h); -1 with a message naming the type if it has no grid.
int calm_qfmt_init(calm_qfmt *f, uint32_t type, int sym, calm_err *e);

#endif
