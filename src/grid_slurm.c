// The grid's Slurm array script (see include/aca/grid.h): one task per cell, each running
// `aca grid GRID.json --out OUT --cell $SLURM_ARRAY_TASK_ID`.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/grid.h"

static void sh_quote(aca_buf *b, const char *s) {
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') buf_puts(b, "'\\''");
        else buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

// An absolute path (realpath when it exists, else cwd/path).
static char *abs_path(const char *p) {
    char buf[PATH_MAX];
    if (realpath(p, buf)) return xstrdup(buf);
    if (p[0] == '/') return xstrdup(p);
    if (!getcwd(buf, sizeof buf)) return xstrdup(p);
    return path_join(buf, p);
}

int grid_emit_slurm(const aca_grid_spec *g, const char *grid_path, const char *out_dir, const char *exe,
                    const char *path, int n_cells, aca_err *e) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return aca_errf(e, ACA_ERR_IO, "cannot read the working directory");
    char *aexe = abs_path(exe), *agrid = abs_path(grid_path), *aout = abs_path(out_dir);
    char *logs = path_join(aout, "slurm");
    aca_buf b = {0};
    int rc = dir_make(logs, e);
    if (!rc) {
        buf_printf(&b, "#!/bin/bash\n# aca grid '%s': %d cells, one per array task.  A finished cell is skipped, so this\n"
                       "# script can simply be resubmitted after failures.  When every task is done:\n#   ",
                   g->name, n_cells);
        sh_quote(&b, aexe);
        buf_puts(&b, " grid ");
        sh_quote(&b, agrid);
        buf_puts(&b, " --out ");
        sh_quote(&b, aout);
        buf_puts(&b, " --report\n#SBATCH --job-name=aca-grid\n");
        buf_printf(&b, "#SBATCH --array=0-%d\n#SBATCH --output=%s/%%A_%%a.out\n", n_cells - 1, logs);
        if (!strcmp(g->device, "cuda")) buf_puts(&b, "#SBATCH --gres=gpu:1\n");
        buf_puts(&b, "set -euo pipefail\ncd ");
        sh_quote(&b, cwd);
        buf_puts(&b, "\nexec ");
        sh_quote(&b, aexe);
        buf_puts(&b, " grid ");
        sh_quote(&b, agrid);
        buf_puts(&b, " --out ");
        sh_quote(&b, aout);
        buf_puts(&b, " --cell \"$SLURM_ARRAY_TASK_ID\"\n");
        rc = file_write_atomic(path, b.data, b.len, e);
    }
    buf_free(&b);
    free(aexe), free(agrid), free(aout), free(logs);
    return rc;
}
