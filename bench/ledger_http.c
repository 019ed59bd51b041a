/* Load for `POST /v1/ledger/transfers` over HTTP on loopback: batches of 8,190 transfers between
 * random pairs of accounts, from a few keep-alive connections, for a fixed time. Each request's
 * JSON is a template whose fixed-width transfer ids are rewritten in place, so the client spends
 * its time sending, not formatting. Prints one line:
 *   bench: ledger http sqlite N transfers/s
 * Usage: ledger_http PORT ADMIN_KEY ACCOUNTS SECONDS CONNECTIONS STORE_NAME */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define BATCH 8190

static int port;
static const char *admin_key;
static uint64_t accounts;
static double seconds;
static _Atomic uint64_t next_batch, ok_transfers, failed_requests;

struct body {
    char *text;
    size_t len;
    size_t id_at[BATCH]; /* offsets of each transfer id's 32 hex digits */
};

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void body_init(struct body *b, uint64_t seed)
{
    size_t cap = (size_t)BATCH * 220 + 64, n = 0;
    b->text = malloc(cap);
    n += (size_t)snprintf(b->text, cap, "{\"transfers\":[");
    for (size_t i = 0; i < BATCH; i++) {
        uint64_t d = xorshift(&seed) % accounts, c = xorshift(&seed) % accounts;
        if (c == d)
            c = (c + 1) % accounts;
        n += (size_t)snprintf(b->text + n, cap - n, "%s{\"id\":\"trf_", i ? "," : "");
        b->id_at[i] = n;
        n += (size_t)snprintf(b->text + n, cap - n,
                              "%032d\",\"debit_account_id\":\"acc_%032llx\",\"credit_account_id\":\"acc_%032llx\","
                              "\"amount\":\"%llu.%02llu\",\"currency\":\"USD\"}",
                              0, (unsigned long long)d + 1, (unsigned long long)c + 1,
                              (unsigned long long)(xorshift(&seed) % 100), (unsigned long long)(xorshift(&seed) % 100));
    }
    n += (size_t)snprintf(b->text + n, cap - n, "]}");
    b->len = n;
}

/* Gives every transfer of the body a new id: the batch number and the item, in hex. */
static void body_renumber(struct body *b, uint64_t batch)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < BATCH; i++) {
        uint64_t hi = batch + 1, lo = i;
        char *p = b->text + b->id_at[i];
        for (int k = 15; k >= 0; k--, hi >>= 4)
            p[k] = hex[hi & 15];
        for (int k = 31; k >= 16; k--, lo >>= 4)
            p[k] = hex[lo & 15];
    }
}

struct reply {
    char *text;
    size_t len, cap;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    if (r->len + size * n + 1 > r->cap) {
        r->cap = (r->len + size * n + 1) * 2;
        r->text = realloc(r->text, r->cap);
    }
    memcpy(r->text + r->len, data, size * n);
    r->len += size * n;
    r->text[r->len] = '\0';
    return size * n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t count_ok(const char *text)
{
    uint64_t n = 0;
    for (const char *p = text; (p = strstr(p, "\"result\":\"ok\"")) != NULL; p += 13)
        n++;
    return n;
}

static void *client_main(void *arg)
{
    struct body b;
    body_init(&b, (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1);
    CURL *c = curl_easy_init();
    char url[64], auth[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/ledger/transfers", port);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", admin_key);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    struct reply r = {malloc(1 << 20), 0, 1 << 20};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, b.text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)b.len);
    double end = now_s() + seconds;
    while (now_s() < end) {
        body_renumber(&b, atomic_fetch_add(&next_batch, 1));
        r.len = 0;
        long status = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
            atomic_fetch_add(&failed_requests, 1);
            continue;
        }
        atomic_fetch_add(&ok_transfers, count_ok(r.text));
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(r.text);
    free(b.text);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT ADMIN_KEY ACCOUNTS SECONDS CONNECTIONS STORE_NAME\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    admin_key = argv[2];
    accounts = strtoull(argv[3], NULL, 10);
    seconds = atof(argv[4]);
    int connections = atoi(argv[5]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t threads[64];
    double t0 = now_s();
    for (int i = 0; i < connections && i < 64; i++)
        pthread_create(&threads[i], NULL, client_main, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < connections && i < 64; i++)
        pthread_join(threads[i], NULL);
    double elapsed = now_s() - t0;
    if (atomic_load(&failed_requests) > 0)
        fprintf(stderr, "ledger_http: %llu requests failed\n", (unsigned long long)atomic_load(&failed_requests));
    printf("bench: ledger http %s %.0f transfers/s\n", argv[6], (double)atomic_load(&ok_transfers) / elapsed);
    return atomic_load(&failed_requests) > 0;
}
