// util: an umbrella over the base layer, kept so that the files that include it need not change
// while issue 15 cuts the modules; new code includes the piece it uses.  The pieces (src/base/):
//   err.h          the error contract (aca_err, kinds, exit statuses)
//   mem.h          allocation that aborts, ACA_ARRAY_LEN
//   buf.h          the growable byte buffer
//   fileio.h       whole-file reads, paths, directories
//   atomic_file.h  files written whole (temporary, then rename)
//   utf8.h         one scalar value to and from UTF-8
//   hash.h         FNV-1a 64 and SHA-256
//   rng.h          the host RNG (xoshiro256**)
//   log.h          progress and warnings on stderr
//   sysinfo.h      clock, peak memory, git revision
//   opt.h          command-line options and number parsing
// Temporaries and signals (tmp.h) and output checks (outdir.h) are base too, but not in here.
// Library functions return 0 on success and -1 on failure after filling an aca_err; only the CLI
// decides to print and exit.
#ifndef ACA_UTIL_H
#define ACA_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aca/atomic_file.h"
#include "aca/buf.h"
#include "aca/err.h"
#include "aca/fileio.h"
#include "aca/hash.h"
#include "aca/log.h"
#include "aca/mem.h"
#include "aca/opt.h"
#include "aca/rng.h"
#include "aca/sysinfo.h"
#include "aca/utf8.h"

#endif
