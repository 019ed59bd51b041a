#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "receiver.h"



static struct {
    int fd;
    uint16_t port;
    bool running;
    pthread_t thread;
    _Atomic int answer; /* the status it answers with */
    pthread_mutex_t lock;
    pthread_cond_t released; /* hold was turned off */
    bool hold;               /* under lock: answers wait */
    _Atomic size_t count;
    struct rx_request requests[RX_MAX];
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER, .released = PTHREAD_COND_INITIALIZER, .answer = 200};

static void rx_header(const char *head, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\r\n%s:", name);
    const char *at = strcasestr(head, needle);
    out[0] = '\0';
    if (at == NULL)
        return;
    at += strlen(needle);
    while (*at == ' ')
        at++;
    size_t len = strcspn(at, "\r");
    if (len < cap) {
        memcpy(out, at, len);
        out[len] = '\0';
    }
}

/* Reads one request (headers, then Content-Length bytes of body) into `r`. */
static bool rx_read(int fd, struct rx_request *r)
{
    static _Thread_local char buf[RX_BUF_BYTES * 2];
    size_t len = 0, head_len = 0, body_len = 0;
    for (;;) {
        char *end = head_len == 0 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (end != NULL) {
            head_len = (size_t)(end - buf) + 4;
            char length[24];
            buf[head_len - 2] = '\0'; /* the headers as one string, ending in "\r\n" */
            rx_header(buf, "content-length", length, sizeof(length));
            body_len = (size_t)strtoul(length, NULL, 10);
            rx_header(buf, "mopay-event-id", r->event_id, sizeof(r->event_id));
            rx_header(buf, "mopay-signature", r->signature, sizeof(r->signature));
            rx_header(buf, "content-type", r->content_type, sizeof(r->content_type));
            snprintf(r->request_line, sizeof(r->request_line), "%.*s", (int)strcspn(buf, "\r"), buf);
            if (body_len >= RX_BUF_BYTES)
                return false;
        }
        if (head_len > 0 && len >= head_len + body_len)
            break;
        if (len == sizeof(buf))
            return false;
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    memcpy(r->body, buf + head_len, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
    return true;
}

static void rx_serve(int fd)
{
    struct rx_request r = {0};
    if (!rx_read(fd, &r))
        return;
    r.answered = atomic_load(&rx.answer);
    pthread_mutex_lock(&rx.lock);
    size_t i = atomic_load(&rx.count);
    if (i < RX_MAX) {
        rx.requests[i] = r;
        atomic_store(&rx.count, i + 1);
    }
    while (rx.hold)
        pthread_cond_wait(&rx.released, &rx.lock);
    pthread_mutex_unlock(&rx.lock);
    char reply[128];
    int n = snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     r.answered);
    assert_int_equal(write(fd, reply, (size_t)n), n);
}

static void *rx_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(rx.fd, NULL, NULL);
        if (c < 0 && errno == EINTR)
            continue;
        if (c < 0)
            return NULL; /* the listening socket was shut down */
        struct timeval tv = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        rx_serve(c);
        close(c);
    }
}

void rx_start(uint16_t port)
{
    rx.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(rx.fd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(rx.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(rx.fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(rx.fd, 64), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(rx.fd, (struct sockaddr *)&addr, &len), 0);
    rx.port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&rx.thread, NULL, rx_main, NULL), 0);
    rx.running = true;
}

void rx_hold(bool hold)
{
    pthread_mutex_lock(&rx.lock);
    rx.hold = hold;
    pthread_cond_broadcast(&rx.released);
    pthread_mutex_unlock(&rx.lock);
}

void rx_stop(void)
{
    rx_hold(false);
    if (!rx.running)
        return;
    shutdown(rx.fd, SHUT_RDWR); /* wakes the blocked accept */
    pthread_join(rx.thread, NULL);
    close(rx.fd);
    rx.running = false;
}

size_t rx_count(void)
{
    return atomic_load(&rx.count);
}

uint16_t rx_port(void)
{
    return rx.port;
}

void rx_answer(int status)
{
    atomic_store(&rx.answer, status);
}

void rx_clear(void)
{
    atomic_store(&rx.count, 0);
}

const struct rx_request *rx_request_at(size_t i)
{
    assert_true(i < rx_count());
    return &rx.requests[i];
}
