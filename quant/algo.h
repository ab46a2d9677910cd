// The PTQ algorithm pool: one function per algorithm (quant/<name>.c) turns a full-precision
// weight matrix and the statistics of its input into a quantized matrix, plus the input
// transform the kernel must apply at run time (AWQ and SmoothQuant scales, Hadamard rotations).
#ifndef CALM_ALGO_H
#define CALM_ALGO_H

#include <stddef.h>
#include <stdint.h>

#include "qformat.h"
#include "xstats.h"

typedef struct {
    calm_qfmt fmt;   // the grid and storage type of the weights
    float damp;      // GPTQ: lambda as a fraction of the mean Hessian diagonal (0.01)
    int act_order;   // GPTQ: columns by decreasing Hessian diagonal
    int block;       // GPTQ: lazy-update block (128)
    int grid;        // AWQ / HeRo-Q: points of the exponent search (20)
    int clip_search; // AWQ: search a clipping ratio per group
    float alpha;     // SmoothQuant: migration strength (0.5)
    uint64_t seed;   // random signs of the Hadamard rotations
    // AWQ / HeRo-Q: the exponent of the channel scales; < 0 (the default) searches it on the
    // algorithm's grid for this matrix alone. calm_quantize_shared sets it for all the matrices
    // that read one input, so that they share one scale vector.
    float expo;
    // SmoothQuant: max |W[:, c]| over every matrix reading the input (NULL: this matrix's).
    const float *wmax;
} calm_qopts;

void calm_qopts_default(calm_qopts *o);

// A quantized matrix: rows of fmt.type, and the input transform x' = H(x * in_scale).
typedef struct {
    uint32_t type;
    uint8_t *data;
    size_t nbytes;
    float *in_scale; // NULL: none
    int in_rot;      // 1: Hadamard after the scale
    double err;      // relative output error on the calibration inputs (set by the algorithm)
} calm_qlinear;

void calm_qlinear_free(calm_qlinear *q);

// One algorithm: quantizes w (rows x cols, row-major f32) into out, from xs, the statistics of
// the input (may be NULL for RTN and Hadamard).
typedef int calm_quantize_fn(const calm_qopts *o, const float *w, int rows, int cols,
                             const calm_xstats *xs, calm_qlinear *out, calm_err *e);

// How the matrices that read one input come to share one input transform (x' = H(x * in_scale)),
// so that it is applied once per input or folded into what produces the input.
typedef enum {
    CALM_SHARE_FIXED,    // the transform does not depend on the weights (none, or seeded signs)
    CALM_SHARE_EXPONENT, // one exponent (calm_qopts.expo) for all, chosen by their summed error
    CALM_SHARE_WMAX,     // SmoothQuant: the weights' column maxima over all (calm_qopts.wmax)
} calm_share;

typedef struct {
    const char *name;
    calm_quantize_fn *quantize;
    int needs_data; // needs calibration statistics
    const char *about;
    calm_share share;
    // CALM_SHARE_EXPONENT: the exponents the algorithm searches (fills alpha, returns how many,
    // at most CALM_MAX_EXPONENTS); clips: whether the final quantization searches clipping ratios
    // that the search over exponents leaves out (calm_qopts.clip_search).
    int (*exponents)(const calm_qopts *o, float *alpha);
    int clips;
} calm_algo;

#define CALM_MAX_EXPONENTS 64

// The exponent grids of AWQ (k / grid, k = 0 .. grid - 1) and HeRo-Q (k / steps, k = 1 .. steps).
int calm_awq_exponents(const calm_qopts *o, float *alpha);
int calm_hero_exponents(const calm_qopts *o, float *alpha);

// The algorithm of the pool called name, or NULL.
const calm_algo *calm_algo_find(const char *name);

// The algorithms, for the table and for tests.
calm_quantize_fn calm_quantize_rtn, calm_quantize_gptq, calm_quantize_awq,
    calm_quantize_smoothquant, calm_quantize_hadamard, calm_quantize_hero;

// --- shared by the algorithms ---

// GPTQ onto o->fmt with the Hessian h (cols x cols, any positive scale), rows written to data.
int calm_gptq_core(const calm_qopts *o, const float *w, int rows, int cols, const double *h,
                   uint8_t *data, calm_err *e);

// Allocates out->data for rows of the format's type.
int calm_qlinear_alloc(calm_qlinear *q, const calm_qfmt *f, int rows, int cols, calm_err *e);
// For the algorithms that transform the input (x' = H(x * in_scale)): calm_qlinear_alloc plus
// q->in_scale (cols floats) and *wt, a copy of w (rows x cols) to transform before rounding, which
// the caller frees. `what` names the algorithm in the out-of-memory message.
int calm_qlinear_alloc_transformed(calm_qlinear *q, const calm_qfmt *f, const float *w, int rows,
                                   int cols, float **wt, const char *what, calm_err *e);
// The weights the quantized matrix applies to the original input: dequantized rows with the
// input transform folded back (weff: rows x cols).
void calm_qlinear_effective(const calm_qlinear *q, int rows, int cols, float *weff);
// Output error on the calibration inputs, relative to the output's size:
// tr(dW H dW^T) / tr(W H W^T) with dW = w - weff and H = X^T X / count. h from calm_xstats_h.
double calm_output_error(const float *w, const float *weff, int rows, int cols, const float *h);
// Sets q->err to calm_output_error of q against w (-1 without statistics).
void calm_qlinear_measure(calm_qlinear *q, const float *w, int rows, int cols,
                          const calm_xstats *xs);
// tr(dw h dw^T) for rows of width n: the numerator (dw = w - weff) and denominator (dw = w) of
// calm_output_error, for searches that keep the denominator.
double calm_quad_error(const float *dw, int rows, int n, const float *h);
// calm_output_error with tr(W H W^T) given.
double calm_output_error_den(const float *w, const float *weff, int rows, int cols, const float *h,
                             double den);
// Round to nearest onto f of every row of w (rows x cols) into q->data; clip per row-group from
// clip[] (rows x groups) or 1 when NULL.
void calm_quantize_rows(const calm_qfmt *f, const float *w, int rows, int cols, const float *clip,
                        uint8_t *data);
// Rotation of rows: row <- H(row / v) for v the in_scale (NULL: 1), the offline half of
// x' = H(x * v).
void calm_rotate_rows(float *w, int rows, int cols, const float *v, int rot);
// out = M h M^T for M = R diag(v) (R the Hadamard transform when rot, else I): the Hessian of the
// problem a transformed matrix solves (n x n floats).
void calm_transformed_h(const float *v, int rot, const float *h, int n, float *out);
// The largest eigenvalue of a symmetric n x n matrix (LAPACK ssyevr).
double calm_top_eigenvalue(const float *h, int n);
// Random +-1 signs from a seed (a randomized Hadamard transform, as QuaRot).
void calm_random_signs(float *v, int n, uint64_t seed);

#endif
