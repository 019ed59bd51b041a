/* The route fuzzer (issue 11): walks EVERY route of the route table (mopay_api_routes(), so it
 * cannot drift from src/api/api.c) as every principal kind (none, the operator, merchant A and
 * customer A, merchant B and customer B, all made by real sign-ups and sessions), with the real
 * ids of both sides' resources, made by setup traffic (fuzz_world.c). Bodies are made from each
 * route's field spec, valid first and then mutated (fuzz_gen.c): wrong types, huge and empty
 * strings, deep nesting, NUL and bad UTF-8, odd amounts and integers, other principals' ids,
 * unknown fields, odd query strings, Content-Type, Authorization and Idempotency-Key headers, and
 * malformed or foreign path ids. Everything comes from one seed: MOPAY_FUZZ_SEED and
 * MOPAY_FUZZ_REQUESTS override the registered budget; the seed is printed.
 *
 * It asserts: every request is answered; every answer is 2xx or problem+json with a code from the
 * registry (include/mopay/errors.def, compiled in) and that code's status; no 5xx but 503
 * capacity_exhausted or overloaded; no principal is given another's resource (a 2xx naming the
 * other side's resource, or an answer holding the other side's ids or anyone else's secrets; a
 * side's merchant and customer, who pay each other in the setup, may see each other's ids, and a
 * 2xx that makes two parties of different sides, such as a payment of B's order by customer A,
 * lets the other party see the principal's ids and the payer read that order);
 * and at the end GET /v1/ledger/check is ok, /healthz answers, the process is alive and stops
 * cleanly. A failure prints the request (method, path, headers, body) to replay it.
 *
 * KNOWN_FAILURES below lists what the fuzzer finds that issue 11 already names, each with its
 * finding's number: a known failure is counted and printed, not failed; one that would stop the
 * server is not sent, and is printed as not sent (MOPAY_FUZZ_SEND_ALL=1 sends it anyway, to see
 * whether it still fails). The list empties as the findings are fixed. MOPAY_FUZZ_TRACE=1 prints a
 * line for every request: its route, principal, mutations, status and code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <signal.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fuzz_gen.h"
#include "mopay/api.h"

static const struct {
    const char *code;
    int status;
} registry[] = {
#define MOPAY_ERROR(number, name, http_status, title) {#name, http_status},
#include "mopay/errors.def"
#undef MOPAY_ERROR
};

enum failure {
    F_NONE,
    F_NO_ANSWER,      /* the connection failed or timed out: the server may be gone */
    F_5XX,            /* a 5xx other than 503 capacity_exhausted or overloaded */
    F_NOT_PROBLEM,    /* an error that is not problem+json with a code */
    F_CODE_UNKNOWN,   /* a code not in the registry */
    F_STATUS_WRONG,   /* the code's status is not the HTTP status, or not 2xx/4xx/5xx */
    F_FOREIGN_2XX,    /* 2xx for a request naming another principal's resource */
    F_LEAK,           /* the answer holds another principal's ids */
    F_SECRET,         /* the answer holds another principal's secret */
    F_COUNT,
};

static const char *const failure_names[F_COUNT] = {
    "none", "no answer", "5xx", "not problem+json", "code not in the registry", "status not the code's",
    "2xx naming another's resource", "another's ids in the answer", "another's secret in the answer"};

static bool any_request(const struct fuzz_request *r)
{
    (void)r;
    return true;
}

/* Known failures: what the fuzzer finds on the current code that an open issue already lists, by
 * finding number (empty since issue 11's fixes landed). Temporary: an entry goes when its fix
 * is merged (the summary names
 * entries that matched nothing; MOPAY_FUZZ_SEND_ALL=1 sends the skipped ones). `skip`: not sent,
 * as it stops the server. Anything not listed here fails the test. */
struct known {
    int finding;
    const char *route; /* NULL: any */
    enum failure kind;
    bool skip;
    bool (*when)(const struct fuzz_request *r);
    const char *why;
    unsigned hits;
};

static struct known KNOWN_FAILURES[] = {
    {0, NULL, F_NONE, false, any_request, NULL, 0},
};

struct reply {
    long status;
    bool answered;
    char type[128];
    char *body;
    size_t len;
    json_t *json;
};

struct run {
    struct fuzz_world w;
    CURL *curl;
    bool linked[P_COUNT][P_COUNT];
    size_t sent, skipped, unknown, known, revived, links, learned;
    unsigned route_hits[128];
    unsigned status_hist[6];
    bool server_gone;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    char *grown = realloc(r->body, r->len + size * n + 1);
    assert_non_null(grown);
    memcpy(grown + r->len, data, size * n);
    r->body = grown;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t collect_type(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    if (size * n > 13 && strncasecmp(data, "content-type:", 13) == 0) {
        size_t skip = 13;
        while (skip < size * n && data[skip] == ' ')
            skip++;
        snprintf(r->type, sizeof(r->type), "%.*s", (int)strcspn(data + skip, "\r\n"), data + skip);
    }
    return size * n;
}

static void send_request(struct run *run, const struct fuzz_request *q, struct reply *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = run->curl;
    curl_easy_reset(c);
    char url[16384], auth[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", run->w.srv.port, q->path);
    struct curl_slist *list = NULL;
    if (q->principal != P_NONE) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", run->w.token[q->principal]);
        list = curl_slist_append(list, auth);
    }
    bool typed = false;
    for (size_t i = 0; i < q->header_count; i++)
        typed |= strncasecmp(q->headers[i], "Content-Type:", 13) == 0;
    if (q->body != NULL && !typed)
        list = curl_slist_append(list, "Content-Type: application/json");
    for (size_t i = 0; i < q->header_count; i++)
        list = curl_slist_append(list, q->headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (q->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)q->body_len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_type);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    out->answered = curl_easy_perform(c) == CURLE_OK;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->answered &= out->status != 0;
    curl_slist_free_all(list);
    if (out->body != NULL)
        out->json = json_loadb(out->body, out->len, 0, NULL);
}

static void reply_free(struct reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* --- what the answer must be --- */

static int registry_status(const char *code)
{
    for (size_t i = 0; code != NULL && i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i].code, code) == 0)
            return registry[i].status;
    return 0;
}

static enum failure check_shape(const struct reply *r)
{
    if (!r->answered)
        return F_NO_ANSWER;
    if (r->status >= 200 && r->status < 300)
        return F_NONE;
    const char *code = json_string_value(json_object_get(r->json, "code"));
    if (strcmp(r->type, "application/problem+json") != 0 || code == NULL)
        return r->status >= 500 ? F_5XX : F_NOT_PROBLEM;
    int status = registry_status(code);
    if (status == 0)
        return F_CODE_UNKNOWN;
    if (r->status >= 500 && !(r->status == 503 && (!strcmp(code, "capacity_exhausted") || !strcmp(code, "overloaded"))))
        return F_5XX;
    if (status != r->status || json_integer_value(json_object_get(r->json, "status")) != r->status ||
        r->status < 400)
        return F_STATUS_WRONG;
    return F_NONE;
}

/* Whether `p` may name `o`, a resource of another side, and get 2xx: an offer is for every
 * customer to see and claim, an open order's checkout view for every customer who holds its id. */
static bool cross_allowed(const struct fuzz_request *q, const struct fuzz_owned *o, const struct reply *r)
{
    bool customer = q->principal == P_CUSTOMER_A || q->principal == P_CUSTOMER_B;
    const char *route = q->route->name, *view = json_string_value(json_object_get(r->json, "view"));
    bool checkout = view != NULL && strcmp(view, "checkout") == 0 && json_object_get(r->json, "reference") == NULL;
    return customer && ((strcmp(o->kind, "/v1/offers/") == 0 && strncmp(route, "offer_", 6) == 0) ||
                        (o->open_order && checkout && strcmp(route, "order_get") == 0));
}

/* Whether `o` is another's that `principal` was never given: offers are for every customer to see. */
static bool foreign(const struct run *run, int principal, const struct fuzz_owned *o)
{
    bool customer = principal == P_CUSTOMER_A || principal == P_CUSTOMER_B;
    return o->owner != P_OPERATOR && !run->linked[principal][o->owner] && !(o->granted & (1u << principal)) &&
           !(customer && strcmp(o->kind, "/v1/offers/") == 0);
}

/* A 2xx: nothing of another principal's, unless the request made the two parties (a payment of
 * the other side's order, a P2P to it, a claimed offer): then they are linked from now on. */
static enum failure check_owner(struct run *run, const struct fuzz_request *q, const struct reply *r)
{
    int p = q->principal;
    if (p == P_OPERATOR || q->signed_by_owner || !r->answered || r->status < 200 || r->status >= 300)
        return F_NONE;
    for (size_t i = 0; r->body != NULL && i < run->w.owned_count; i++) {
        const struct fuzz_owned *o = &run->w.owned[i];
        bool secret = strcmp(o->kind, "secret") == 0;
        if (o == q->path_owned || o->owner == p || strstr(r->body, o->value) == NULL)
            continue;
        if (secret)
            return F_SECRET;
    }
    const struct fuzz_owned *path = q->path_owned;
    if (path != NULL && foreign(run, p, path) && !cross_allowed(q, path, r))
        return F_FOREIGN_2XX;
    for (size_t i = 0; i < q->body_owned_count; i++)
        if (foreign(run, p, q->body_owned[i]) && q->body_owned_role[i] == ROLE_OWN)
            return F_FOREIGN_2XX;
    for (size_t i = 0; r->body != NULL && i < run->w.owned_count; i++) {
        const struct fuzz_owned *o = &run->w.owned[i];
        if (o == q->path_owned || strcmp(o->kind, "/v1/merchants/") == 0 || strcmp(o->kind, "secret") == 0)
            continue;
        bool named = false; /* named by the request, or an order's reference to its payer */
        for (size_t k = 0; k < q->body_owned_count; k++)
            named |= q->body_owned[k] == o || (o->of[0] && strcmp(q->body_owned[k]->value, o->of) == 0);
        /* a P2P's reply names the wallet the money went to (to pay it again), never its owner */
        const char *to_wallet = json_string_value(json_object_get(r->json, "to_wallet_id"));
        named |= strcmp(q->route->name, "p2p_create") == 0 && to_wallet != NULL && strcmp(to_wallet, o->value) == 0;
        if (!named && foreign(run, p, o) && strstr(r->body, o->value) != NULL)
            return F_LEAK;
    }
    return F_NONE;
}

/* After a 2xx write naming the other party (paying its order, a P2P to it, claiming its offer):
 * the other party may see the principal's ids from now on (the merchant its payer, the recipient
 * the sender), and the payer of an order may read it and its reference. Not the other way round:
 * a P2P's sender is not shown its recipient's ids. */
static void link_parties(struct run *run, const struct fuzz_request *q, const struct reply *r)
{
    int p = q->principal;
    if (p == P_NONE || p == P_OPERATOR || r->status < 200 || r->status >= 300 || strcmp(q->method, "GET") == 0)
        return;
    struct fuzz_owned *named[9];
    size_t n = 0;
    for (size_t i = 0; i < q->body_owned_count; i++)
        if (q->body_owned_role[i] == ROLE_COUNTERPARTY)
            named[n++] = (struct fuzz_owned *)q->body_owned[i];
    if (q->path_owned != NULL && cross_allowed(q, q->path_owned, r))
        named[n++] = (struct fuzz_owned *)q->path_owned;
    for (size_t i = 0; i < n; i++) {
        int other = named[i]->owner;
        if (strcmp(q->route->name, "payments_create") == 0 && strcmp(named[i]->kind, "/v1/orders/") == 0)
            for (size_t k = 0; k < run->w.owned_count; k++)
                if (&run->w.owned[k] == named[i] || strcmp(run->w.owned[k].of, named[i]->value) == 0)
                    run->w.owned[k].granted |= 1u << p;
        if (other == P_OPERATOR || run->linked[other][p])
            continue;
        run->linked[other][p] = true;
        run->links++;
    }
}

/* --- reporting --- */

static void print_escaped(const char *label, const char *s, size_t len)
{
    fprintf(stderr, "    %s (%zu bytes): ", label, len);
    size_t shown = len > 600 ? 600 : len;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\n", shown < len ? " ..." : "");
}

static void print_request(const char *what, const struct fuzz_request *q, const struct reply *r, size_t n)
{
    fprintf(stderr, "FUZZ %s: request #%zu, route %s as %s (mutations: %s)\n", what, n, q->route->name,
            fuzz_principal_names[q->principal], q->what);
    print_escaped("method and path", q->path, strlen(q->path));
    fprintf(stderr, "    method: %s\n", q->method);
    fprintf(stderr, "    Authorization: %s\n", q->principal == P_NONE ? "(none)" : fuzz_principal_names[q->principal]);
    for (size_t i = 0; i < q->header_count; i++)
        print_escaped("header", q->headers[i], strlen(q->headers[i]));
    if (q->body != NULL)
        print_escaped("body", q->body, q->body_len);
    if (r != NULL)
        fprintf(stderr, "    -> %s %ld %s: %.400s\n", r->answered ? "answered" : "NOT ANSWERED", r->status, r->type,
                r->body ? r->body : "");
}

static struct known *known_match(const struct fuzz_request *q, enum failure kind, bool skip)
{
    for (struct known *k = KNOWN_FAILURES; k->why != NULL; k++)
        if (k->skip == skip && (kind == F_COUNT || k->kind == kind) &&
            (k->route == NULL || strcmp(k->route, q->route->name) == 0) && k->when(q))
            return k;
    return NULL;
}

static void record(struct run *run, const struct fuzz_request *q, const struct reply *r, enum failure f, size_t n)
{
    struct known *k = known_match(q, f, false);
    char what[160];
    if (k != NULL) {
        run->known++;
        if (k->hits++ == 0) {
            snprintf(what, sizeof(what), "known failure (finding %d: %s): %s", k->finding, k->why, failure_names[f]);
            print_request(what, q, r, n);
        }
        return;
    }
    if (run->unknown++ < 40) {
        snprintf(what, sizeof(what), "FAILURE: %s", failure_names[f]);
        print_request(what, q, r, n);
    }
}

/* --- keeping the principals signed in --- */

/* A principal whose credential the fuzz itself revoked (a rotated merchant key, a revoked device,
 * a revoked admin key...) gets a new one: a new merchant or customer of its side, so that the
 * rest of the run still asks as it. Its old resources stay its own. */
static void revive(struct run *run, int principal)
{
    char name[32], phone[32];
    if (principal == P_MERCHANT_A || principal == P_MERCHANT_B) {
        snprintf(name, sizeof(name), "Fuzz Shop %zu", run->revived);
        fuzz_world_merchant_new(&run->w, principal, name);
    } else if (principal == P_CUSTOMER_A || principal == P_CUSTOMER_B) {
        snprintf(phone, sizeof(phone), "+86136%08zu", run->revived);
        fuzz_world_customer_new(&run->w, principal, phone, "Fuzz Again");
        fuzz_world_money_new(&run->w, principal);
    } else {
        return;
    }
    run->revived++;
}

/* Whether the principal's own credential no longer works (asked plainly, it gets 401). */
static bool signed_out(struct run *run, int principal)
{
    if (principal == P_NONE || principal == P_OPERATOR)
        return false;
    struct reply r;
    struct fuzz_request q = {.principal = principal, .method = "GET", .path = (char *)"/v1/fx/rates"};
    static const struct mopay_route probe = {"probe", "GET", "/v1/fx/rates", 0, 0, NULL, NULL};
    q.route = &probe;
    send_request(run, &q, &r);
    bool out = r.answered && r.status == 401;
    reply_free(&r);
    return out;
}

static bool server_alive(struct run *run)
{
    int status;
    return waitpid(run->w.srv.pid, &status, WNOHANG) == 0;
}

/* The server's manual clock, read from a test-clock advance's answer: signed log-ins need it. */
static void clock_follow(struct run *run, const struct fuzz_request *q, const struct reply *r)
{
    const char *now = json_string_value(json_object_get(r->json, "now"));
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (r->status == 200 && strcmp(q->route->name, "test_clock_advance") == 0 && now != NULL &&
        strptime(now, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
        run->w.clock_s = (int64_t)timegm(&tm);
}

/* What a principal creates is its own from now on: a 2xx POST to a collection ("/v1/orders")
 * answers the new resource's "id", which the fuzz then names like the setup's (up to
 * FUZZ_LEARNED_MAX of them). */
static void learn(struct run *run, const struct fuzz_request *q, const struct reply *r)
{
    const char *id = json_string_value(json_object_get(r->json, "id"));
    char kind[64];
    if (r->status < 200 || r->status >= 300 || strcmp(q->method, "POST") != 0 || fuzz_side(q->principal) < 0 ||
        strchr(q->route->pattern, '{') != NULL || id == NULL || run->learned == FUZZ_LEARNED_MAX)
        return;
    snprintf(kind, sizeof(kind), "%s/", q->route->pattern);
    size_t before = run->w.owned_count;
    fuzz_world_remember(&run->w, kind, id, q->principal);
    /* a new order is open: any customer holding its id may see its checkout view (SPEC 6) */
    const char *status = json_string_value(json_object_get(r->json, "status"));
    if (run->w.owned_count > before && strcmp(kind, "/v1/orders/") == 0 && status != NULL && !strcmp(status, "open"))
        run->w.owned[before].open_order = true;
    run->learned++;
}

/* One request: made, sent unless known to stop the server, checked. */
static void step(struct run *run, size_t route_index, const struct mopay_route *route, int principal, bool mutate)
{
    struct fuzz_request q;
    fuzz_request_make(&run->w, route, principal, mutate, &q);
    struct known *skip = getenv("MOPAY_FUZZ_SEND_ALL") != NULL ? NULL : known_match(&q, F_COUNT, true);
    if (skip != NULL) {
        run->skipped++;
        if (skip->hits++ == 0) {
            char what[200];
            snprintf(what, sizeof(what), "known failure NOT SENT (finding %d: %s)", skip->finding, skip->why);
            print_request(what, &q, NULL, run->sent);
        }
        fuzz_request_free(&q);
        return;
    }
    struct reply r;
    send_request(run, &q, &r);
    run->sent++;
    if (r.answered) {
        run->route_hits[route_index]++;
        run->status_hist[r.status / 100 < 6 ? r.status / 100 : 0]++;
    }
    if (getenv("MOPAY_FUZZ_TRACE") != NULL) /* one line a request, to see what the fuzz reaches */
        fprintf(stderr, "%zu %s %s [%s] -> %ld %s\n", run->sent, q.route->name, fuzz_principal_names[principal],
                q.what, r.status, r.json ? json_string_value(json_object_get(r.json, "code")) : "");
    enum failure f = check_shape(&r);
    if (f == F_NONE)
        f = check_owner(run, &q, &r);
    if (f != F_NONE)
        record(run, &q, &r, f, run->sent);
    if (f == F_NO_ANSWER && !server_alive(run))
        run->server_gone = true;
    link_parties(run, &q, &r);
    clock_follow(run, &q, &r);
    learn(run, &q, &r);
    if (r.answered && r.status == 401 && signed_out(run, principal))
        revive(run, principal);
    reply_free(&r);
    fuzz_request_free(&q);
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? strtoull(v, NULL, 10) : fallback;
}

/* The end: the ledger balances, the server answers and stops cleanly. */
static void final_checks(struct run *run)
{
    assert_false(run->server_gone);
    assert_true(server_alive(run));
    struct response r;
    http_call(&run->w.srv, "GET", "/v1/ledger/check", run->w.token[P_OPERATOR], NULL, NULL, &r);
    if (r.status != 200 || !json_is_true(json_object_get(r.json, "ok")))
        fprintf(stderr, "FUZZ FAILURE: GET /v1/ledger/check -> %ld %s\n", r.status, r.body ? r.body : "");
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
    http_call(&run->w.srv, "GET", "/healthz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    assert_true(server_alive(run));
    assert_int_equal(server_stop(&run->w.srv), 0);
}

static void summary(struct run *run, size_t route_count, double seconds, uint64_t seed)
{
    size_t walked = 0;
    for (size_t i = 0; i < route_count; i++)
        walked += run->route_hits[i] > 0;
    fprintf(stderr,
            "route fuzzer: seed %llu, %zu requests sent (%zu known failures not sent), %zu/%zu routes, %d principals, "
            "%.1f s; 2xx %u, 4xx %u, 5xx %u; %zu unknown failures, %zu known; %zu principals re-made, %zu links, "
            "%zu ids learnt\n",
            (unsigned long long)seed, run->sent, run->skipped, walked, route_count, P_COUNT, seconds,
            run->status_hist[2], run->status_hist[4], run->status_hist[5], run->unknown, run->known, run->revived,
            run->links, run->learned);
    for (struct known *k = KNOWN_FAILURES; k->why != NULL; k++)
        if (k->hits > 0)
            fprintf(stderr, "  known (finding %d) %s %s: %u times%s\n", k->finding, k->route ? k->route : "any route",
                    failure_names[k->kind], k->hits, k->skip ? ", not sent" : "");
    for (struct known *k = KNOWN_FAILURES; k->why != NULL; k++)
        if (k->hits == 0)
            fprintf(stderr, "  known entry (finding %d) %s %s matched nothing: drop it if its fix is in\n",
                    k->finding, k->route ? k->route : "any route", failure_names[k->kind]);
    for (size_t i = 0; i < route_count; i++)
        if (run->route_hits[i] == 0)
            fprintf(stderr, "  route never answered: %s\n", mopay_api_routes(&route_count)[i].name);
}

static void fuzz_every_route(void **state)
{
    (void)state;
    size_t route_count;
    const struct mopay_route *routes = mopay_api_routes(&route_count);
    assert_true(route_count <= 128);
    uint64_t seed = env_number("MOPAY_FUZZ_SEED", 20261207);
    /* the budget CTest registers (tests/api/CMakeLists.txt), which MOPAY_FUZZ_REQUESTS overrides */
    size_t budget = (size_t)env_number("MOPAY_FUZZ_REQUESTS", env_number("MOPAY_FUZZ_REGISTERED_REQUESTS", 3000));
    fprintf(stderr, "route fuzzer: seed %llu, %zu requests (MOPAY_FUZZ_SEED, MOPAY_FUZZ_REQUESTS)\n",
            (unsigned long long)seed, budget);
    struct run *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fuzz_seed(seed);
    fuzz_world_setup(&run->w);
    for (int i = 0; i < P_COUNT; i++)
        for (int j = 0; j < P_COUNT; j++)
            run->linked[i][j] = i == j || (fuzz_side(i) >= 0 && fuzz_side(i) == fuzz_side(j));
    run->curl = curl_easy_init();
    for (size_t i = 0; i < route_count && !run->server_gone; i++) /* every route as everyone, valid */
        for (int p = 0; p < P_COUNT && !run->server_gone; p++)
            step(run, i, &routes[i], p, false);
    for (size_t n = 0; n < budget && !run->server_gone; n++) {
        size_t i = (size_t)(fuzz_rand() % route_count);
        step(run, i, &routes[i], (int)(fuzz_rand() % P_COUNT), true);
    }
    curl_easy_cleanup(run->curl);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    summary(run, route_count, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, seed);
    size_t unknown = run->unknown;
    final_checks(run);
    for (size_t i = 0; i < route_count; i++)
        assert_true(run->route_hits[i] > 0);
    free(run);
    assert_int_equal(unknown, 0);
}

/* The fuzzer makes bodies from the route table's specs: every route that takes a body names one,
 * and no other does. */
static void every_body_has_a_spec(void **state)
{
    (void)state;
    size_t count;
    const struct mopay_route *routes = mopay_api_routes(&count);
    assert_true(count > 0);
    for (size_t i = 0; i < count; i++) {
        const struct mopay_route *r = &routes[i];
        bool writes =
            strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0;
        bool takes_body = writes && !(r->flags & MOPAY_ROUTE_NO_BODY);
        if (takes_body != (r->body != NULL))
            fprintf(stderr, "route %s (%s %s): %s\n", r->name, r->method, r->pattern,
                    takes_body ? "takes a body but names no field spec" : "names a field spec but takes no body");
        assert_true(takes_body == (r->body != NULL));
    }
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_body_has_a_spec),
        cmocka_unit_test(fuzz_every_route),
    };
    return cmocka_run_group_tests_name("fuzz_routes", tests, NULL, NULL);
}
