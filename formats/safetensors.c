#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extents.h"
#include "../kernels/types.h"

static int dtype(const char *s, uint32_t *t, size_t *es) {
    if (!strcmp(s, "F32"))
        *t = CALM_TYPE_F32, *es = 4;
    else if (!strcmp(s, "F16"))
        *t = CALM_TYPE_F16, *es = 2;
    else if (!strcmp(s, "BF16"))
        *t = CALM_TYPE_BF16, *es = 2;
    else
        return -1;
    return 0;
}

// Tensors whose bytes overlap are refused, naming the first pair (formats/extents.h says why).
static int check_overlap(const st_file *f, const uint8_t *data, calm_err *e) {
    calm_extent *x = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *x);
    if (!x) return calm_fail(e, "%s: out of memory", f->path);
    for (int i = 0; i < f->n_tensors; i++)
        x[i] = (calm_extent){(uint64_t)((const uint8_t *)f->tensors[i].data - data),
                             f->tensors[i].nbytes, (uint64_t)i};
    uint64_t a, b;
    int rc = calm_extents_overlap(x, (size_t)f->n_tensors, &a, &b)
                 ? calm_fail(e, "%s: tensors '%s' and '%s' overlap", f->path, f->tensors[a].name,
                             f->tensors[b].name)
                 : 0;
    free(x);
    return rc;
}

int st_parse(st_file *f, const void *buf, size_t size, const char *name, calm_err *e) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name);
    uint64_t hlen;
    if (size < 8) return calm_fail(e, "%s: truncated file: no safetensors header", name);
    memcpy(&hlen, buf, 8);
    if (hlen > size - 8 || hlen > (100u << 20))
        return calm_fail(e, "%s: header of %llu bytes does not fit the file (%zu bytes)", name,
                         (unsigned long long)hlen, size);
    const char *h = (const char *)buf + 8;
    cJSON *root = cJSON_ParseWithLength(h, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return calm_fail(e, "%s: the header is not a JSON object", name);
    }
    const uint8_t *data = (const uint8_t *)buf + 8 + hlen;
    size_t dsize = size - 8 - hlen;
    int n = cJSON_GetArraySize(root), rc = 0;
    f->tensors = calloc((size_t)(n ? n : 1), sizeof(st_tensor));
    if (!f->tensors) rc = calm_fail(e, "%s: out of memory", name);
    for (cJSON *it = root->child; it && !rc; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        st_tensor *t = &f->tensors[f->n_tensors];
        cJSON *dt = cJSON_GetObjectItem(it, "dtype"), *sh = cJSON_GetObjectItem(it, "shape");
        cJSON *off = cJSON_GetObjectItem(it, "data_offsets");
        size_t es;
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) ||
            cJSON_GetArraySize(off) != 2) {
            rc = calm_fail(e, "%s: tensor '%s' lacks dtype, shape or data_offsets", name,
                           it->string);
            break;
        }
        if (dtype(dt->valuestring, &t->type, &es)) {
            rc = calm_fail(e, "%s: tensor '%s' has dtype %s (F32, F16, BF16 supported)", name,
                           it->string, dt->valuestring);
            break;
        }
        t->n_dims = cJSON_GetArraySize(sh);
        if (t->n_dims < 1 || t->n_dims > 4) {
            rc = calm_fail(e, "%s: tensor '%s' has %d dimensions (1..4 allowed)", name, it->string,
                           t->n_dims);
            break;
        }
        uint64_t nel = 1;
        for (int d = 0; d < t->n_dims; d++) {
            double v = cJSON_GetArrayItem(sh, d)->valuedouble;
            if (!(v >= 1 && v <= 1e12) || v != (double)(uint64_t)v ||
                (uint64_t)v > (UINT64_MAX / 8) / nel) {
                rc = calm_fail(e, "%s: tensor '%s' has invalid dimension %g", name, it->string, v);
                break;
            }
            t->shape[d] = (int64_t)v;
            nel *= (uint64_t)v;
        }
        if (rc) break;
        double a = cJSON_GetArrayItem(off, 0)->valuedouble,
               b = cJSON_GetArrayItem(off, 1)->valuedouble;
        // whole numbers only: a fraction was once truncated into a shifted, wrong tensor
        if (!(a >= 0 && b >= a && b <= (double)dsize) || a != (double)(uint64_t)a ||
            b != (double)(uint64_t)b || (uint64_t)(b - a) != nel * es) {
            rc = calm_fail(e,
                           "%s: tensor '%s' data_offsets [%.17g, %.17g] do not match its shape "
                           "or the file's %zu data bytes",
                           name, it->string, a, b, dsize);
            break;
        }
        t->data = data + (size_t)a;
        t->nbytes = (size_t)(b - a);
        t->name = strdup(it->string);
        f->n_tensors++;
    }
    cJSON_Delete(root);
    return rc ? rc : check_overlap(f, data, e);
}

int st_open(st_file *f, const char *path, calm_err *e) {
    memset(f, 0, sizeof *f);
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever.
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return calm_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return calm_fail(e, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return calm_fail(e, "%s: truncated file: no safetensors header", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return calm_fail(e, "%s: mmap failed: %s", path, strerror(errno));
    int rc = st_parse(f, map, (size_t)st.st_size, path, e);
    f->map = map;
    f->size = (size_t)st.st_size;
    if (rc) st_close(f);
    return rc;
}

void st_close(st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    if (f->map) munmap(f->map, f->size);
    memset(f, 0, sizeof *f);
}

int st_write(const char *path, const st_wtensor *t, int n, calm_err *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_AddObjectToObject(root, t[i].name);
        cJSON_AddStringToObject(o, "dtype",
                                t[i].type == CALM_TYPE_F32   ? "F32"
                                : t[i].type == CALM_TYPE_F16 ? "F16"
                                                             : "BF16");
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t[i].n_dims; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + t[i].nbytes)));
        off += t[i].nbytes;
    }
    char *h = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!h) return calm_fail(e, "%s: out of memory", path);
    size_t hl = strlen(h), padded = (hl + 7) / 8 * 8; // keep the data 8-byte aligned
    uint64_t hlen = padded;
    FILE *fp = fopen(path, "wb");
    int ok = fp != NULL;
    if (ok) ok = fwrite(&hlen, 8, 1, fp) == 1 && fwrite(h, 1, hl, fp) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
    for (int i = 0; ok && i < n; i++) ok = fwrite(t[i].data, 1, t[i].nbytes, fp) == t[i].nbytes;
    if (fp && fclose(fp)) ok = 0;
    free(h);
    if (!ok) return calm_fail(e, "%s: write failed: %s", path, strerror(errno));
    return 0;
}
