#include "hf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int calm_hf_open(calm_hf *hf, const char *dir, calm_err *e) {
    memset(hf, 0, sizeof *hf);
    snprintf(hf->dir, sizeof hf->dir, "%s", dir);
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    hf->config = calm_read_json(path, e, 1);
    return hf->config ? 0 : -1;
}

static int add_file(calm_hf *hf, const char *name, calm_err *e) {
    for (int i = 0; i < hf->n_files; i++)
        if (!strcmp(strrchr(hf->files[i].path, '/') + 1, name)) return 0;
    if (strchr(name, '/'))
        return calm_fail(e, "%s: shard name '%s' must be a plain file name", hf->dir, name);
    st_file *nf = realloc(hf->files, (size_t)(hf->n_files + 1) * sizeof *nf);
    if (!nf) return calm_fail(e, "%s: out of memory", hf->dir);
    hf->files = nf;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", hf->dir, name);
    if (st_open(&hf->files[hf->n_files], path, e)) return -1;
    hf->n_files++;
    return 0;
}

int calm_hf_open_weights(calm_hf *hf, calm_err *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", hf->dir);
    calm_err je = {{0}};
    cJSON *idx = calm_read_json(path, &je, 0);
    if (je.msg[0]) return calm_fail(e, "%s", je.msg);
    if (idx) {
        cJSON *wm = cJSON_GetObjectItem(idx, "weight_map");
        int rc = cJSON_IsObject(wm) ? 0 : calm_fail(e, "%s: no weight_map object", path);
        for (cJSON *it = wm ? wm->child : NULL; it && !rc; it = it->next)
            rc = cJSON_IsString(it)
                     ? add_file(hf, it->valuestring, e)
                     : calm_fail(e, "%s: weight_map values must be file names", path);
        cJSON_Delete(idx);
        return rc;
    }
    DIR *d = opendir(hf->dir);
    if (!d) return calm_fail(e, "%s: cannot open directory", hf->dir);
    int rc = 0;
    for (struct dirent *de; (de = readdir(d)) && !rc;) {
        size_t l = strlen(de->d_name);
        if (l > 12 && !strcmp(de->d_name + l - 12, ".safetensors"))
            rc = add_file(hf, de->d_name, e);
    }
    closedir(d);
    if (!rc && hf->n_files == 0) rc = calm_fail(e, "%s: no *.safetensors files", hf->dir);
    return rc;
}

void calm_hf_close(calm_hf *hf) {
    for (int i = 0; i < hf->n_files; i++) st_close(&hf->files[i]);
    free(hf->files);
    cJSON_Delete(hf->config);
    memset(hf, 0, sizeof *hf);
}
