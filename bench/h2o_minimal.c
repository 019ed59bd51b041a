/* The baseline for bench/http_healthz.sh: the smallest h2o evloop server we can write, one
 * loop thread per core on SO_REUSEPORT, answering every request with a fixed JSON body. mopay's
 * /healthz is measured against it in the same run, so the ratio shows what mopay's router,
 * request IDs, metrics and access log cost, whatever the machine's noise. */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

static h2o_globalconf_t config;

struct loop_thread {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int fd;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static const char body[] = "{\"status\":\"ok\"}";
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = sizeof(body) - 1;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, sizeof(body) - 1);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct loop_thread *t = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&t->accept_ctx, sock);
}

static void *loop_main(void *arg)
{
    struct loop_thread *t = arg;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&t->ctx, loop, &config);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = config.hosts;
    h2o_socket_t *listener = h2o_evloop_socket_create(loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = t;
    h2o_socket_read_start(listener, on_accept);
    for (;;)
        h2o_evloop_run(loop, INT32_MAX);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8090, threads = argc > 2 ? atoi(argv[2]) : 2;
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;
    struct loop_thread *loops = calloc((size_t)threads, sizeof(*loops));
    for (int i = 0; i < threads; i++) {
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int on = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
            perror("h2o_minimal: listen");
            return 1;
        }
        loops[i].fd = fd;
    }
    pthread_t tid;
    for (int i = 0; i < threads; i++)
        pthread_create(&tid, NULL, loop_main, &loops[i]);
    pause();
    return 0;
}
