#ifndef MOPAY_HTTP_H
#define MOPAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mopay/arena.h"
#include "mopay/json.h"
#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/keys.h"
#include "mopay/seq.h"

/* The HTTP layer: h2o event loops (one thread per core), a static route table, bearer
 * authentication, JSON bodies, problem+json errors, Idempotency-Key plumbing, request IDs,
 * metrics and an access log. Handlers run on an event-loop thread and never block it: a
 * handler either replies at once (reads from memory, validation errors) or submits a command to
 * the sequencer, and the reply goes out from the loop when the command is durable. */

struct mopay_http_request;
struct mopay_http_server;

enum mopay_principal_kind {
    MOPAY_PRINCIPAL_NONE = 0,
    MOPAY_PRINCIPAL_OPERATOR = 1u << 0,
    MOPAY_PRINCIPAL_MERCHANT = 1u << 1,
    MOPAY_PRINCIPAL_CUSTOMER = 1u << 2,
};

struct mopay_principal {
    enum mopay_principal_kind kind;
    char id[MOPAY_ID_TEXT_BYTES]; /* "adk_...", "mch_...", "cus_..." */
};

/* Looks a bearer token up; false when unknown or revoked. Called on event-loop threads. */
typedef bool (*mopay_http_auth_fn)(void *ctx, const char *token, size_t len, struct mopay_principal *out);

typedef void (*mopay_http_handler_fn)(struct mopay_http_request *req);

#define MOPAY_ROUTE_BULK_BODY 0x1u /* takes bodies up to MOPAY_HTTP_BODY_BULK_BYTES_MAX */
#define MOPAY_ROUTE_METRICS 0x4u  /* also served, with no key, on the --metrics-listen address, which
                                      serves nothing else */
#define MOPAY_ROUTE_RAW_BODY 0x2u  /* the handler reads the JSON itself (mopay_http_raw_body); size
                                      and content type are still checked first */
#define MOPAY_ROUTE_NO_REPLAY 0x8u /* an Idempotency-Key is checked but never replayed (a log-in:
                                      its signed timestamp is good once) */
#define MOPAY_ROUTE_NO_BODY 0x10u  /* a POST, PUT or PATCH that takes no body (its path says it all) */

struct mopay_route {
    const char *name;    /* label in metrics and the access log */
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/admin-keys/{id}": literal segments and {param} segments */
    unsigned principals; /* who may call it: a mask of mopay_principal_kind; 0 = anyone */
    unsigned flags;
    mopay_http_handler_fn handler;
    /* The body's field spec (mopay/json.h), the one the handler reads it with: NULL for GET and
     * DELETE and for MOPAY_ROUTE_NO_BODY routes, set for every other route (a test checks). The
     * route fuzzer (tests/api/test_fuzz_routes.c) makes its bodies from it. */
    const struct mopay_json_field *body;
};

/* Rate limits checked before a handler runs (0: off), over any minute; 429 rate_limited with
 * Retry-After past them. */
struct mopay_http_limits {
    uint32_t anonymous_per_min; /* per client address, on anonymous routes other than GET */
    uint32_t bad_token_per_min; /* per client address, bearer credentials that are unknown or revoked */
    uint32_t principal_per_min; /* per merchant key or customer session (operator keys: no limit) */
    uint32_t idem_records_per_principal_per_day; /* new Idempotency-Key answers per merchant key or
                                                    customer (operator, anonymous: no limit) */
    const char *trusted_proxies; /* "CIDR[,CIDR]": peers whose X-Forwarded-For is believed */
};

struct mopay_http_config {
    const char *listen; /* "HOST:PORT" */
    const char *metrics_listen; /* "HOST:PORT" for the MOPAY_ROUTE_METRICS routes alone; NULL or "": none */
    int threads;        /* 0: one per core */
    const char *tls_cert, *tls_key; /* both set: TLS (HTTP/1.1 and HTTP/2 by ALPN) */
    const char *access_log;         /* path, "-" for stderr, "off" */
    const struct mopay_route *routes;
    size_t route_count;
    mopay_http_auth_fn authenticate;
    void *auth_ctx;
    struct mopay_seq *seq;
    const struct mopay_keys *keys;
    void *app; /* handed to handlers by mopay_http_app() */
    struct mopay_http_limits limits;
    size_t connections_max; /* open client connections, all loops together; one more is closed at
                               once (0: MOPAY_HTTP_CONNECTIONS_MAX_DEFAULT) */
    size_t connections_per_address_max; /* the same from one IPv4 address or IPv6 /64 (0: no limit) */
    /* Stored Idempotency-Key answers: how many the store holds at start, and how many it may
     * (0: MOPAY_IDEMPOTENCY_RECORDS_MAX_DEFAULT). A write with a new key past it is answered
     * 503 capacity_exhausted and changes nothing. */
    uint64_t idempotency_records, idempotency_records_max;
};

/* The tick deleted `count` expired idempotency records: room for as many new ones. Sequencer
 * thread only, like every change of the count. */
void mopay_http_idem_forgotten(struct mopay_http_server *server, int64_t count);

/* Binds, starts the loop threads, returns at once. NULL with a reason in `err` on failure. */
struct mopay_http_server *mopay_http_start(const struct mopay_http_config *config, char *err, size_t err_cap);
/* The bound port (useful with port 0). */
int mopay_http_port(struct mopay_http_server *server);
/* The metrics listener's bound port; 0 without one. */
int mopay_http_metrics_port(struct mopay_http_server *server);
/* Graceful shutdown: stops accepting, lets in-flight requests finish (at most
 * MOPAY_HTTP_DRAIN_TIMEOUT_MS), closes connections, joins the loop threads. */
void mopay_http_stop(struct mopay_http_server *server);
void mopay_http_free(struct mopay_http_server *server);
/* Appends the HTTP metrics in Prometheus text format to `out`. */
void mopay_http_metrics_render(struct mopay_http_server *server, struct mopay_arena *arena, char **out,
                               size_t *out_len);

/* --- for handlers --- */
void *mopay_http_app(struct mopay_http_request *req);
struct mopay_http_server *mopay_http_server_of(struct mopay_http_request *req);
struct mopay_arena *mopay_http_arena(struct mopay_http_request *req);
const struct mopay_principal *mopay_http_principal(struct mopay_http_request *req);
/* The client's address as text ("192.0.2.7", "2001:db8::1"): the socket peer's, or, when the
 * peer is a trusted proxy, the right-most address of X-Forwarded-For that is not one. */
#define MOPAY_HTTP_CLIENT_ADDR_BYTES 48
const char *mopay_http_client_address(struct mopay_http_request *req);
/* What the per-address limits count: an IPv4 client's address, an IPv6 client's /64
 * ("2001:db8:1:2::/64"): one IPv6 subscriber is given a /64 at least, and every address in it. */
const char *mopay_http_client_network(struct mopay_http_request *req);
/* The n-th {param} of the route's pattern, NUL-terminated, and its length. */
const char *mopay_http_param(struct mopay_http_request *req, size_t n, size_t *len);
/* The query parameter `name`, percent-decoded, NUL-terminated, in the request's arena; NULL when
 * absent, or when its escapes are malformed (then *malformed is set). */
const char *mopay_http_query(struct mopay_http_request *req, const char *name, size_t *len, bool *malformed);
/* The parsed JSON object body (bodies are parsed and checked before the handler runs); NULL for
 * requests without a body. Lives in the request's arena. */
json_t *mopay_http_body(struct mopay_http_request *req);

/* The request body's bytes, for MOPAY_ROUTE_RAW_BODY routes; NULL (and *len 0) when empty. */
const char *mopay_http_raw_body(struct mopay_http_request *req, size_t *len);

void mopay_http_reply_json(struct mopay_http_request *req, int status, json_t *body);
void mopay_http_reply_raw(struct mopay_http_request *req, int status, const char *content_type, const char *body,
                          size_t len);
/* problem+json with the registry's status, code and title; `field` is a JSON pointer or NULL. */
void mopay_http_reply_error(struct mopay_http_request *req, enum mopay_err err, const char *field,
                            const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

/* 429 rate_limited with `Retry-After: retry_after_s` (whole seconds, >= 1). */
void mopay_http_reply_rate_limited(struct mopay_http_request *req, int64_t retry_after_s, const char *detail);

/* Checks a body against a field spec (mopay/json.h); on failure replies with the error and
 * the JSON pointer of the offending field, and returns false. A NULL body is body_required. */
bool mopay_http_json_read(struct mopay_http_request *req, json_t *object, const struct mopay_json_field *spec,
                          void *out);

/* --- the write path --- */
struct mopay_http_command;

/* On the sequencer thread: change state, in memory and in the store; return MOPAY_OK or an
 * operating error (and then change nothing). In-memory state changes here, before the batch is
 * durable; that is safe because no reply leaves before it is, and a failed commit stops the
 * process. `err_field`/`err_detail` may be set for the problem body. */
typedef enum mopay_err (*mopay_http_apply_fn)(struct mopay_http_command *cmd, struct mopay_store *store,
                                              int64_t now_ns);
/* On the sequencer thread after a successful apply: the reply's status and JSON body. A render
 * may answer with an error after a change that must stand (a wrong PIN counted, say): it
 * returns mopay_http_problem(...) with its status. */
typedef json_t *(*mopay_http_render_fn)(struct mopay_http_command *cmd, int *status);
/* The same for large replies written straight as text: malloc'd JSON and its length. */
typedef char *(*mopay_http_render_text_fn)(struct mopay_http_command *cmd, int *status, size_t *len);
/* JSON text in plain malloc'd memory, freed with free() (jansson's own dumps go through the
 * arena hooks and must not be): for render_text. */
char *mopay_http_json_text(json_t *j, size_t *len);

/* On the request's loop once a step command succeeded: the handler goes on (offloads work,
 * submits the next command, or replies). */
typedef void (*mopay_http_then_fn)(struct mopay_http_command *cmd);

struct mopay_http_command {
    struct mopay_seq_cmd seq; /* first: the sequencer sees this */
    struct mopay_http_request *req;
    mopay_http_apply_fn apply;
    mopay_http_render_fn render;
    mopay_http_then_fn then; /* set: a step of a longer request (a read before slow work, say).
                                A step does no Idempotency-Key handling, which belongs to the
                                request's last command, and on success does not reply: `then`
                                runs instead. A failed step replies with its error. */
    mopay_http_render_text_fn render_text; /* used instead of render when set */
    bool render_on_loop; /* render_text reads only the command, not shared state: run it on the
                            event loop after the commit, off the sequencer thread (except for an
                            idempotent request, whose reply is stored with the change) */
    void *app;
    const char *err_field;
    const char *err_detail;
    int64_t retry_after_s; /* set by an apply that returns rate_limited: the Retry-After */
    /* filled by the plumbing */
    int reply_status;
    char *reply_body; /* malloc'd JSON */
    size_t reply_len;
    bool replayed;    /* answered from the idempotency store */
    bool reply_deferred; /* render_text still to run, on the loop */
};

/* A zeroed command of `size` bytes (a struct that starts with mopay_http_command) in the
 * request's arena, which lives until the command is done. */
void *mopay_http_command_new(struct mopay_http_request *req, size_t size, mopay_http_apply_fn apply,
                             mopay_http_render_fn render);
/* Hands the command to the sequencer. With an Idempotency-Key header, a stored reply for the
 * same key and request is sent again instead, and a stored one for another request gets 409
 * idempotency_key_reused. A full queue answers 503 overloaded at once. */
void mopay_http_submit(struct mopay_http_request *req, struct mopay_http_command *cmd);

/* problem+json for a render that answers with an error (status: the registry's). */
json_t *mopay_http_problem(struct mopay_http_command *cmd, enum mopay_err err, const char *field, const char *detail,
                           int *status);

/* --- slow work off the loop ---
 * CPU-heavy work (Argon2id PIN hashing takes tens of milliseconds) must not stall an event
 * loop nor the sequencer: a handler hands it to the server's small worker pool, and `done`
 * runs back on the request's loop, where the handler goes on. A full pool queue answers 503
 * overloaded at once. `arg` must live as long as the request (put it in the request's arena). */
typedef void (*mopay_http_work_fn)(void *arg);
typedef void (*mopay_http_work_done_fn)(struct mopay_http_request *req, void *arg);
void mopay_http_offload(struct mopay_http_request *req, mopay_http_work_fn work, mopay_http_work_done_fn done,
                        void *arg);

#endif
