/* `mopay fx import FILE.csv`: an operator loads a rates file into a running server over HTTP
 * (PUT /v1/fx/rates, libcurl). The whole file is checked before anything is sent
 * (mopay_fx_csv_parse hands over no row of a bad file), so a bad line imports nothing. A pair
 * the file gives more than once counts once, at its latest time, and so goes in one request
 * only: a later request cannot put back an older rate. The rates go in requests of at most the
 * endpoint's 256; each request is all or nothing on the server, but the import as a whole is
 * not: when a request is refused, those before it stay imported, and stderr says how many.
 * stdout carries one line per request and the summary; stderr what went wrong. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "fx.h"
#include "mopay/assert.h"
#include "mopay/fx.h"

#define FX_URL_DEFAULT "http://127.0.0.1:8080"
#define FX_URL_BYTES_MAX 512
#define FX_RATES_PATH "/v1/fx/rates"
/* The endpoint takes 1 to 256 rates. At most about 230 bytes each (a 64-byte source of
 * backslashes doubles in JSON), 256 stay under its 64 KiB body limit. */
#define FX_RATES_PER_PUT_MAX 256
#define FX_REPLY_SHOWN_BYTES_MAX 4096 /* of an answer, kept to show when it is a refusal */
#define FX_CONNECT_TIMEOUT_MS 3000
#define FX_REQUEST_TIMEOUT_MS 30000
#define FX_TIME_TEXT_BYTES 40 /* "2026-11-21T08:30:00.123456789Z" */
#define NS_PER_S 1000000000LL

static const char usage_text[] =
    "Usage: mopay fx COMMAND ...\n\n"
    "Foreign exchange rates.\n\n"
    "Commands:\n"
    "  import     load a rates file (CSV) into a running server\n\n"
    "Run 'mopay fx COMMAND --help' for a command's options.\n";

static const char import_usage[] =
    "Usage: mopay fx import FILE.csv [--url URL] [--admin-key KEY]\n\n"
    "Checks a rates file, all of it, then sends its rates to a running mopay server\n"
    "(PUT " FX_RATES_PATH ", at most 256 a request). The file:\n\n"
    "    pair,rate,source,time\n"
    "    USD/CNY,7.1234,ECB reference,2026-11-21T08:30:00Z\n\n"
    "One rate a line: 1 BASE = rate QUOTE, with at most 12 decimals; its source (1 to 64\n"
    "printable characters, no quotes: CSV quoting is not supported); the time the source\n"
    "published it (RFC 3339). When a pair appears more than once, the line with the latest time\n"
    "counts. A bad line imports nothing: stderr names it, and its field.\n\n"
    "  --url URL        the server (default " FX_URL_DEFAULT ", or MOPAY_URL)\n"
    "  --admin-key KEY  an operator key (or MOPAY_ADMIN_KEY); required\n\n"
    "Exits 0 when every rate was imported; 1 when the file was refused, or the server refused a\n"
    "request (its status and body on stderr; the requests before it stay imported); 2 for bad\n"
    "usage.\n";

struct import_options {
    const char *path;
    const char *admin_key;
    char url[FX_URL_BYTES_MAX + sizeof(FX_RATES_PATH)]; /* the server's, then the endpoint's path */
    bool help;
};

/* The rates to send: for each pair, the row with the latest time (the later line on a tie), in
 * the order the pairs first appear. Sources point into the file's text. */
struct rates_file {
    const char *path;
    size_t rows; /* in the file */
    size_t count;
    struct mopay_fx_csv_row kept[MOPAY_FX_CSV_ROWS_MAX];
};

struct client {
    CURL *curl;
    long status;
    size_t len; /* kept of the answer: its first FX_REPLY_SHOWN_BYTES_MAX bytes */
    char body[FX_REPLY_SHOWN_BYTES_MAX + 1];
};

/* jansson returns NULL only when out of memory. */
static json_t *made(json_t *j)
{
    MOPAY_ASSERT(j != NULL);
    return j;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* The server's address without trailing slashes, then the endpoint's path; false (with a
 * message) when it is empty or too long. */
static bool url_set(struct import_options *o, const char *url)
{
    url = url != NULL && url[0] != '\0' ? url : FX_URL_DEFAULT;
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    if (len == 0 || len >= FX_URL_BYTES_MAX) {
        fprintf(stderr, "mopay fx import: --url must be a server's address, such as %s\n", FX_URL_DEFAULT);
        return false;
    }
    snprintf(o->url, sizeof(o->url), "%.*s%s", (int)len, url, FX_RATES_PATH);
    return true;
}

/* FILE, --url and --admin-key (over MOPAY_URL and MOPAY_ADMIN_KEY), --help; false, having said
 * why on stderr, on an unknown flag, a flag without its value, or no file or two. */
static bool options_read(int argc, char **argv, struct import_options *o)
{
    const char *url = getenv("MOPAY_URL"), *key = getenv("MOPAY_ADMIN_KEY");
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(arg)) {
            o->help = true;
        } else if (value != NULL && strcmp(arg, "--url") == 0) {
            url = argv[++i];
        } else if (value != NULL && strcmp(arg, "--admin-key") == 0) {
            key = argv[++i];
        } else if (arg[0] != '-' && o->path == NULL) {
            o->path = arg;
        } else {
            fprintf(stderr, "mopay fx import: bad argument %s (see mopay fx import --help)\n", arg);
            return false;
        }
    }
    if (o->help)
        return true;
    if (o->path == NULL) {
        fprintf(stderr, "mopay fx import: which file? (see mopay fx import --help)\n");
        return false;
    }
    o->admin_key = key != NULL && key[0] != '\0' ? key : NULL;
    if (o->admin_key == NULL) {
        fprintf(stderr, "mopay fx import: loading rates needs an operator key: --admin-key or MOPAY_ADMIN_KEY\n");
        return false;
    }
    return url_set(o, url);
}

/* --- the file --- */

/* Reads at most `cap` bytes of `path`: callers ask for one more than any valid file has, so
 * that the parser can tell a file that is too long. False, with why on stderr, when the file
 * cannot be read. */
static bool file_read(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "mopay fx import: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    *len = fread(buf, 1, cap, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err != 0)
        fprintf(stderr, "mopay fx import: cannot read %s: %s\n", path, strerror(err));
    return err == 0;
}

/* mopay_fx_csv_parse's callback: keeps the row unless its pair has a later one already. */
static enum mopay_err file_keep(void *ctx, const struct mopay_fx_csv_row *row)
{
    struct rates_file *f = ctx;
    f->rows++;
    for (size_t i = 0; i < f->count; i++) {
        struct mopay_fx_csv_row *k = &f->kept[i];
        if (k->base == row->base && k->quote == row->quote) {
            if (row->time_ns >= k->time_ns)
                *k = *row;
            return MOPAY_OK;
        }
    }
    MOPAY_ASSERT(f->count < MOPAY_FX_CSV_ROWS_MAX); /* the parser refuses files with more rows */
    f->kept[f->count++] = *row;
    return MOPAY_OK;
}

/* "rates.csv line 4 (rate): fx_rate_invalid" on stderr; returns the exit status. */
static int file_refused(const struct rates_file *f, size_t len, enum mopay_err err,
                        const struct mopay_fx_csv_error *where)
{
    const char *code = mopay_err_code(err);
    if (where->line == 0 && len > MOPAY_FX_CSV_BYTES_MAX)
        fprintf(stderr, "mopay fx import: %s: %s (longer than %d bytes)\n", f->path, code, MOPAY_FX_CSV_BYTES_MAX);
    else if (where->line == 0)
        fprintf(stderr, "mopay fx import: %s: %s\n", f->path, code);
    else if (where->field == NULL)
        fprintf(stderr, "mopay fx import: %s line %zu: %s\n", f->path, where->line, code);
    else
        fprintf(stderr, "mopay fx import: %s line %zu (%s): %s\n", f->path, where->line, where->field, code);
    return 1;
}

/* RFC 3339 in UTC with as many decimals as the time has, none for whole seconds: the file's
 * time to the nanosecond, which the server reads back the same. */
static void time_say(int64_t ns, char out[FX_TIME_TEXT_BYTES])
{
    int64_t s = ns / NS_PER_S, frac = ns % NS_PER_S;
    if (frac < 0) { /* before 1970: round the seconds down */
        frac += NS_PER_S;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    struct tm *ok = gmtime_r(&t, &tm);
    MOPAY_ASSERT(ok != NULL); /* int64 nanoseconds stay within the years 1677-2262 */
    size_t n = strftime(out, FX_TIME_TEXT_BYTES, "%Y-%m-%dT%H:%M:%S", &tm);
    MOPAY_ASSERT(n > 0);
    if (frac > 0) {
        char digits[16];
        snprintf(digits, sizeof(digits), "%09" PRId64, frac);
        int shown = 9;
        while (digits[shown - 1] == '0')
            shown--;
        n += (size_t)snprintf(out + n, FX_TIME_TEXT_BYTES - n, ".%.*s", shown, digits);
    }
    snprintf(out + n, FX_TIME_TEXT_BYTES - n, "Z");
}

static void pair_say(const struct mopay_fx_csv_row *r, char out[8])
{
    snprintf(out, 8, "%s/%s", r->base->alpha, r->quote->alpha);
}

static json_t *rate_json(const struct mopay_fx_csv_row *r)
{
    char pair[8], rate[MOPAY_FX_RATE_TEXT_BYTES], time[FX_TIME_TEXT_BYTES];
    pair_say(r, pair);
    mopay_fx_rate_format(r->rate, rate);
    time_say(r->time_ns, time);
    return made(json_pack("{s:s, s:s, s:s%, s:s}", "pair", pair, "rate", rate, "source", r->source, r->source_len,
                          "time", time));
}

/* --- the server --- */

static size_t reply_keep(char *data, size_t size, size_t count, void *ctx)
{
    struct client *c = ctx;
    size_t len = size * count, room = FX_REPLY_SHOWN_BYTES_MAX - c->len;
    size_t n = len < room ? len : room;
    memcpy(c->body + c->len, data, n);
    c->len += n;
    return len; /* the rest is read and dropped */
}

/* PUT the kept rates [first, first + n); true when the server answered 200. Otherwise says on
 * stderr what went wrong: no answer, or the server's status and body. */
static bool rates_put(struct client *c, const struct import_options *o, const struct rates_file *f, size_t first,
                      size_t n)
{
    json_t *rates = made(json_array());
    for (size_t i = 0; i < n; i++) {
        int appended = json_array_append_new(rates, rate_json(&f->kept[first + i]));
        MOPAY_ASSERT(appended == 0);
    }
    json_t *body = made(json_pack("{s:o}", "rates", rates));
    char *text = json_dumps(body, JSON_COMPACT), auth[512];
    json_decref(body);
    MOPAY_ASSERT(text != NULL);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->admin_key);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *all = headers != NULL ? curl_slist_append(headers, auth) : NULL;
    sodium_memzero(auth, sizeof(auth));
    MOPAY_ASSERT(all != NULL);
    curl_easy_setopt(c->curl, CURLOPT_URL, o->url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, all);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
    c->status = 0;
    c->len = 0;
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(all);
    free(text);
    if (rc != CURLE_OK) {
        fprintf(stderr, "mopay fx import: PUT %s got no answer: %s. Is mopay serving there? --url (or MOPAY_URL) "
                        "says where it is.\n",
                o->url, curl_easy_strerror(rc));
        return false;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    c->body[c->len] = '\0';
    if (c->status == 200)
        return true;
    fprintf(stderr, "mopay fx import: PUT %s (rates %zu-%zu of %zu) answered HTTP %ld: %s\n", o->url, first + 1,
            first + n, f->count, c->status, c->body);
    return false;
}

/* "imported 3 rates from rates.csv: USD/CNY 7.1234 (ECB, 2026-11-21T08:30:00Z), ..." */
static void summary_say(const struct rates_file *f)
{
    printf("imported %zu rate%s from %s", f->count, f->count == 1 ? "" : "s", f->path);
    if (f->rows > f->count)
        printf(" (%zu older line%s of a pair left out)", f->rows - f->count, f->rows - f->count == 1 ? "" : "s");
    for (size_t i = 0; i < f->count; i++) {
        const struct mopay_fx_csv_row *r = &f->kept[i];
        char pair[8], rate[MOPAY_FX_RATE_TEXT_BYTES], time[FX_TIME_TEXT_BYTES];
        pair_say(r, pair);
        mopay_fx_rate_format(r->rate, rate);
        time_say(r->time_ns, time);
        printf("%s %s %s (%.*s, %s)", i == 0 ? ":" : ",", pair, rate, (int)r->source_len, r->source, time);
    }
    printf("\n");
}

/* Sends the kept rates in requests of at most FX_RATES_PER_PUT_MAX; returns the exit status. */
static int rates_send(const struct import_options *o, const struct rates_file *f)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mopay fx import: cannot start libcurl\n");
        return 1;
    }
    int rc = 1;
    struct client *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "mopay fx import: cannot start libcurl\n");
        goto done;
    }
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, reply_keep);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)FX_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)FX_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    for (size_t first = 0; first < f->count; first += FX_RATES_PER_PUT_MAX) {
        size_t n = f->count - first < FX_RATES_PER_PUT_MAX ? f->count - first : FX_RATES_PER_PUT_MAX;
        if (!rates_put(c, o, f, first, n)) {
            if (first > 0)
                fprintf(stderr, "mopay fx import: rates 1-%zu of %zu were imported before that; the rest were not\n",
                        first, f->count);
            goto done;
        }
        printf("PUT %s: rates %zu-%zu of %zu imported (HTTP %ld)\n", o->url, first + 1, first + n, f->count,
               c->status);
    }
    summary_say(f);
    rc = 0;
done:
    if (c != NULL && c->curl != NULL)
        curl_easy_cleanup(c->curl);
    free(c);
    curl_global_cleanup();
    return rc;
}

/* Reads and checks the file, then sends it; returns the exit status. */
static int rates_import(const struct import_options *o)
{
    int rc = 1;
    char *text = malloc(MOPAY_FX_CSV_BYTES_MAX + 1);
    struct rates_file *f = calloc(1, sizeof(*f));
    size_t len = 0;
    if (text == NULL || f == NULL) {
        fprintf(stderr, "mopay fx import: out of memory\n");
        goto done;
    }
    f->path = o->path;
    if (!file_read(o->path, text, MOPAY_FX_CSV_BYTES_MAX + 1, &len))
        goto done;
    struct mopay_fx_csv_error where;
    enum mopay_err err = mopay_fx_csv_parse(text, len, file_keep, f, &where);
    if (err != MOPAY_OK)
        rc = file_refused(f, len, err, &where);
    else if (f->count == 0)
        fprintf(stderr, "mopay fx import: %s has its header but no rates: nothing to import\n", o->path);
    else
        rc = rates_send(o, f);
done:
    free(f);
    free(text);
    return rc;
}

static int fx_import(int argc, char **argv)
{
    struct import_options o;
    if (!options_read(argc, argv, &o))
        return 2;
    if (o.help) {
        fputs(import_usage, stdout);
        return 0;
    }
    return rates_import(&o);
}

int mopay_cli_fx(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "import") == 0)
        return fx_import(argc - 1, argv + 1);
    fprintf(stderr, "mopay fx: unknown command '%s'\n\n%s", argv[1], usage_text);
    return 2;
}
