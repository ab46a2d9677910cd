#include "qformat.h"

#include "../kernels/types.h"

int calm_qfmt_init(calm_qfmt *f, uint32_t type, int sym, calm_err *e) {
    if (!calm_qfmt_grid(f, type, sym)) return 0;
    const calm_type_traits *tt = calm_type_get(type);
    return calm_fail(e, "no quantization grid for type %s (qgB_G, q4_0, q4_1, q8_0, w8a8)",
                     tt ? tt->name : "unknown");
}
