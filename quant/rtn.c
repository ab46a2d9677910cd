// Round to nearest: every group onto its own min/max (or symmetric max) grid. The baseline of the
// pool and what `calm convert --type qgB_G` writes.
// (calm_rtn_row, kernels/grid.h, is the same rounding for one row with the type's default grid.)
#include "algo.h"

int calm_quantize_rtn(const calm_qopts *o, const float *w, int rows, int cols,
                      const calm_xstats *xs, calm_qlinear *out, calm_err *e) {
    if (calm_qlinear_alloc(out, &o->fmt, rows, cols, e)) return -1;
    calm_quantize_rows(&o->fmt, w, rows, cols, NULL, out->data);
    calm_qlinear_measure(out, w, rows, cols, xs);
    return 0;
}
