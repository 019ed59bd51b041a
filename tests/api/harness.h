#ifndef MOPAY_TEST_HARNESS_H
#define MOPAY_TEST_HARNESS_H

/* Scenario tests drive a real `mopay serve` over HTTP on loopback: the harness starts it in a
 * temporary folder on a free port, reads the admin key it prints, and stops it with SIGTERM. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct server {
    pid_t pid;
    int port;
    char dir[128];
    char db[1024];
    char admin_key[128];
    char log_path[256];
};

struct response {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    json_t *json; /* parsed body when it is JSON */
};

/* argv[1] is the mopay binary; argv[2] "sqlite" or "@FILE" naming a PostgreSQL URL file, in
 * which case each server gets a database of its own. */
void harness_init(int argc, char **argv);
/* Starts a server on a new database (or on `reuse`'s database and key when given). */
void server_start(struct server *s, const struct server *reuse, const char *const *extra_args);
/* Starts another server on `reuse`'s database that is expected to refuse to start: waits for it
 * to exit (at most 10 s, else kills it and returns -1) and returns its exit status, with what it
 * printed in `log`. */
int server_start_expect_exit(const struct server *reuse, const char *const *extra_args, char *log, size_t log_cap);
/* SIGTERM and wait; returns the exit status (0 = clean). */
int server_stop(struct server *s);
/* SIGKILL: the crash a power cut would be, as far as the process can tell. */
void server_kill(struct server *s);

/* One request; `headers` is a NULL-terminated list of "Name: value" lines. */
void http_call(const struct server *s, const char *method, const char *path, const char *token, const char *body,
               const char *const *headers, struct response *out);
void response_free(struct response *r);
/* Like http_call with no extra headers, but false (and no response) when the connection fails,
 * for clients of a server that may be killed under them. */
bool http_try(const struct server *s, const char *method, const char *path, const char *token, const char *body,
              struct response *out);
/* http_try with extra headers, as http_call takes them (an Idempotency-Key, say). */
bool http_try_with(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                   const char *const *headers, struct response *out);
/* The response header's value (case-insensitive name), copied into buf; false when absent. */
bool response_header(const struct response *r, const char *name, char *buf, size_t cap);

/* Asserts a problem+json reply with this status and code (and field, when not NULL). */
void expect_problem(const struct response *r, long status, const char *code, const char *field);

const char *harness_mopay_binary(void);

#endif
