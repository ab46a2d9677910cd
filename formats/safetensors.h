// safetensors reader (mmap, header checked against the file) and writer.
#ifndef CALM_SAFETENSORS_H
#define CALM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/status.h"

typedef struct {
    char *name;
    uint32_t type; // calm_type: F32, F16 or BF16
    int n_dims;
    int64_t shape[4]; // as stored: shape[0] is the slowest-varying (rows)
    const void *data;
    size_t nbytes;
} st_tensor;

typedef struct {
    char path[1024];
    void *map;
    size_t size;
    st_tensor *tensors;
    int n_tensors;
} st_file;

int st_open(st_file *f, const char *path, calm_err *e);
// Parses an image in memory (not owned); used by st_open and the tests.
int st_parse(st_file *f, const void *buf, size_t size, const char *name, calm_err *e);
void st_close(st_file *f);

typedef struct {
    const char *name;
    uint32_t type;
    int n_dims;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} st_wtensor;

int st_write(const char *path, const st_wtensor *t, int n, calm_err *e);

#endif
