/* Per-route, per-status request counts and latency histograms, kept per loop thread without
 * locks and summed when /metrics is scraped. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const int status_slots[METRIC_STATUS_SLOTS] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                                      409, 413, 415, 422, 429, 431, 500, 503, 0};
/* upper bounds in nanoseconds; the last bucket is +Inf */
static const int64_t latency_bounds_ns[METRIC_LATENCY_BUCKETS] = {
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
    100000000, 250000000, 1000000000, 5000000000};

static size_t status_slot(int status)
{
    for (size_t i = 0; i + 1 < METRIC_STATUS_SLOTS; i++)
        if (status_slots[i] == status)
            return i;
    return METRIC_STATUS_SLOTS - 1;
}

/* Single writer: a relaxed load and store is enough and costs no locked instruction. */
static void counter_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

void metrics_record(struct route_metrics *m, int status, int64_t duration_ns)
{
    size_t s = status_slot(status), b = 0;
    while (b < METRIC_LATENCY_BUCKETS && duration_ns > latency_bounds_ns[b])
        b++;
    counter_add(&m->count[s], 1);
    counter_add(&m->sum_ns[s], duration_ns > 0 ? (uint64_t)duration_ns : 0);
    counter_add(&m->buckets[s][b], 1);
}

struct text_out {
    struct mopay_arena *arena;
    char *buf;
    size_t len, cap;
};

static void out_printf(struct text_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct text_out *o, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->buf != NULL && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap ? o->cap * 2 : 16384) + (size_t)n;
        char *grown = mopay_arena_alloc(o->arena, cap);
        if (grown == NULL)
            return; /* the arena cap: the scrape is truncated rather than the server harmed */
        if (o->len > 0)
            memcpy(grown, o->buf, o->len);
        o->buf = grown;
        o->cap = cap;
    }
}

static void sum_route(struct mopay_http_server *server, size_t route, struct route_metrics *total)
{
    memset(total, 0, sizeof(*total));
    for (int t = 0; t < server->thread_count; t++) {
        struct route_metrics *m = &server->threads[t].metrics[route];
        for (size_t s = 0; s < METRIC_STATUS_SLOTS; s++) {
            total->count[s] += atomic_load_explicit(&m->count[s], memory_order_relaxed);
            total->sum_ns[s] += atomic_load_explicit(&m->sum_ns[s], memory_order_relaxed);
            for (size_t b = 0; b <= METRIC_LATENCY_BUCKETS; b++)
                total->buckets[s][b] += atomic_load_explicit(&m->buckets[s][b], memory_order_relaxed);
        }
    }
}

static void render_histogram(struct text_out *o, const char *route, const char *status,
                             const struct route_metrics *m, size_t s)
{
    uint64_t cumulative = 0;
    for (size_t b = 0; b < METRIC_LATENCY_BUCKETS; b++) {
        cumulative += m->buckets[s][b];
        out_printf(o, "mopay_http_request_duration_seconds_bucket{route=\"%s\",status=\"%s\",le=\"%g\"} %llu\n",
                   route, status, (double)latency_bounds_ns[b] / 1e9, (unsigned long long)cumulative);
    }
    cumulative += m->buckets[s][METRIC_LATENCY_BUCKETS];
    out_printf(o, "mopay_http_request_duration_seconds_bucket{route=\"%s\",status=\"%s\",le=\"+Inf\"} %llu\n", route,
               status, (unsigned long long)cumulative);
    out_printf(o, "mopay_http_request_duration_seconds_sum{route=\"%s\",status=\"%s\"} %.9f\n", route, status,
               (double)m->sum_ns[s] / 1e9);
    out_printf(o, "mopay_http_request_duration_seconds_count{route=\"%s\",status=\"%s\"} %llu\n", route, status,
               (unsigned long long)m->count[s]);
}

static const char *route_label(struct mopay_http_server *server, size_t route)
{
    return route < server->config.route_count ? server->config.routes[route].name : "unmatched";
}

static void status_label(size_t slot, char buf[8])
{
    if (status_slots[slot] == 0)
        strcpy(buf, "other");
    else
        snprintf(buf, 8, "%d", status_slots[slot]);
}

void mopay_http_metrics_render(struct mopay_http_server *server, struct mopay_arena *arena, char **out,
                               size_t *out_len)
{
    struct text_out o = {arena, NULL, 0, 0};
    size_t routes = server->config.route_count + 1;
    struct route_metrics *totals = mopay_arena_alloc(arena, sizeof(*totals) * routes);
    if (totals == NULL) {
        *out = NULL;
        *out_len = 0;
        return;
    }
    for (size_t r = 0; r < routes; r++)
        sum_route(server, r, &totals[r]);
    char status[8];
    out_printf(&o, "# HELP mopay_http_requests_total HTTP requests answered, by route and status.\n"
                   "# TYPE mopay_http_requests_total counter\n");
    for (size_t r = 0; r < routes; r++)
        for (size_t s = 0; s < METRIC_STATUS_SLOTS; s++)
            if (totals[r].count[s] > 0) {
                status_label(s, status);
                out_printf(&o, "mopay_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                           route_label(server, r), status, (unsigned long long)totals[r].count[s]);
            }
    out_printf(&o, "# HELP mopay_http_request_duration_seconds Time from request to reply, by route and status.\n"
                   "# TYPE mopay_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < routes; r++)
        for (size_t s = 0; s < METRIC_STATUS_SLOTS; s++)
            if (totals[r].count[s] > 0) {
                status_label(s, status);
                render_histogram(&o, route_label(server, r), status, &totals[r], s);
            }
    size_t inflight = 0;
    for (int t = 0; t < server->thread_count; t++)
        inflight += __atomic_load_n(&server->threads[t].inflight, __ATOMIC_RELAXED);
    out_printf(&o, "# HELP mopay_http_requests_in_flight Requests received and not yet finished.\n"
                   "# TYPE mopay_http_requests_in_flight gauge\nmopay_http_requests_in_flight %zu\n",
               inflight);
    out_printf(&o, "# HELP mopay_http_connections Open client connections.\n"
                   "# TYPE mopay_http_connections gauge\nmopay_http_connections %zu\n"
                   "# HELP mopay_http_connections_refused_total Connections closed at accept (--connections-max).\n"
                   "# TYPE mopay_http_connections_refused_total counter\nmopay_http_connections_refused_total %llu\n",
               atomic_load(&server->connections), (unsigned long long)atomic_load(&server->connections_refused));
    *out = o.buf;
    *out_len = o.len;
}
