#ifndef MOPAY_CLI_QR_H
#define MOPAY_CLI_QR_H

/* `mopay qr decode|encode|render ...`; argv[0] is "qr". Returns the exit status: 0 done, 1 the
 * payload or a value was refused (its error code on stderr), 2 bad usage. */
int mopay_cli_qr(int argc, char **argv);

#endif
