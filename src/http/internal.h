#ifndef MOPAY_HTTP_INTERNAL_H
#define MOPAY_HTTP_INTERNAL_H

/* Shared between the files of the http module; not part of its interface. */

#include <stdatomic.h>
#include <pthread.h>

#include <h2o.h>

#include "mopay/clock.h"
#include "mopay/http.h"
#include "mopay/limits.h"
#include "mopay/ratelimit.h"

/* --- router.c --- */
#define ROUTE_SEGMENTS_MAX 12

/* Where h2o's error-document filter sends its own 413 (server.c), answered by http_dispatch. */
#define HTTP_ERRORDOC_413_PATH "/.mopay/errors/413"

struct compiled_route {
    const struct mopay_route *route;
    size_t segment_count;
    struct {
        const char *text; /* NULL for a {param} segment */
        size_t len;
    } segments[ROUTE_SEGMENTS_MAX];
};

enum route_match { ROUTE_MATCHED, ROUTE_NO_PATH, ROUTE_WRONG_METHOD };

/* false when a pattern is malformed or has too many segments or params. */
bool router_compile(const struct mopay_route *routes, size_t count, struct compiled_route *out);
/* On ROUTE_MATCHED: *index and the params (pointing into `path`); on ROUTE_WRONG_METHOD: the
 * allowed methods, comma-separated, in `allow`. */
enum route_match router_match(const struct compiled_route *routes, size_t count, const char *method,
                              size_t method_len, const char *path, size_t path_len, size_t *index,
                              struct mopay_str params[MOPAY_HTTP_PATH_PARAMS_MAX], size_t *param_count,
                              char *allow, size_t allow_cap);

/* --- metrics.c --- */
#define METRIC_STATUS_SLOTS 18
#define METRIC_LATENCY_BUCKETS 14

struct route_metrics {
    _Atomic uint64_t count[METRIC_STATUS_SLOTS];
    _Atomic uint64_t sum_ns[METRIC_STATUS_SLOTS];
    _Atomic uint64_t buckets[METRIC_STATUS_SLOTS][METRIC_LATENCY_BUCKETS + 1];
};

/* One writer (its loop thread), many readers (the /metrics handler on any loop). */
void metrics_record(struct route_metrics *m, int status, int64_t duration_ns);

/* --- the server --- */
struct http_thread;

struct mopay_http_request {
    struct http_thread *thread;
    h2o_req_t *h2o;   /* NULL once h2o has disposed of the request (sent, or the client left) */
    int refs;         /* h2o's hold, the handler call, an outstanding command */
    bool replied;
    size_t route_index; /* route_count for "unmatched" */
    bool metrics_listener; /* it came in on the --metrics-listen address */
    struct mopay_principal principal;
    struct mopay_str params[MOPAY_HTTP_PATH_PARAMS_MAX];
    size_t param_count;
    json_t *body;
    struct mopay_str idem_key;
    int64_t retry_after_s; /* > 0: a 429 says Retry-After */
    char client_addr[MOPAY_HTTP_CLIENT_ADDR_BYTES]; /* "" until mopay_http_client_address */
    char client_net[MOPAY_HTTP_CLIENT_ADDR_BYTES];  /* "" until mopay_http_client_network */
    int64_t started_ns;
    char request_id[MOPAY_ID_TEXT_BYTES];
    struct mopay_arena arena;
    struct mopay_http_request *next_free;
};

struct http_thread {
    struct mopay_http_server *server;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int listen_fd;
    h2o_socket_t *metrics_listener; /* the first loop's only */
    int metrics_fd;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done_receiver;
    h2o_multithread_receiver_t work_receiver;
    h2o_multithread_receiver_t control_receiver;
    h2o_multithread_message_t stop_message;
    bool draining;
    bool init_ok;
    bool disposed; /* its h2o state was torn down when its loop ended */
    int64_t drain_deadline_ns;
    size_t inflight;         /* requests h2o still holds */
    size_t pending_commands; /* commands handed to the sequencer, not yet back */
    struct route_metrics *metrics; /* route_count + 1 (unmatched) */
    struct mopay_http_request *free_list;
    size_t free_count;
    char *log_buf;
    size_t log_len;
    int64_t log_flushed_ns;
    int64_t log_ts_second;
    char log_ts[MOPAY_TIME_TEXT_BYTES];
};

/* work.c: the slow-work pool */
struct http_work;
struct http_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct http_work *head, *tail;
    size_t queued;
    bool stopping;
    int started;
    pthread_t threads[MOPAY_HTTP_WORKERS];
};
bool http_workers_start(struct http_workers *w);
void http_workers_stop(struct http_workers *w);
void http_work_done_on_loop(h2o_multithread_message_t *msg);

struct http_cidr {
    uint8_t addr[16]; /* IPv4 as IPv4-mapped IPv6 */
    unsigned bits;    /* of the 128 */
};

struct mopay_http_server {
    struct mopay_http_config config;
    struct http_cidr trusted[MOPAY_HTTP_TRUSTED_PROXIES_MAX];
    size_t trusted_count;
    struct mopay_ratelimit *anonymous_limit, *bad_token_limit, *principal_limit; /* NULL: off */
    struct mopay_ratelimit *idem_principal_limit; /* the sequencer thread's alone; NULL: off */
    struct http_workers workers;
    struct compiled_route *routes;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    struct http_thread *threads;
    int thread_count;
    int port;
    int metrics_port; /* 0: no metrics listener */
    int access_log_fd; /* -1: off */
    pthread_barrier_t started; /* the loops have set themselves up (or failed to) */
    size_t connections_max;
    _Atomic size_t connections;          /* open client connections, all loops */
    _Atomic uint64_t connections_refused; /* closed at accept: connections_max were open */
    struct http_peer_counts *peers;       /* open connections per peer network; NULL: no limit */
    _Atomic uint64_t idem_records;        /* stored Idempotency-Key answers, counted on the sequencer */
    uint64_t idem_records_max;
};

/* request.c */
json_t *http_problem_new(enum mopay_err err, const char *field, const char *detail, const char *request_id);
void http_request_unref(struct mopay_http_request *r);

/* admit.c: a socket address as 16 bytes (IPv4 as IPv4-mapped IPv6; false for other families),
 * and an address's network in place: an IPv4 address whole, an IPv6 one's /64 (a subscriber's). */
bool http_sockaddr_bytes(const struct sockaddr *sa, uint8_t out[16]);
void http_addr_network(uint8_t a[16]);

/* peers.c: open connections per peer network (an IPv4 address, an IPv6 /64), in a table sized
 * at start: a network's count is kept while it has connections. Thread-safe (one lock). */
struct http_peer_counts;
struct http_peer_counts *http_peer_counts_new(size_t per_peer_max, size_t connections_max);
void http_peer_counts_free(struct http_peer_counts *pc);
/* One more connection from `addr`'s network: false when it has per_peer_max already. *out_key
 * is what http_peer_release takes back. */
bool http_peer_take(struct http_peer_counts *pc, const struct sockaddr *addr, uint64_t *out_key);
void http_peer_release(struct http_peer_counts *pc, uint64_t key);

/* admit.c: the rate limits checked before a handler runs. Each refusing call has replied 429
 * rate_limited with Retry-After. */
bool http_limits_init(struct mopay_http_server *s, char *err, size_t err_cap);
void http_limits_deinit(struct mopay_http_server *s);
bool http_trusted_proxies_parse(struct mopay_http_server *s, const char *list, char *err, size_t err_cap);
bool http_admit_anonymous(struct mopay_http_request *r, const struct mopay_route *route);
/* Counts a bad credential from the client's address: false (429 sent) past the limit. */
bool http_admit_bad_token(struct mopay_http_request *r);
bool http_admit_principal(struct mopay_http_request *r);

/* json.c: parses and checks a request body; replies with the error and returns false. */
bool http_body_parse(struct mopay_http_request *req, const char *body, size_t len);

#endif
