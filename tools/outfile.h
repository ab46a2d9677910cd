// An output file or directory written whole or not at all: the command writes to a temporary name
// next to the output and renames it at the end, so that a Ctrl-C, a full disk or a failed write
// leaves the inputs and any earlier output as they were, and nothing half-written under the
// output's name (the calibration cache trusts any file it finds there).
#ifndef CALM_OUTFILE_H
#define CALM_OUTFILE_H

typedef struct {
    char path[1024]; // where the output goes
    char tmp[1040];  // where it is written: path + ".part", in the same directory
} calm_outfile;

// Checks, before any work, that path can be written: its directory exists and is writable, it is
// not a directory itself unless dir (an HF output), and it is not one of the n inputs (the same
// file by device and inode; NULL entries are skipped), which the writers would overwrite while
// reading them. Fills f, removing a stale f->tmp. 0, or -1 after a one-line error on stderr.
int calm_outfile_begin(calm_outfile *f, const char *path, int dir, const char *const *inputs,
                       int n);
// After the writer ran on f->tmp with result rc: on 0 moves f->tmp to f->path (a directory's files
// one by one into an existing one), otherwise removes f->tmp. Returns rc, or -1 after an error
// on stderr when the rename fails.
int calm_outfile_end(calm_outfile *f, int rc);

#endif
