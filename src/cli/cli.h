// The aca command line: one function per subcommand (src/cli/<name>.c), dispatched by main.c.
// Each returns the process exit status: 0 ok, 1 failure (message already printed), 2 usage error.
#ifndef ACA_CLI_H
#define ACA_CLI_H

#include "aca/util.h"

typedef int (*cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    cli_fn fn;
    const char *summary;
} cli_command;

// Prints "aca: <message>" to stderr and returns the exit status for the error's kind.
int cli_fail(const aca_err *e);

// Subcommands (argv[0] is the subcommand name).
int cmd_corpus(int argc, char **argv);
int cmd_mutate(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_privacy(int argc, char **argv);

#endif
