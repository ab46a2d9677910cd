#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cJSON *calm_read_json(const char *path, calm_err *e, int required) {
    struct stat st; // a FIFO would block fopen for ever, a directory fail to read
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        calm_fail(e, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (required) calm_fail(e, "%s: cannot open", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (1L << 30) ? malloc((size_t)n + 1) : NULL;
    cJSON *j = NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        j = cJSON_ParseWithLength(buf, (size_t)n);
        if (!j)
            calm_fail(e, "%s: invalid JSON near byte %ld", path,
                      (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - buf : 0));
    } else {
        calm_fail(e, "%s: cannot read", path);
    }
    free(buf);
    fclose(f);
    return j;
}

int calm_write_json(const char *dir, const char *name, cJSON *j, calm_err *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = fopen(path, "wb");
    int ok = s && f && fputs(s, f) >= 0;
    if (f && fclose(f)) ok = 0;
    free(s);
    return ok ? 0 : calm_fail(e, "%s: write failed: %s", path, strerror(errno));
}

static const char *kind(const cJSON *v) {
    return cJSON_IsString(v)   ? "a string"
           : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v)   ? "a boolean"
           : cJSON_IsArray(v)  ? "an array"
           : cJSON_IsObject(v) ? "an object"
                               : "invalid";
}

// The key's value, NULL when absent or null; type checks it when present.
static int field(const cJSON *o, const char *key, cJSON_bool (*is)(const cJSON *), const char *want,
                 const cJSON **v, const char *file, calm_err *e) {
    *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!*v || cJSON_IsNull(*v)) return 1;
    if (!is(*v)) return calm_fail(e, "%s: key '%s' is %s, expected %s", file, key, kind(*v), want);
    return 0;
}

int calm_json_num(const cJSON *o, const char *key, double *out, const char *file, calm_err *e) {
    const cJSON *v;
    int rc = field(o, key, cJSON_IsNumber, "a number", &v, file, e);
    if (rc == 0) *out = v->valuedouble;
    return rc;
}

int calm_json_int(const cJSON *o, const char *key, int *out, const char *file, calm_err *e) {
    const cJSON *v;
    int rc = field(o, key, cJSON_IsNumber, "a whole number", &v, file, e);
    if (rc) return rc;
    double d = v->valuedouble;
    if (!(d >= 0 && d < 1e9) || d != (double)(int)d)
        return calm_fail(e, "%s: key '%s' is %g, expected a whole number from 0 to 1e9", file, key,
                         d);
    *out = (int)d;
    return 0;
}

int calm_json_str(const cJSON *o, const char *key, const char **out, const char *file,
                  calm_err *e) {
    const cJSON *v;
    int rc = field(o, key, cJSON_IsString, "a string", &v, file, e);
    if (rc == 0) *out = v->valuestring;
    return rc;
}

int calm_json_obj(const cJSON *o, const char *key, const cJSON **out, const char *file,
                  calm_err *e) {
    return field(o, key, cJSON_IsObject, "an object", out, file, e);
}
