#ifndef MOPAY_CLI_FX_H
#define MOPAY_CLI_FX_H

/* `mopay fx import FILE.csv [--url URL] [--admin-key KEY]`; argv[0] is "fx". Returns the exit
 * status: 0 every rate imported, 1 the file or a request was refused (why on stderr), 2 bad usage. */
int mopay_cli_fx(int argc, char **argv);

#endif
