#ifndef MOPAY_CLI_DEMO_H
#define MOPAY_CLI_DEMO_H

/* `mopay demo [--url URL] [--admin-key KEY]`; argv[0] is "demo". Returns the exit status: 0 when
 * every step went as expected, 1 when one did not (stderr names it), 2 for bad options. */
int mopay_cli_demo(int argc, char **argv);

#endif
