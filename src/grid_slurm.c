// The grid's Slurm array script (see include/aca/grid.h): one task per cell, each running
// `aca grid GRID.json --out OUT --cell $SLURM_ARRAY_TASK_ID`.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/grid.h"

// An absolute path (realpath when it exists, else cwd/path).
static char *abs_path(const char *p) {
    char buf[PATH_MAX];
    if (realpath(p, buf)) return xstrdup(buf);
    if (p[0] == '/') return xstrdup(p);
    if (!getcwd(buf, sizeof buf)) return xstrdup(p);
    return path_join(buf, p);
}

// An #SBATCH --output value: "DIR/%A_%a.out" in double quotes, which sbatch's line parser removes
// (a " inside is written \"), with each % of DIR doubled (%% is a literal % in Slurm's filename
// patterns; %A and %a are the array job and task).
static void sbatch_quote_pattern(aca_buf *b, const char *dir) {
    buf_putc(b, '"');
    for (const char *s = dir; *s; s++) {
        if (*s == '"') buf_puts(b, "\\\"");
        else if (*s == '%') buf_puts(b, "%%");
        else buf_putc(b, *s);
    }
    buf_puts(b, "/%A_%a.out\"");
}

// sbatch reads a backslash in an #SBATCH line as an escape, and one left in an --output pattern
// turns the patterns off; a line cannot hold a newline.
static int check_sbatch_path(const char *what, const char *p, aca_err *e) {
    for (const char *s = p; *s; s++)
        if (*s == '\\' || *s == '\n')
            return aca_errf(e, ACA_ERR_VALUE, "%s '%s' holds a %s, which an #SBATCH line cannot carry: choose another path",
                            what, p, *s == '\n' ? "newline" : "backslash");
    return 0;
}

void grid_command(aca_buf *b, const char *exe, const char *grid_path, const char *out_dir) {
    buf_sh_quote(b, exe);
    buf_puts(b, " grid ");
    buf_sh_quote(b, grid_path);
    buf_puts(b, " --out ");
    buf_sh_quote(b, out_dir);
}

int grid_emit_slurm(const aca_grid_spec *g, const char *grid_path, const char *out_dir, const char *exe,
                    const char *path, int n_cells, aca_err *e) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return aca_errf(e, ACA_ERR_IO, "cannot read the working directory");
    char *aexe = abs_path(exe), *agrid = abs_path(grid_path), *aout = abs_path(out_dir);
    char *logs = path_join(aout, "slurm");
    aca_buf b = {0};
    int rc = check_sbatch_path("the output directory", aout, e);
    if (!rc) rc = dir_make(logs, e);
    if (!rc) {
        buf_printf(&b, "#!/bin/bash\n# aca grid '%s': %d cells, one per array task.  A finished cell is skipped, so this\n"
                       "# script can simply be resubmitted after failures.  When every task is done:\n#   ",
                   g->name, n_cells);
        grid_command(&b, aexe, agrid, aout);
        buf_puts(&b, " --report\n#SBATCH --job-name=aca-grid\n");
        buf_printf(&b, "#SBATCH --array=0-%d\n#SBATCH --output=", n_cells - 1);
        sbatch_quote_pattern(&b, logs);
        buf_puts(&b, "\n");
        if (!strcmp(g->run.device, "cuda")) buf_puts(&b, "#SBATCH --gres=gpu:1\n");
        buf_puts(&b, "set -euo pipefail\ncd ");
        buf_sh_quote(&b, cwd);
        buf_puts(&b, "\nexec ");
        grid_command(&b, aexe, agrid, aout);
        buf_puts(&b, " --cell \"$SLURM_ARRAY_TASK_ID\"\n");
        rc = file_write_atomic(path, b.data, b.len, e);
    }
    buf_free(&b);
    free(aexe), free(agrid), free(aout), free(logs);
    return rc;
}
