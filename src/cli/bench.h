#ifndef MOPAY_CLI_BENCH_H
#define MOPAY_CLI_BENCH_H

/* `mopay bench ledger ...`; argv[0] is "bench". Returns the exit status. */
int mopay_cli_bench(int argc, char **argv);

#endif
