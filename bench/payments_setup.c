/* The world bench/payments_http.sh pays in, made over the API of a running `mopay serve`:
 *   MERCHANTS merchants (CNY, fee 60 bps, no webhook) and their static QR payloads;
 *   CUSTOMERS customers, each with a fresh Ed25519 device key, a signed session, KYC tier 2, a
 *   CNY wallet and a test card, topped up with CNY 400,000.00 (tier 2 caps a balance at 500,000).
 * Sign-up and log-in hash a PIN with Argon2id on the server's two slow-work threads, so customers
 * are made from a few threads at once. Then writes a wrk script paying those QR codes with those
 * customers' sessions, CNY 0.01 a request:
 *   wrk ... -s LUA_PATH URL -- uniform    a random customer pays a random merchant
 *   wrk ... -s LUA_PATH URL -- hot        a random customer pays merchant 0
 * Every request string is made in the script's init; per request it only picks one. It counts
 * the answers that are not 201 and prints them in done, for the shell script to check.
 * Usage: payments_setup URL ADMIN_KEY MERCHANTS CUSTOMERS LUA_PATH */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#define MERCHANTS_MAX 1000
#define CUSTOMERS_MAX 10000
#define SETUP_THREADS 4            /* the server hashes PINs on 2 threads; 4 keeps both busy */
#define REPLY_BYTES_MAX (1 << 20)
#define CALL_TIMEOUT_MS 60000L
#define TOPUP_AMOUNT "400000.00"

struct merchant {
    char id[48], key[96], qr[512];
};

struct customer {
    char phone[32], id[48], device_id[48], wallet_id[48], card_id[48], token[128];
};

struct reply {
    char text[REPLY_BYTES_MAX];
    size_t len;
};

struct client {
    CURL *curl;
    struct reply *reply;
};

static const char *base_url, *admin_key;
static struct merchant merchants[MERCHANTS_MAX];
static struct customer customers[CUSTOMERS_MAX];
static int merchants_n, customers_n;

/* A reply past REPLY_BYTES_MAX fails the transfer: the setup never expects one. */
static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    if (r->len + size * n >= REPLY_BYTES_MAX)
        return 0;
    memcpy(r->text + r->len, data, size * n);
    r->len += size * n;
    r->text[r->len] = '\0';
    return size * n;
}

/* GET (body NULL) or POST one path; the status (0 when the transport failed), the body in c->reply. */
static long call(struct client *c, const char *path, const char *token, const char *body)
{
    char url[512], auth[256];
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    CURL *k = c->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, c->reply);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, CALL_TIMEOUT_MS);
    if (body != NULL)
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
    c->reply->len = 0;
    c->reply->text[0] = '\0';
    long status = 0;
    if (curl_easy_perform(k) == CURLE_OK)
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

/* A call that must answer `want`; anything else ends the program. Returns the parsed body. */
static json_t *call_expect(struct client *c, const char *path, const char *token, const char *body, long want)
{
    long status = call(c, path, token, body);
    json_t *j = status == want ? json_loadb(c->reply->text, c->reply->len, 0, NULL) : NULL;
    if (j == NULL) {
        fprintf(stderr, "payments_setup: %s %s -> %ld (want %ld) %s\n", body != NULL ? "POST" : "GET", path, status,
                want, c->reply->text);
        exit(1);
    }
    return j;
}

/* Copies the string at `key` of `j` (an object, or NULL) into out; ends the program when missing. */
static void copy_field(json_t *j, const char *key, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(j, key));
    if (v == NULL || strlen(v) >= cap) {
        fprintf(stderr, "payments_setup: no usable \"%s\" in a reply\n", key);
        exit(1);
    }
    memcpy(out, v, strlen(v) + 1);
}

static void client_init(struct client *c)
{
    c->curl = curl_easy_init();
    c->reply = malloc(sizeof(*c->reply));
    if (c->curl == NULL || c->reply == NULL) {
        fprintf(stderr, "payments_setup: out of memory\n");
        exit(1);
    }
}

static void client_deinit(struct client *c)
{
    curl_easy_cleanup(c->curl);
    free(c->reply);
}

/* Merchant i and its static QR payload (text/plain, read with the merchant's own key). */
static void merchant_make(struct client *c, int i)
{
    struct merchant *m = &merchants[i];
    char body[512], path[160];
    snprintf(body, sizeof(body),
             "{\"name\":\"Bench Shop %04d\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\","
             "\"currency\":\"CNY\",\"fee_bps\":60,\"settlement_account\":\"CN-ACC-%04d\"}",
             i, i);
    json_t *j = call_expect(c, "/v1/merchants", admin_key, body, 201);
    copy_field(json_object_get(j, "merchant"), "id", m->id, sizeof(m->id));
    copy_field(j, "api_key", m->key, sizeof(m->key));
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", m->id);
    long status = call(c, path, m->key, NULL);
    if (status != 200 || c->reply->len == 0 || c->reply->len >= sizeof(m->qr)) {
        fprintf(stderr, "payments_setup: GET %s -> %ld %s\n", path, status, c->reply->text);
        exit(1);
    }
    memcpy(m->qr, c->reply->text, c->reply->len + 1);
}

/* Sign-up with a fresh device key; the secret half stays with the caller. */
static void customer_signup(struct client *c, struct customer *cu, int i, uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    char pk64[64], body[512];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk64, sizeof(pk64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    snprintf(cu->phone, sizeof(cu->phone), "+86139%08d", i);
    snprintf(body, sizeof(body),
             "{\"phone\":\"%s\",\"name\":\"Bench Payer %d\",\"country\":\"CN\",\"pin\":\"123456\","
             "\"device\":{\"public_key\":\"%s\",\"name\":\"bench phone %d\"}}",
             cu->phone, i, pk64, i);
    json_t *j = call_expect(c, "/v1/customers", NULL, body, 201);
    copy_field(json_object_get(j, "customer"), "id", cu->id, sizeof(cu->id));
    copy_field(json_object_get(j, "device"), "id", cu->device_id, sizeof(cu->device_id));
    json_decref(j);
}

/* A session: the device signs `phone|device_id|timestamp` (docs/api.md, POST /v1/sessions). */
static void customer_login(struct client *c, struct customer *cu, const uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    char ts[32], msg[256], sig64[128], body[1024];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(msg, sizeof(msg), "%s|%s|%s", cu->phone, cu->device_id, ts);
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, (size_t)n, sk);
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body),
             "{\"phone\":\"%s\",\"pin\":\"123456\",\"device_id\":\"%s\",\"timestamp\":\"%s\",\"signature\":\"%s\"}",
             cu->phone, cu->device_id, ts, sig64);
    json_t *j = call_expect(c, "/v1/sessions", NULL, body, 201);
    copy_field(j, "token", cu->token, sizeof(cu->token));
    json_decref(j);
}

/* KYC tier 2 (the operator), a CNY wallet, a card that the simulator approves, and the top-up. */
static void customer_fund(struct client *c, struct customer *cu, int i)
{
    char path[128], body[512];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", cu->id);
    snprintf(body, sizeof(body), "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E%08d\"}", i);
    json_decref(call_expect(c, path, admin_key, body, 200));
    json_t *j = call_expect(c, "/v1/wallets", cu->token, "{\"currency\":\"CNY\"}", 201);
    copy_field(j, "id", cu->wallet_id, sizeof(cu->wallet_id));
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":12,\"exp_year\":2030,"
             "\"holder\":\"Bench Payer %d\"}}",
             i);
    j = call_expect(c, "/v1/funding-sources", cu->token, body, 201);
    copy_field(j, "id", cu->card_id, sizeof(cu->card_id));
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"" TOPUP_AMOUNT "\",\"currency\":\"CNY\"}",
             cu->wallet_id, cu->card_id);
    j = call_expect(c, "/v1/topups", cu->token, body, 201);
    const char *status = json_string_value(json_object_get(j, "status"));
    if (status == NULL || strcmp(status, "succeeded") != 0) {
        fprintf(stderr, "payments_setup: top-up of %s is %s\n", cu->id, status != NULL ? status : "(none)");
        exit(1);
    }
    json_decref(j);
}

/* Customers first, first + SETUP_THREADS, ...: each signed up, logged in and funded. */
static void *customers_main(void *arg)
{
    int first = (int)(intptr_t)arg;
    struct client c;
    client_init(&c);
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (sk == NULL) {
        fprintf(stderr, "payments_setup: sodium_malloc failed\n");
        exit(1);
    }
    for (int i = first; i < customers_n; i += SETUP_THREADS) {
        customer_signup(&c, &customers[i], i, sk);
        customer_login(&c, &customers[i], sk);
        sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
        customer_fund(&c, &customers[i], i);
    }
    sodium_free(sk);
    client_deinit(&c);
    return NULL;
}

/* What goes between double quotes in Lua and in JSON unescaped: printable ASCII but " and \. */
static void lua_string_check(const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            fprintf(stderr, "payments_setup: cannot quote \"%s\" in the script\n", s);
            exit(1);
        }
    }
}

/* The script's code, after its two tables `tokens` (a session per customer) and `qrs` (a static
 * QR payload per merchant). wrk runs setup() in its main Lua state once per thread, then init()
 * in each thread's own state; done() reads every thread's counters through thread:get. */
static const char lua_code[] =
    "local requests, requests_n = {}, 0\n"
    "local threads, threads_n = {}, 0\n"
    "non201, statuses, sample = 0, {}, nil\n"
    "\n"
    "function setup(thread)\n"
    "   threads_n = threads_n + 1\n"
    "   threads[threads_n] = thread\n"
    "   thread:set(\"thread_id\", threads_n)\n"
    "end\n"
    "\n"
    "local function payment(c, m)\n"
    "   requests_n = requests_n + 1\n"
    "   requests[requests_n] = {tokens[c], '{\"qr\":\"' .. qrs[m] .. '\",\"amount\":\"0.01\"}'}\n"
    "end\n"
    "\n"
    "local key_prefix, key_n = nil, 0\n"
    "\n"
    "function init(args)\n"
    "   local case = args[1] or \"uniform\"\n"
    "   math.randomseed(os.time() * 7919 + (thread_id or 0))\n"
    "   key_prefix = string.format(\"bench-%d-%d-%d-\", os.time(), thread_id or 0, math.random(1, 1000000000))\n"
    "   for c = 1, #tokens do\n"
    "      if case == \"hot\" then\n"
    "         payment(c, 1)\n"
    "      elseif case == \"uniform\" then\n"
    "         for m = 1, #qrs do payment(c, m) end\n"
    "      else\n"
    "         error(\"payments.lua: the case is uniform or hot, not \" .. case)\n"
    "      end\n"
    "   end\n"
    "end\n"
    "\n"
    "-- Every payment has an Idempotency-Key of its own, as a client that retries safely sends.\n"
    "function request()\n"
    "   local r = requests[math.random(requests_n)]\n"
    "   key_n = key_n + 1\n"
    "   local headers = {[\"Authorization\"] = \"Bearer \" .. r[1], [\"Content-Type\"] = \"application/json\",\n"
    "                    [\"Idempotency-Key\"] = key_prefix .. key_n}\n"
    "   return wrk.format(\"POST\", \"/v1/payments\", headers, r[2])\n"
    "end\n"
    "\n"
    "function response(status, headers, body)\n"
    "   if status ~= 201 then\n"
    "      non201 = non201 + 1\n"
    "      statuses[status] = (statuses[status] or 0) + 1\n"
    "      if sample == nil then sample = body end\n"
    "   end\n"
    "end\n"
    "\n"
    "function done(summary, latency, requests)\n"
    "   local errors, by_status, first = 0, {}, nil\n"
    "   for _, t in ipairs(threads) do\n"
    "      errors = errors + t:get(\"non201\")\n"
    "      for code, n in pairs(t:get(\"statuses\")) do by_status[code] = (by_status[code] or 0) + n end\n"
    "      first = first or t:get(\"sample\")\n"
    "   end\n"
    "   local e = summary.errors\n"
    "   io.write(string.format(\"payments: responses %d non201 %d socket_errors %d duration_us %d\\n\",\n"
    "      summary.requests, errors, e.connect + e.read + e.write + e.timeout, summary.duration))\n"
    "   for code, n in pairs(by_status) do io.write(string.format(\"payments: status %d %d\\n\", code, n)) end\n"
    "   if first ~= nil then io.write(\"payments: first error \" .. first .. \"\\n\") end\n"
    "end\n";

static void lua_write(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fprintf(f, "-- Written by bench/payments_setup: %d customers, %d merchants. wrk -s THIS URL -- uniform|hot\n",
            customers_n, merchants_n);
    fprintf(f, "tokens = {\n");
    for (int i = 0; i < customers_n; i++) {
        lua_string_check(customers[i].token);
        fprintf(f, "   \"%s\",\n", customers[i].token);
    }
    fprintf(f, "}\nqrs = {\n");
    for (int i = 0; i < merchants_n; i++) {
        lua_string_check(merchants[i].qr);
        fprintf(f, "   \"%s\",\n", merchants[i].qr);
    }
    fprintf(f, "}\n\n%s", lua_code);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s URL ADMIN_KEY MERCHANTS CUSTOMERS LUA_PATH\n", argv[0]);
        return 2;
    }
    base_url = argv[1];
    admin_key = argv[2];
    merchants_n = atoi(argv[3]);
    customers_n = atoi(argv[4]);
    if (merchants_n < 1 || merchants_n > MERCHANTS_MAX || customers_n < 1 || customers_n > CUSTOMERS_MAX) {
        fprintf(stderr, "payments_setup: 1 to %d merchants and 1 to %d customers\n", MERCHANTS_MAX, CUSTOMERS_MAX);
        return 2;
    }
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "payments_setup: cannot initialize libsodium or libcurl\n");
        return 1;
    }
    pthread_t threads[SETUP_THREADS];
    for (int t = 0; t < SETUP_THREADS; t++) {
        if (pthread_create(&threads[t], NULL, customers_main, (void *)(intptr_t)t) != 0) {
            fprintf(stderr, "payments_setup: cannot start a thread\n");
            return 1;
        }
    }
    struct client c;
    client_init(&c);
    for (int i = 0; i < merchants_n; i++)
        merchant_make(&c, i);
    client_deinit(&c);
    for (int t = 0; t < SETUP_THREADS; t++)
        pthread_join(threads[t], NULL);
    lua_write(argv[5]);
    curl_global_cleanup();
    return 0;
}
