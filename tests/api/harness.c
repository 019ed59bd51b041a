#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libpq-fe.h>

static const char *mopay_binary;
/* Servers still running when the test binary exits (a failed assertion skips server_stop) are
 * killed then, so a failing test never leaves a server behind. */
static pid_t live_servers[16];

static void kill_live_servers(void)
{
    for (size_t i = 0; i < sizeof(live_servers) / sizeof(live_servers[0]); i++)
        if (live_servers[i] > 0)
            kill(live_servers[i], SIGKILL);
}

static void server_track(pid_t pid, bool live)
{
    for (size_t i = 0; i < sizeof(live_servers) / sizeof(live_servers[0]); i++) {
        if (live && live_servers[i] == 0) {
            live_servers[i] = pid;
            return;
        }
        if (!live && live_servers[i] == pid)
            live_servers[i] = 0;
    }
}
static char pg_base_url[1024];
static int db_counter;

const char *harness_mopay_binary(void)
{
    return mopay_binary;
}

void harness_init(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MOPAY_BINARY [sqlite|@PG_URL_FILE]\n", argv[0]);
        exit(2);
    }
    mopay_binary = argv[1];
    if (argc > 2 && argv[2][0] == '@') {
        FILE *f = fopen(argv[2] + 1, "r");
        if (f == NULL || fgets(pg_base_url, sizeof(pg_base_url), f) == NULL) {
            fprintf(stderr, "cannot read the PostgreSQL URL from %s\n", argv[2] + 1);
            exit(1);
        }
        fclose(f);
        pg_base_url[strcspn(pg_base_url, "\r\n")] = '\0';
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    atexit(kill_live_servers);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A database of its own on the test cluster: "postgresql:///mopay_test?..." with another name. */
static void pg_new_database(char *url, size_t cap)
{
    char name[64];
    snprintf(name, sizeof(name), "mopay_api_%d_%d", (int)getpid(), ++db_counter);
    PGconn *c = PQconnectdb(pg_base_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    const char *q = strchr(pg_base_url, '?');
    snprintf(url, cap, "postgresql:///%s%s", name, q ? q : "");
}

static bool server_healthy(int port)
{
    CURL *c = curl_easy_init();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status == 200;
}

static void read_admin_key(struct server *s, int fd)
{
    char buf[256];
    size_t n = 0;
    for (int i = 0; i < 200 && n < sizeof(buf) - 1; i++) {
        ssize_t got = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (got > 0) {
            n += (size_t)got;
            if (memchr(buf, '\n', n))
                break;
        } else {
            usleep(25000);
        }
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    assert_true(strncmp(buf, "ak_", 3) == 0 && strlen(buf) == 67);
    strcpy(s->admin_key, buf);
}

void server_start(struct server *s, const struct server *reuse, const char *const *extra_args)
{
    if (reuse != NULL) {
        *s = *reuse;
    } else {
        memset(s, 0, sizeof(*s));
        strcpy(s->dir, "/tmp/mopay-api-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        if (pg_base_url[0])
            pg_new_database(s->db, sizeof(s->db));
        else
            snprintf(s->db, sizeof(s->db), "sqlite:%s/mopay.db", s->dir);
        snprintf(s->log_path, sizeof(s->log_path), "%s/server.log", s->dir);
    }
    s->port = free_port();
    char listen[64], keyfile[256];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", s->dir);
    const char *args[32] = {mopay_binary, "serve", "--db", s->db, "--listen", listen, "--master-key-file", keyfile,
                            "--threads", "2"};
    size_t n = 10;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 31; i++)
        args[n++] = extra_args[i];
    args[n] = NULL;
    int out[2];
    assert_int_equal(pipe(out), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(log, STDERR_FILENO);
        close(out[0]);
        execv(mopay_binary, (char *const *)args);
        _exit(127);
    }
    close(out[1]);
    server_track(s->pid, true);
    if (reuse == NULL) {
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        read_admin_key(s, out[0]);
    }
    close(out[0]);
    for (int i = 0; i < 200 && !server_healthy(s->port); i++)
        usleep(25000);
    assert_true(server_healthy(s->port));
}

int server_start_expect_exit(const struct server *reuse, const char *const *extra_args, char *log, size_t log_cap)
{
    struct server s = *reuse;
    s.port = free_port();
    snprintf(s.log_path, sizeof(s.log_path), "%s/refused-%d.log", reuse->dir, s.port);
    char listen[64], keyfile[256];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s.port);
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", s.dir);
    const char *args[32] = {mopay_binary, "serve", "--db", s.db, "--listen", listen, "--master-key-file", keyfile};
    size_t n = 8;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 31; i++)
        args[n++] = extra_args[i];
    args[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(s.log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        execv(mopay_binary, (char *const *)args);
        _exit(127);
    }
    int status = -1;
    for (int i = 0; i < 400 && waitpid(pid, &status, WNOHANG) != pid; i++)
        usleep(25000);
    if (waitpid(pid, NULL, WNOHANG) == 0) { /* still running: it started, which it must not */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        status = -1;
    }
    log[0] = '\0';
    FILE *f = fopen(s.log_path, "r");
    if (f != NULL) {
        size_t got = fread(log, 1, log_cap - 1, f);
        log[got] = '\0';
        fclose(f);
    }
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int server_stop(struct server *s)
{
    int status = -1;
    server_track(s->pid, false);
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(25000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    return -1;
}

void server_kill(struct server *s)
{
    int status;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    server_track(s->pid, false);
}

static size_t collect_body(char *data, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    char *grown = realloc(r->body, r->len + size * n + 1);
    assert_non_null(grown);
    memcpy(grown + r->len, data, size * n);
    r->body = grown;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t collect_header(char *data, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t used = strlen(r->headers), len = size * n;
    if (used + len < sizeof(r->headers)) {
        memcpy(r->headers + used, data, len);
        r->headers[used + len] = '\0';
    }
    return len;
}

static bool http_perform(const struct server *s, const char *method, const char *path, const char *token,
                         const char *body, const char *const *headers, struct response *out);

void http_call(const struct server *s, const char *method, const char *path, const char *token, const char *body,
               const char *const *headers, struct response *out)
{
    assert_true(http_perform(s, method, path, token, body, headers, out));
}

bool http_try(const struct server *s, const char *method, const char *path, const char *token, const char *body,
              struct response *out)
{
    return http_try_with(s, method, path, token, body, NULL, out);
}

bool http_try_with(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                   const char *const *headers, struct response *out)
{
    bool ok = http_perform(s, method, path, token, body, headers, out);
    if (!ok)
        response_free(out);
    return ok;
}

static bool http_perform(const struct server *s, const char *method, const char *path, const char *token,
                         const char *body, const char *const *headers, struct response *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    char url[2048], auth[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    struct curl_slist *list = NULL;
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        list = curl_slist_append(list, auth);
    }
    bool typed = false, expect = false;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        typed |= strncasecmp(headers[i], "Content-Type:", 13) == 0;
        expect |= strncasecmp(headers[i], "Expect:", 7) == 0;
    }
    if (body != NULL && !typed)
        list = curl_slist_append(list, "Content-Type: application/json");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    if (!expect) /* no 100-continue round trip unless the caller asks for one */
        list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    bool ok = curl_easy_perform(c) == CURLE_OK;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (ok && out->body != NULL)
        out->json = json_loadb(out->body, out->len, 0, NULL);
    return ok;
}

void response_free(struct response *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

bool response_header(const struct response *r, const char *name, char *buf, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r\n");
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return true;
        }
    }
    return false;
}

void expect_problem(const struct response *r, long status, const char *code, const char *field)
{
    char type[128];
    if (r->status != status || r->json == NULL)
        fprintf(stderr, "expected %ld %s, got %ld: %s\n", status, code, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, status);
    assert_true(response_header(r, "content-type", type, sizeof(type)));
    assert_string_equal(type, "application/problem+json");
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "code")), code);
    assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
    assert_non_null(json_string_value(json_object_get(r->json, "title")));
    assert_non_null(json_string_value(json_object_get(r->json, "type")));
    if (field != NULL)
        assert_string_equal(json_string_value(json_object_get(r->json, "field")), field);
}
