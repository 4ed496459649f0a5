// outdir: where aca writes, and what it never touches (README "Guarantees").
//
// Outputs.  Every command that writes a directory or a file checks it with out_check before any
// work:
//  - an output may not be, or hold, any input of the command: the output's device and inode are
//    compared with each input's and each of the input's ancestors', after symlinks and `..` are
//    resolved (so a symlink, a bind mount or a hard link to an input is caught);
//  - an existing output directory must be a directory that is empty or an aca output of the same
//    kind: it holds the marker OUT/.aca-output, {"kind":"<kind>","version":1}, written with it.
//    Anything else is refused unless replace (--replace) is asked, which never allows an output
//    that is or holds an input;
//  - an existing output file must be a regular file; it is replaced only when a recogniser says it
//    is aca's (a token cache's header, a Slurm script aca wrote) or replace is asked.
// A directory output is built under a temporary sibling and swapped in by rename at the end
// (outdir_begin / outdir_commit: the old directory, checked again, is removed only then).  The
// commands that write into a directory of their own (run, demo, grid) create and mark it with
// outdir_open_into.
//
// Temporaries (named <final name>.aca-tmp.<host>.<pid>.<n>, removed on failure, on a signal, at
// exit and by a later command's sweep) and the signal handlers are tmp.h's.
#ifndef ACA_OUTDIR_H
#define ACA_OUTDIR_H

#include <stddef.h>

#include "aca/err.h"
#include "aca/tmp.h" // outdir.h users take the temporaries and signals with it

#define OUT_MARKER ".aca-output"
#define OUT_MARKER_VERSION 1

// ---- outputs -----------------------------------------------------------------------------------
typedef enum {
    OUT_DIR_REPLACE, // a directory built under a temporary name and swapped in whole (mutate, train)
    OUT_DIR_INTO,    // a directory aca writes into and keeps (run, demo, grid)
    OUT_DIR_ADD,     // a directory aca only adds its own files to (train's OUT.ckpt): any existing one
    OUT_FILE,        // a file written to a temporary name and renamed into place
} aca_out_mode;

typedef struct {
    const char *path;   // as the user gave it
    const char *option; // how messages name it: "--out", "--plot"
    const char *kind;   // the marker's kind ("mutate", "model", "run", "demo", "grid") or what a file is
    aca_out_mode mode;
    int replace;        // --replace: an existing output that is not aca's may be replaced
    int append;         // OUT_FILE: appended to, not replaced (run --results)
    // OUT_FILE: 1 when the existing file at path is an aca output of this kind (NULL: none is).
    int (*recognise)(const char *path);
    const char *fix; // what a refusal suggests (default: "choose another path, or pass --replace ...")
} aca_out;

// Checks o against the rules above (inputs: n paths, NULL entries and missing paths skipped) and
// sweeps dead temporaries where it will write.  Fails with ACA_ERR_REFUSED naming both paths, or
// ACA_ERR_IO when the path cannot be resolved (a missing parent of a file, a dangling symlink).
int out_check(const aca_out *o, const char *const *inputs, int n_inputs, aca_err *e);
// 1 when the file at path begins with the n bytes head (for recognisers).
int out_file_starts_with(const char *path, const char *head, size_t n);
// The path a file output should be written to: the target when the final component is a symlink
// (so the link stays and its target is replaced), else path itself.  malloc'd.
char *out_file_target(const char *path);
// path with its trailing slashes removed and suffix appended ("m/" + ".ckpt" -> "m.ckpt"); a
// final "." or ".." is resolved first.  malloc'd.
char *out_sibling(const char *path, const char *suffix);

// A directory output under construction (OUT_DIR_REPLACE).
typedef struct {
    char *given; // the path as given (messages)
    char *dir;   // its absolute physical path
    char *tmp;   // the temporary being filled: write the outputs here
    char kind[32];
    int replace;
    int slot; // registry slot of tmp
} aca_outdir;

// Checks dir (as out_check does, without inputs), creates its parent, sweeps dead temporaries
// beside it and creates the temporary d->tmp.  On failure nothing is left.
int outdir_begin(aca_outdir *d, const char *dir, const char *kind, int replace, aca_err *e);
// Writes the marker into d->tmp, checks dir again (it may have changed meanwhile) and swaps d->tmp
// in; the old directory is removed.  On failure d->tmp is removed, unless dir changed into
// something aca may not replace: then the new output is kept as <dir>.aca-kept.<pid> (named in
// the message).  d is released either way.
int outdir_commit(aca_outdir *d, aca_err *e);
// Removes d->tmp and releases d (safe on a zeroed or released d).
void outdir_abort(aca_outdir *d);
// OUT_DIR_INTO: checks dir, removes it first when replace is asked, creates it (mkdir -p), writes
// the marker when missing, and sweeps dead temporaries under it.
int outdir_open_into(const char *dir, const char *kind, int replace, aca_err *e);
// 1 when dir holds the marker of kind.
int outdir_is(const char *dir, const char *kind);
// Writes dir/.aca-output for kind (dir exists).
int outdir_mark(const char *dir, const char *kind, aca_err *e);

#endif
