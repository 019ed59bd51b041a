#ifndef MOPAY_CLI_RISK_H
#define MOPAY_CLI_RISK_H

/* `mopay sim ...`; argv[0] is "sim". Writes the simulator's labelled records as CSV to stdout or
 * --out. Returns the exit status: 0 done, 1 a write failed, 2 bad usage. */
int mopay_cli_sim(int argc, char **argv);

/* `mopay risk train|eval ...`; argv[0] is "risk". train simulates a seed, replays it through the
 * engine, trains the model and writes it; eval replays another seed with a model and prints its
 * figures. Returns the exit status: 0 done, 1 a file could not be read or written, 2 bad usage. */
int mopay_cli_risk(int argc, char **argv);

#endif
