/* The h2o event loops: one thread per core, each with its own SO_REUSEPORT listener, context,
 * metrics and access-log buffer, so the loops share nothing on the request path. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/log.h"

#define FREE_REQUESTS_MAX 1024

void http_dispatch(struct mopay_http_request *r);           /* request.c */
void http_command_done_on_loop(h2o_multithread_message_t *msg); /* request.c */
void http_access_log_flush(struct http_thread *t);         /* request.c */

static struct http_thread *thread_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(struct http_thread, ctx, req->conn->ctx);
}

static struct mopay_http_request *request_acquire(struct http_thread *t)
{
    struct mopay_http_request *r = t->free_list;
    if (r != NULL) {
        t->free_list = r->next_free;
        t->free_count--;
        struct mopay_arena arena = r->arena;
        memset(r, 0, sizeof(*r));
        r->arena = arena;
    } else {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return NULL;
        mopay_arena_init(&r->arena);
    }
    r->thread = t;
    return r;
}

void http_request_unref(struct mopay_http_request *r)
{
    MOPAY_ASSERT(r->refs > 0);
    if (--r->refs > 0)
        return;
    struct http_thread *t = r->thread;
    mopay_arena_reset(&r->arena);
    if (t->free_count < FREE_REQUESTS_MAX) {
        r->next_free = t->free_list;
        t->free_list = r;
        t->free_count++;
    } else {
        mopay_arena_deinit(&r->arena);
        free(r);
    }
}

static void inflight_add(struct http_thread *t, int delta)
{
    __atomic_store_n(&t->inflight, t->inflight + (size_t)(ssize_t)delta, __ATOMIC_RELAXED);
}

/* h2o is done with the request: the reply is out, or the client went away. */
static void request_pool_disposed(void *p)
{
    struct mopay_http_request *r = *(struct mopay_http_request **)p;
    r->h2o = NULL;
    inflight_add(r->thread, -1);
    http_request_unref(r);
}

/* The port of an IPv4 or IPv6 socket address. */
static int sockaddr_port(const struct sockaddr_storage *sa)
{
    return ntohs(sa->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                           : ((const struct sockaddr_in *)sa)->sin_port);
}

/* The two listeners never share a port (mopay_http_start refuses it), so the local port tells
 * them apart, whatever address the metrics listener is bound to. */
static bool request_on_metrics_listener(struct mopay_http_server *s, h2o_req_t *req)
{
    if (s->metrics_port == 0 || req->conn->callbacks->get_sockname == NULL)
        return false;
    struct sockaddr_storage sa;
    socklen_t len = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&sa);
    return len != 0 && sockaddr_port(&sa) == s->metrics_port;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    struct http_thread *t = thread_of(req);
    struct mopay_http_request *r = request_acquire(t);
    if (r == NULL)
        return -1; /* h2o answers 404; only when malloc fails */
    struct mopay_http_request **hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), request_pool_disposed);
    *hook = r;
    r->h2o = req;
    r->refs = 1; /* h2o's, dropped by request_pool_disposed */
    r->started_ns = mopay_clock_monotonic_ns();
    r->route_index = t->server->config.route_count;
    r->metrics_listener = request_on_metrics_listener(t->server, req);
    inflight_add(t, 1);
    struct mopay_id id;
    mopay_id_new(mopay_clock_now_ns(), &id);
    mopay_id_format(MOPAY_ID_REQUEST, &id, r->request_id);
    http_dispatch(r);
    return 0;
}

/* What a connection's close gives back: its place in all, and its peer network's. */
struct http_conn_hold {
    struct mopay_http_server *server;
    uint64_t peer; /* 0: not counted per peer */
};

static void on_connection_close(void *data)
{
    struct http_conn_hold *hold = data;
    atomic_fetch_sub_explicit(&hold->server->connections, 1, memory_order_relaxed);
    if (hold->peer != 0)
        http_peer_release(hold->server->peers, hold->peer);
    free(hold);
}

/* Takes a place for a new connection: in all, and for its peer's network. false: no room. */
static bool connection_admit(struct mopay_http_server *s, h2o_socket_t *sock, struct http_conn_hold *hold)
{
    if (atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed) >= s->connections_max) {
        atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
        return false;
    }
    hold->server = s;
    hold->peer = 0;
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (s->peers != NULL && len > 0 && !http_peer_take(s->peers, (struct sockaddr *)&ss, &hold->peer)) {
        atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

/* A connection beyond connections_max, or beyond connections_per_address_max from its peer's
 * network, is closed before h2o reads a byte of it: the open ones
 * keep their memory and their loops' time (SPEC section 6; counted in /metrics). */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct http_thread *t = listener->data;
    struct mopay_http_server *s = t->server;
    if (err != NULL)
        return;
    for (int i = 0; i < 32; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        struct http_conn_hold *hold = malloc(sizeof(*hold));
        if (hold == NULL || !connection_admit(s, sock, hold)) {
            free(hold);
            atomic_fetch_add_explicit(&s->connections_refused, 1, memory_order_relaxed);
            h2o_socket_close(sock);
            continue;
        }
        sock->on_close.cb = on_connection_close;
        sock->on_close.data = hold;
        h2o_accept(&t->accept_ctx, sock);
    }
}

static void on_done_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        http_command_done_on_loop(msg);
    }
}

static void on_work_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        http_work_done_on_loop(msg);
    }
}

static void on_control_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct http_thread *t = H2O_STRUCT_FROM_MEMBER(struct http_thread, control_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
    }
    if (t->draining)
        return;
    t->draining = true;
    t->drain_deadline_ns = mopay_clock_monotonic_ns() + (int64_t)MOPAY_HTTP_DRAIN_TIMEOUT_MS * 1000000;
    h2o_socket_t **listeners[] = {&t->listener, &t->metrics_listener};
    for (size_t i = 0; i < 2; i++) {
        if (*listeners[i] != NULL) {
            h2o_socket_read_stop(*listeners[i]);
            h2o_socket_close(*listeners[i]);
            *listeners[i] = NULL;
        }
    }
    h2o_context_request_shutdown(&t->ctx);
}

static bool context_busy(h2o_context_t *ctx);

static bool thread_init(struct mopay_http_server *s, struct http_thread *t);
static void thread_dispose(struct http_thread *t);

/* Each loop sets up its own h2o state on its own thread: h2o keeps per-thread recycle bins
 * (socket buffers, pool chunks), and a socket remembers the bin of the thread that made it. Made
 * on the main thread, every loop's listener and wake-up pipe drew from the main thread's bins at
 * once, unlocked: two loops under load corrupted them (a crash about one run in four under the
 * ledger HTTP benchmark, never with one loop). */
static void *thread_main(void *arg)
{
    struct http_thread *t = arg;
    t->init_ok = thread_init(t->server, t);
    pthread_barrier_wait(&t->server->started);
    if (!t->init_ok)
        return NULL;
    for (;;) {
        h2o_evloop_run(t->loop, t->draining ? 50 : 1000);
        http_access_log_flush(t);
        if (!t->draining)
            continue;
        /* Commands in the sequencer always come back (or the process stops), so they are
         * waited for; slow clients only until the deadline. */
        bool requests_done = t->inflight == 0 || mopay_clock_monotonic_ns() > t->drain_deadline_ns;
        if (requests_done && t->pending_commands == 0)
            break;
    }
    /* Let connections that are closing finish, so the loop can be torn down cleanly. */
    for (int i = 0; i < 20 && context_busy(&t->ctx); i++)
        h2o_evloop_run(t->loop, 10);
    http_access_log_flush(t);
    /* Torn down here, on its own thread, for the same reason it was set up here: what it frees
     * goes back to this thread's bins. */
    t->disposed = !context_busy(&t->ctx);
    if (t->disposed)
        thread_dispose(t);
    return NULL;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT". */
static bool split_listen(const char *listen, char *host, size_t host_cap, char *port, size_t port_cap)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= port_cap)
        return false;
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= host_cap)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    return true;
}

static int listen_socket(const struct sockaddr *addr, socklen_t addr_len, char *err, size_t err_cap)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 || bind(fd, addr, addr_len) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        snprintf(err, err_cap, "listen: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool resolve_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addr_len, char *err,
                           size_t err_cap)
{
    char host[256], port[16];
    if (!split_listen(listen, host, sizeof(host), port, sizeof(port))) {
        snprintf(err, err_cap, "listen address '%s' is not HOST:PORT", listen);
        return false;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_cap, "listen address '%s': %s", listen, gai_strerror(rc));
        return false;
    }
    *addr_len = ai->ai_addrlen;
    memcpy(addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return true;
}

static int bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &addr_len);
    return sockaddr_port(&addr);
}

/* The metrics listener: one socket, on the first loop, on a port of its own. */
static bool server_bind_metrics(struct mopay_http_server *s, char *err, size_t err_cap)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (!resolve_listen(s->config.metrics_listen, &addr, &addr_len, err, err_cap))
        return false;
    int fd = listen_socket((struct sockaddr *)&addr, addr_len, err, err_cap);
    if (fd < 0)
        return false;
    s->threads[0].metrics_fd = fd;
    s->metrics_port = bound_port(fd);
    if (s->metrics_port == s->port) {
        snprintf(err, err_cap, "--metrics-listen %s: use another port than --listen", s->config.metrics_listen);
        return false;
    }
    return true;
}

/* Binds one listener per thread on the same address; with port 0 the first picks the port and
 * the others join it. Then the metrics listener, when asked for. */
static bool server_bind(struct mopay_http_server *s, char *err, size_t err_cap)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (!resolve_listen(s->config.listen, &addr, &addr_len, err, err_cap))
        return false;
    for (int i = 0; i < s->thread_count; i++) {
        int fd = listen_socket((struct sockaddr *)&addr, addr_len, err, err_cap);
        if (fd < 0)
            return false;
        s->threads[i].listen_fd = fd;
        if (i == 0) { /* port 0 picked one: the other loops' listeners join it */
            getsockname(fd, (struct sockaddr *)&addr, &addr_len);
            s->port = sockaddr_port(&addr);
        }
    }
    bool metrics = s->config.metrics_listen != NULL && s->config.metrics_listen[0] != '\0';
    return !metrics || server_bind_metrics(s, err, err_cap);
}

static SSL_CTX *tls_context(const char *cert, const char *key, char *err, size_t err_cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
fail:
    snprintf(err, err_cap, "TLS with %s and %s: %s", cert, key, ERR_reason_error_string(ERR_get_error()));
    SSL_CTX_free(ctx);
    return NULL;
}

static void server_configure_h2o(struct mopay_http_server *s)
{
    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("mopay"));
    s->globalconf.max_request_entity_size = MOPAY_HTTP_ENTITY_BYTES_MAX;
    s->globalconf.http1.req_timeout = MOPAY_HTTP_IDLE_TIMEOUT_MS;
    s->globalconf.http2.idle_timeout = MOPAY_HTTP_IDLE_TIMEOUT_MS;
    /* HTTP/2 only by ALPN over TLS (docs/api.md). h2o would otherwise take it in clear text too,
     * by the "PRI * HTTP/2.0" preface or "Upgrade: h2c": there no request timeout applies to a
     * stream still receiving its body, so one connection trickling a byte now and then held 100
     * streams of 4 MiB each (400 MB) for as long as it liked. */
    s->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    /* h2o refuses a body over its cap itself, before mopay sees the request, with a text/plain
     * 413. Its error-document filter sends such an answer back through mopay as a GET of this
     * path, which http_dispatch answers with the problem+json every other error has. */
    static h2o_errordoc_t too_large = {413, {(char *)HTTP_ERRORDOC_413_PATH, sizeof(HTTP_ERRORDOC_413_PATH) - 1}};
    h2o_errordoc_register(&host->fallback_path, &too_large, 1);
    h2o_errordoc_register(path, &too_large, 1);
}

static bool thread_init(struct mopay_http_server *s, struct http_thread *t)
{
    t->server = s;
    t->loop = h2o_evloop_create();
    h2o_context_init(&t->ctx, t->loop, &s->globalconf);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = s->globalconf.hosts;
    t->accept_ctx.ssl_ctx = s->ssl_ctx;
    t->queue = h2o_multithread_create_queue(t->loop);
    h2o_multithread_register_receiver(t->queue, &t->done_receiver, on_done_messages);
    h2o_multithread_register_receiver(t->queue, &t->work_receiver, on_work_messages);
    h2o_multithread_register_receiver(t->queue, &t->control_receiver, on_control_messages);
    t->metrics = calloc(s->config.route_count + 1, sizeof(*t->metrics));
    t->log_buf = malloc(MOPAY_ACCESS_LOG_BUFFER_BYTES);
    if (t->metrics == NULL || t->log_buf == NULL)
        return false;
    t->listener = h2o_evloop_socket_create(t->loop, t->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    if (t->metrics_fd >= 0) {
        t->metrics_listener = h2o_evloop_socket_create(t->loop, t->metrics_fd, H2O_SOCKET_FLAG_DONT_READ);
        t->metrics_listener->data = t;
        h2o_socket_read_start(t->metrics_listener, on_accept);
    }
    return true;
}

static int open_access_log(const char *where)
{
    if (where == NULL || strcmp(where, "off") == 0)
        return -1;
    if (strcmp(where, "-") == 0)
        return dup(STDERR_FILENO);
    return open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* The connection limit, within what the process may open: a descriptor per connection, and
 * MOPAY_HTTP_FDS_RESERVED for the listeners, the database, the log and the webhook client.
 * Past the descriptor limit accept() would fail over and over with the listener still ready. */
static size_t connections_max_for(size_t wanted)
{
    size_t max = wanted > 0 ? wanted : MOPAY_HTTP_CONNECTIONS_MAX_DEFAULT;
    struct rlimit fds;
    if (getrlimit(RLIMIT_NOFILE, &fds) != 0 || fds.rlim_cur == RLIM_INFINITY)
        return max;
    size_t room = fds.rlim_cur > 2 * MOPAY_HTTP_FDS_RESERVED ? (size_t)fds.rlim_cur - MOPAY_HTTP_FDS_RESERVED
                                                             : (size_t)fds.rlim_cur / 2;
    if (max > room) {
        MOPAY_LOG_WARN("fewer connections than asked: the open-files limit is lower", "connections_max=%zu nofile=%llu",
                       room, (unsigned long long)fds.rlim_cur);
        max = room;
    }
    return max;
}

struct mopay_http_server *mopay_http_start(const struct mopay_http_config *config, char *err, size_t err_cap)
{
    struct mopay_http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->config = *config;
    s->connections_max = connections_max_for(config->connections_max);
    if (config->connections_per_address_max > 0 &&
        (s->peers = http_peer_counts_new(config->connections_per_address_max, s->connections_max)) == NULL) {
        free(s);
        return NULL;
    }
    atomic_store(&s->idem_records, config->idempotency_records);
    s->idem_records_max =
        config->idempotency_records_max > 0 ? config->idempotency_records_max : MOPAY_IDEMPOTENCY_RECORDS_MAX_DEFAULT;
    s->access_log_fd = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->thread_count = config->threads > 0 ? config->threads : (cores > 0 ? (int)cores : 1);
    if (s->thread_count > MOPAY_HTTP_LOOP_THREADS_MAX)
        s->thread_count = MOPAY_HTTP_LOOP_THREADS_MAX;
    s->routes = calloc(config->route_count, sizeof(*s->routes));
    s->threads = calloc((size_t)s->thread_count, sizeof(*s->threads));
    if (s->routes == NULL || s->threads == NULL)
        goto fail;
    for (int i = 0; i < s->thread_count; i++)
        s->threads[i].listen_fd = s->threads[i].metrics_fd = -1;
    if (!router_compile(config->routes, config->route_count, s->routes)) {
        snprintf(err, err_cap, "a route pattern is malformed");
        goto fail;
    }
    bool tls = config->tls_cert != NULL && config->tls_cert[0] && config->tls_key != NULL && config->tls_key[0];
    if (tls && (s->ssl_ctx = tls_context(config->tls_cert, config->tls_key, err, err_cap)) == NULL)
        goto fail;
    s->access_log_fd = open_access_log(config->access_log);
    if (s->access_log_fd < 0 && config->access_log != NULL && strcmp(config->access_log, "off") != 0) {
        snprintf(err, err_cap, "access log %s: %s", config->access_log, strerror(errno));
        goto fail;
    }
    if (!http_limits_init(s, err, err_cap) || !server_bind(s, err, err_cap))
        goto fail;
    if (!http_workers_start(&s->workers)) {
        snprintf(err, err_cap, "cannot start the worker threads");
        goto fail;
    }
    server_configure_h2o(s);
    signal(SIGPIPE, SIG_IGN);
    pthread_barrier_init(&s->started, NULL, (unsigned)s->thread_count + 1);
    for (int i = 0; i < s->thread_count; i++) {
        s->threads[i].server = s;
        pthread_create(&s->threads[i].tid, NULL, thread_main, &s->threads[i]);
    }
    pthread_barrier_wait(&s->started);
    bool all_ok = true;
    for (int i = 0; i < s->thread_count; i++)
        all_ok &= s->threads[i].init_ok;
    /* Out of memory while a loop set itself up: h2o cannot be unwound from there; stop. */
    MOPAY_ASSERT(all_ok);
    return s;
fail:
    for (int i = 0; s->threads != NULL && i < s->thread_count; i++) {
        if (s->threads[i].listen_fd >= 0 && s->threads[i].listener == NULL)
            close(s->threads[i].listen_fd);
        if (s->threads[i].metrics_fd >= 0 && s->threads[i].metrics_listener == NULL)
            close(s->threads[i].metrics_fd);
    }
    if (s->access_log_fd >= 0)
        close(s->access_log_fd);
    SSL_CTX_free(s->ssl_ctx);
    http_limits_deinit(s);
    http_peer_counts_free(s->peers);
    free(s->routes);
    free(s->threads);
    free(s);
    return NULL;
}

int mopay_http_port(struct mopay_http_server *server)
{
    return server->port;
}

int mopay_http_metrics_port(struct mopay_http_server *server)
{
    return server->metrics_port;
}

void mopay_http_stop(struct mopay_http_server *server)
{
    for (int i = 0; i < server->thread_count; i++)
        h2o_multithread_send_message(&server->threads[i].control_receiver, &server->threads[i].stop_message);
    for (int i = 0; i < server->thread_count; i++)
        pthread_join(server->threads[i].tid, NULL);
    /* The loops waited for their offloaded jobs, so the pool's queue is empty. */
    http_workers_stop(&server->workers);
}

/* Connections a client still holds open after the drain (an idle keep-alive, say) still own
 * h2o memory, and h2o 2.2 has no call that closes them from outside; their server is parked
 * here, reachable, until the process exits. */
static struct mopay_http_server *parked_server;

static bool timeout_busy(h2o_timeout_t *timeout)
{
    return !h2o_linklist_is_empty(&timeout->_entries);
}

/* Whether h2o still holds anything on this loop: a connection, or a timer one armed. */
static bool context_busy(h2o_context_t *ctx)
{
    return !h2o_linklist_is_empty(&ctx->http1._conns) || !h2o_linklist_is_empty(&ctx->http2._conns) ||
           timeout_busy(&ctx->zero_timeout) || timeout_busy(&ctx->one_sec_timeout) ||
           timeout_busy(&ctx->hundred_ms_timeout) || timeout_busy(&ctx->handshake_timeout) ||
           timeout_busy(&ctx->http1.req_timeout) || timeout_busy(&ctx->http2.idle_timeout) ||
           timeout_busy(&ctx->http2.graceful_shutdown_timeout) || timeout_busy(&ctx->proxy.io_timeout);
}

static bool connections_remain(struct mopay_http_server *server)
{
    for (int i = 0; i < server->thread_count; i++)
        if (!server->threads[i].disposed)
            return true;
    return false;
}

static void thread_dispose(struct http_thread *t)
{
    h2o_multithread_unregister_receiver(t->queue, &t->done_receiver);
    h2o_multithread_unregister_receiver(t->queue, &t->work_receiver);
    h2o_multithread_unregister_receiver(t->queue, &t->control_receiver);
    h2o_multithread_destroy_queue(t->queue);
    h2o_context_dispose(&t->ctx);
    h2o_evloop_destroy(t->loop);
}

void mopay_http_free(struct mopay_http_server *server)
{
    if (server == NULL)
        return;
    if (connections_remain(server)) {
        parked_server = server;
        return;
    }
    for (int i = 0; i < server->thread_count; i++) {
        struct http_thread *t = &server->threads[i];
        while (t->free_list != NULL) {
            struct mopay_http_request *r = t->free_list;
            t->free_list = r->next_free;
            mopay_arena_deinit(&r->arena);
            free(r);
        }
        free(t->metrics);
        free(t->log_buf);
    }
    if (server->access_log_fd >= 0)
        close(server->access_log_fd);
    h2o_config_dispose(&server->globalconf);
    SSL_CTX_free(server->ssl_ctx);
    http_limits_deinit(server);
    http_peer_counts_free(server->peers);
    pthread_barrier_destroy(&server->started);
    free(server->routes);
    free(server->threads);
    free(server);
}
