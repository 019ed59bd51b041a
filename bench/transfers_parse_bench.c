/* The raw reader of POST /v1/ledger/transfers bodies against the jansson path, on one realistic
 * body of 8,190 transfers parsed over and over, one thread. One line each:
 *   bench: transfers-parse N transfers/s
 *   bench: transfers-parse-jansson N transfers/s   (json_loadb + transfer_spec on every item) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mopay/ledger_service.h"
#include "transfers_parse.h"

#define ITEMS MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX

static uint64_t rng_state = 0x62656e6368;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex32(char *out)
{
    for (int i = 0; i < 32; i++)
        out[i] = "0123456789abcdef"[rng_next() % 16];
    out[32] = '\0';
}

/* What a client sends: ids, two accounts, an amount, a currency, a code, user data; one in ten a
 * pending transfer with a timeout. */
static char *body_make(size_t *len)
{
    size_t cap = 64 + (size_t)ITEMS * 320, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n, "{\"transfers\":[");
    for (int i = 0; i < ITEMS; i++) {
        char id[33], d[33], c[33];
        hex32(id), hex32(d), hex32(c);
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"id\":\"trn_%s\",\"debit_account_id\":\"acc_%s\",\"credit_account_id\":\"acc_%s\","
                              "\"amount\":\"%u.%02u\",\"currency\":\"EUR\",\"code\":%u,\"user_data\":%u%s}",
                              i ? "," : "", id, d, c, (unsigned)(rng_next() % 10000), (unsigned)(rng_next() % 100),
                              (unsigned)(1 + rng_next() % 100), (unsigned)(rng_next() % 1000000),
                              i % 10 == 0 ? ",\"flags\":[\"pending\"],\"timeout_s\":3600" : "");
    }
    n += (size_t)snprintf(b + n, cap - n, "]}");
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    size_t len;
    char *body = body_make(&len);
    struct transfer_fields *fields = malloc(sizeof(*fields) * ITEMS);
    char *scratch = malloc(len + 1);
    struct mopay_json_error e;
    size_t count = 0;
    double t0 = now_s();
    for (int r = 0; r < rounds; r++)
        if (!api_transfers_parse(body, len, fields, ITEMS, &count, scratch, len + 1, &e) || count != ITEMS) {
            fprintf(stderr, "transfers_parse_bench: %s %s\n", e.pointer, e.detail);
            return 1;
        }
    double raw = (double)rounds * ITEMS / (now_s() - t0);

    int jrounds = rounds / 10 > 0 ? rounds / 10 : 1;
    t0 = now_s();
    for (int r = 0; r < jrounds; r++) {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        json_t *items = json_object_get(root, "transfers");
        for (size_t i = 0; i < json_array_size(items); i++) {
            struct transfer_fields f = {0};
            if (!mopay_json_read(json_array_get(items, i), transfer_spec, &f, &e))
                return 1;
        }
        json_decref(root);
    }
    double jansson = (double)jrounds * ITEMS / (now_s() - t0);
    printf("bench: transfers-parse %.0f transfers/s (%.0f MB/s, body %zu bytes)\n", raw, raw * (double)len / ITEMS / 1e6,
           len);
    printf("bench: transfers-parse-jansson %.0f transfers/s\n", jansson);
    free(scratch);
    free(fields);
    free(body);
    return 0;
}
