/* `mopay demo`: seeds a small world on a running server and walks through it over HTTP, telling
 * each step as a person would read it. The story is this command's output, so it goes to stdout;
 * what went wrong goes to stderr.
 *
 * The story is the table `steps[]`. Each step makes its calls, checks that the server answered as
 * the story expects (statuses, problem codes, and every balance against the one the story's own
 * books predict), then says what happened. The first step that does not go as expected stops the
 * demo: stderr names the step, the request, and the server's status and body, and the exit status
 * is 1. Operator steps need an admin key; without one each is skipped with a line saying so, and
 * each chapter (the merchant chapter, the traveller chapter: the operator signs their merchants
 * up) with one line for the whole chapter. Phone numbers are random and the merchants new per
 * run, so the demo can run again and again on one database. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "demo.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/fx.h"
#include "mopay/money.h"
#include "mopay/paycode.h"
#include "mopay/qr.h"

#define DEMO_URL_DEFAULT "http://127.0.0.1:8080"
#define DEMO_URL_BYTES_MAX 512
#define DEMO_REPLY_BYTES_MAX (64 * 1024) /* far above any reply the story reads; more is an error */
#define DEMO_CONNECT_TIMEOUT_MS 3000
#define DEMO_REQUEST_TIMEOUT_MS 15000    /* sign-up and log-in hash the PIN on purpose: tens of ms */
#define DEMO_HISTORY_LIMIT 10
#define DEMO_ID_BYTES 48
#define DEMO_PIN "482916"
#define DEMO_RENT "460.00" /* over tier 0's daily outflow once dinner is paid, under tier 1's */
/* The merchant chapter's amounts sit well inside tier 0's limits: Bob is still at tier 0, and
 * Alice pays from what the withdrawal left her. */
#define DEMO_SHOP_NAME "Noodle House"
#define DEMO_SHOP_CITY "Shanghai"
#define DEMO_SHOP_FEE_BPS 60
#define DEMO_LUNCH "25.00"  /* Alice, at the counter, by the static QR code */
#define DEMO_ORDER "38.50"  /* Bob's order, by its dynamic QR code */
#define DEMO_CODE "12.00"   /* Bob, by his offline payment code */
#define DEMO_REFUND "10.00" /* of Alice's lunch */
#define DEMO_BPS_PER_UNIT 10000 /* fees are in hundredths of a percent */
/* The traveller chapter's. Alice is at KYC tier 1 by then (CNY 5,000.00 may leave her wallet a
 * day), and pays well under the CNY 2,000 from which a payment waits for her PIN. */
#define DEMO_TRIP_TOPUP "500.00"  /* CNY, from her UnionPay card, for the trip */
#define DEMO_USD_CNY "7.1234"     /* the operator's rates: 1 USD = 7.1234 CNY */
#define DEMO_CNY_KRW "194.7"
#define DEMO_BOOKS_NAME "Liberty Books"
#define DEMO_OFFER_PERCENT "10"
#define DEMO_OFFER_MIN "10.00"    /* USD */
#define DEMO_OFFER_BUDGET "100.00"
#define DEMO_BOOK "30.00"         /* USD, Liberty Books' order */
#define DEMO_BOOK_SHARE "27.00"   /* less the coupon's 10 %: what Alice pays, and her quote buys */
#define DEMO_QUOTE_LOCK "5m"
#define DEMO_QUOTE_LOCK_S 300
#define DEMO_BEAUTY_NAME "Seoul Beauty"
#define DEMO_BEAUTY "55000"       /* KRW, a tax-free order */
#define DEMO_BEAUTY_VAT "5000"    /* the 10 % VAT inside it, all of which Korea refunds */
#define DEMO_DAY_S 86400

struct person {
    const char *name;         /* as they sign up */
    const char *first;        /* as the story calls them */
    const char *possessive;   /* "her", "his" */
    const char *phone_prefix; /* a mobile range; each run adds eight random digits */
    char phone[24];
    char id[DEMO_ID_BYTES], device_id[DEMO_ID_BYTES], wallet_id[DEMO_ID_BYTES];
    char token[128];
    uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* the device key */
    uint8_t code_secret[MOPAY_PAYCODE_SECRET_BYTES]; /* the device's, for offline payment codes */
    uint64_t code_index;                             /* and the index its codes carry */
    int64_t balance_minor; /* what the story's books say the wallet holds */
};

/* A merchant: Noodle House, the merchant chapter's, and the traveller chapter's two abroad. */
struct shop {
    const char *name;
    const struct mopay_currency *currency;
    char id[DEMO_ID_BYTES];
    char account_id[DEMO_ID_BYTES]; /* its ledger account: acc_ and the id's 32 hex digits */
    char key[128];                  /* its API key, shown once */
    int64_t fee_bps;
    int64_t balance_minor; /* what the story's books say its account holds */
    char lunch_id[DEMO_ID_BYTES]; /* Alice's payment, part of which it refunds */
    int64_t lunch_fee_minor;
    char order_id[DEMO_ID_BYTES];
    char order_qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    char code[MOPAY_PAYCODE_BYTES]; /* the payment code Bob showed */
};

/* The traveller chapter's offer, coupon and quote at Liberty Books, and the payment at Seoul
 * Beauty with the quote made on the spot for it, and its tax refund. */
struct trip {
    char offer_id[DEMO_ID_BYTES], coupon_id[DEMO_ID_BYTES], quote_id[DEMO_ID_BYTES];
    struct mopay_fx_quote quote; /* what the story expects Alice's quote to be */
    char payment_id[DEMO_ID_BYTES];
    struct mopay_fx_quote spot;
    char refund_id[DEMO_ID_BYTES];
    int64_t credited_minor; /* CNY, of the VAT */
};

struct source {
    char id[DEMO_ID_BYTES];
    char shown[64]; /* "Visa ending 4242", from the server's description */
};

/* The last exchange with the server: for the step that reads it, and for failure messages. */
struct reply {
    const char *method;
    char path[256];
    long status;
    json_t *json; /* the body, when it is JSON */
    size_t len;
    char body[DEMO_REPLY_BYTES_MAX + 1];
};

struct demo {
    char url[DEMO_URL_BYTES_MAX];
    const char *admin_key; /* NULL: the operator's steps are skipped */
    const struct mopay_currency *cny, *usd, *krw;
    CURL *curl;
    const char *step; /* the running step's name */
    struct person alice, bob;
    struct source visa, unionpay, declining, bank;
    struct shop shop, books, beauty;
    struct trip trip;
    struct reply last;
};

/* --- talking to the server --- */

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s != NULL ? s : "?";
}

static void copy(char *dst, size_t cap, json_t *j, const char *key)
{
    snprintf(dst, cap, "%s", str(j, key));
}

/* Says which step went wrong and how, with the server's last answer; returns false. */
__attribute__((format(printf, 2, 3))) static bool step_fail(struct demo *d, const char *fmt, ...)
{
    const struct reply *r = &d->last;
    fflush(stdout);
    fprintf(stderr, "mopay demo: step \"%s\" did not go as expected: ", d->step);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  %s %s answered HTTP %ld: %.*s\n", r->method, r->path, r->status, (int)r->len, r->body);
    return false;
}

/* The last reply is JSON with this status and, when `code` is given, the problem with that code. */
static bool expect(struct demo *d, long status, const char *code)
{
    const struct reply *r = &d->last;
    if (r->status == status && r->json != NULL && (code == NULL || strcmp(str(r->json, "code"), code) == 0))
        return true;
    return step_fail(d, "expected HTTP %ld%s%s", status, code != NULL ? " " : "", code != NULL ? code : "");
}

static size_t reply_write(char *data, size_t size, size_t count, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * count;
    if (len > DEMO_REPLY_BYTES_MAX - r->len)
        return 0; /* past the cap: curl stops with a write error */
    memcpy(r->body + r->len, data, len);
    r->len += len;
    return len;
}

static void reply_reset(struct reply *r, const char *method, const char *path)
{
    json_decref(r->json);
    r->json = NULL;
    r->method = method;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->status = 0;
    r->len = 0;
}

/* One GET, POST or PUT; `body` (or NULL) is consumed and the answer lands in d->last. False, with
 * the reason on stderr, when no answer came; any HTTP status is an answer. */
static bool call(struct demo *d, const char *method, const char *path, const char *token, json_t *body)
{
    reply_reset(&d->last, method, path);
    char url[DEMO_URL_BYTES_MAX + sizeof(d->last.path)], auth[192];
    snprintf(url, sizeof(url), "%s%s", d->url, path);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
        sodium_memzero(auth, sizeof(auth));
    }
    if ((body != NULL && text == NULL) || headers == NULL) {
        fprintf(stderr, "mopay demo: out of memory\n");
        free(text);
        curl_slist_free_all(headers);
        return false;
    }
    curl_easy_setopt(d->curl, CURLOPT_URL, url);
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, text != NULL ? text : "");
    else
        curl_easy_setopt(d->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "PUT") == 0 ? "PUT" : NULL);
    CURLcode rc = curl_easy_perform(d->curl);
    curl_slist_free_all(headers);
    if (text != NULL)
        sodium_memzero(text, strlen(text)); /* a PIN or a signature */
    free(text);
    if (rc != CURLE_OK) {
        fflush(stdout);
        fprintf(stderr, "mopay demo: step \"%s\": %s %s got no answer: %s.\n  Is mopay serving there? `make run` "
                        "starts it; --url (or MOPAY_URL) says where it is.\n",
                d->step, method, url, curl_easy_strerror(rc));
        return false;
    }
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->last.status);
    d->last.body[d->last.len] = '\0';
    d->last.json = json_loadb(d->last.body, d->last.len, 0, NULL);
    return true;
}

/* --- the story's books and its helpers --- */

/* Minor units of an amount the story names (always well-formed). */
static int64_t minor_in(const struct mopay_currency *currency, const char *amount)
{
    int64_t minor = 0;
    enum mopay_err err = mopay_money_parse(amount, strlen(amount), currency, 0, &minor);
    MOPAY_ASSERT(err == MOPAY_OK);
    return minor;
}

struct money_text {
    char s[MOPAY_MONEY_TEXT_BYTES];
};

/* An amount as the server writes it, for the expression that needs it: money_say(x, c).s */
static struct money_text money_say(int64_t minor, const struct mopay_currency *currency)
{
    struct money_text t;
    mopay_money_format(minor, currency, t.s);
    return t;
}

/* What each wallet should hold once `amount` has moved; `from` or `to` is NULL for the outside. */
static void story_moves(const struct demo *d, struct person *from, struct person *to, const char *amount)
{
    int64_t minor = minor_in(d->cny, amount);
    if (from != NULL)
        MOPAY_ASSERT(mopay_money_sub(from->balance_minor, minor, &from->balance_minor));
    if (to != NULL)
        MOPAY_ASSERT(mopay_money_add(to->balance_minor, minor, &to->balance_minor));
}

/* Reads the person's wallet (it stays in d->last) and checks it holds what the story's books say;
 * the balance goes to `out`. */
static bool balance_check(struct demo *d, const struct person *p, char out[MOPAY_MONEY_TEXT_BYTES])
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/wallets/%s", p->wallet_id);
    if (!call(d, "GET", path, p->token, NULL) || !expect(d, 200, NULL))
        return false;
    mopay_money_format(p->balance_minor, d->cny, out);
    if (strcmp(str(d->last.json, "balance"), out) != 0)
        return step_fail(d, "%s's balance should be CNY %s", p->first, out);
    return true;
}

static const char *brand_shown(const char *brand)
{
    static const char *const names[][2] = {{"visa", "Visa"}, {"mastercard", "Mastercard"},
                                           {"amex", "American Express"}, {"unionpay", "UnionPay"}, {"jcb", "JCB"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(brand, names[i][0]) == 0)
            return names[i][1];
    return brand;
}

/* Adds a funding source and keeps how the server describes it; the reply stays in d->last. */
static bool source_add(struct demo *d, const struct person *p, json_t *body, struct source *out)
{
    if (!call(d, "POST", "/v1/funding-sources", p->token, body) || !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    copy(out->id, sizeof(out->id), j, "id");
    if (strcmp(str(j, "type"), "card") == 0)
        snprintf(out->shown, sizeof(out->shown), "%s ending %s", brand_shown(str(j, "brand")), str(j, "last4"));
    else
        snprintf(out->shown, sizeof(out->shown), "bank account ending %s", str(j, "last4"));
    return true;
}

/* A card that expires in three years. */
static bool card_add(struct demo *d, const struct person *p, const char *number, bool backup, struct source *out)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    json_t *body = json_pack("{s:s, s:{s:s, s:i, s:i, s:s}, s:b}", "type", "card", "card", "number", number,
                             "exp_month", 12, "exp_year", tm.tm_year + 1900 + 3, "holder", p->name, "backup", backup);
    return source_add(d, p, body, out);
}

/* A top-up or withdrawal (`path`) through `source`, which the server must take (201) with this
 * `status`; the reply stays in d->last. */
/* The line the story prints when mopay's risk step asks `p` for the PIN on `what`. */
static void say_pin_asked(const struct person *p, const char *what)
{
    printf("mopay's risk check asks %s to confirm %s with %s PIN (the story moves money faster than people do), "
           "and %s does.\n",
           p->first, what, p->possessive, p->first);
}

/* POST `body` to `path` as `p`; when mopay's risk step asks for the PIN first (a transfer or a
 * withdrawal: 428 confirmation_required), `p` sends it again with the PIN, as the app would. */
static bool post_confirmed(struct demo *d, const char *path, const struct person *p, json_t *body)
{
    json_incref(body);
    bool ok = call(d, "POST", path, p->token, body);
    if (!ok || d->last.status != 428 || strcmp(str(d->last.json, "code"), "confirmation_required") != 0) {
        json_decref(body);
        return ok;
    }
    say_pin_asked(p, "this");
    json_object_set_new(body, "pin", json_string(DEMO_PIN));
    return call(d, "POST", path, p->token, body);
}

static bool movement(struct demo *d, const struct person *p, const char *path, const struct source *source,
                     const char *amount, const char *status)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "wallet_id", p->wallet_id, "funding_source_id", source->id,
                             "amount", amount, "currency", "CNY");
    if (!post_confirmed(d, path, p, body) || !expect(d, 201, NULL))
        return false;
    if (strcmp(str(d->last.json, "status"), status) != 0)
        return step_fail(d, "expected the status %s", status);
    return true;
}

/* A transfer by phone number; the caller judges the reply in d->last. */
static bool send_money(struct demo *d, const struct person *from, const struct person *to, const char *amount,
                       const char *note)
{
    json_t *body = json_pack("{s:{s:s}, s:s, s:s, s:s}", "to", "phone", to->phone, "amount", amount, "currency",
                             "CNY", "note", note);
    return post_confirmed(d, "/v1/transfers", from, body);
}

/* --- the steps --- */

static bool server_answers(struct demo *d)
{
    if (!call(d, "GET", "/healthz", NULL, NULL) || !expect(d, 200, NULL))
        return false;
    if (d->admin_key == NULL) {
        printf("mopay at %s is up. There is no admin key, so the operator's steps are skipped.\n", d->url);
        return true;
    }
    if (!call(d, "GET", "/v1/ledger/check", d->admin_key, NULL))
        return false;
    if (d->last.status != 200)
        return step_fail(d, "the server does not take the admin key (--admin-key or MOPAY_ADMIN_KEY)");
    printf("mopay at %s is up, and it takes the operator's admin key.\n", d->url);
    return true;
}

/* Keeps what the phone keeps of its new device: its id, and the secret and index of its offline
 * payment codes (shown this once). */
static bool device_keep(struct demo *d, struct person *p, json_t *device)
{
    copy(p->device_id, sizeof(p->device_id), device, "id");
    const char *secret = str(device, "payment_code_secret");
    json_int_t index = json_integer_value(json_object_get(device, "payment_code_index"));
    size_t len = 0;
    if (sodium_base642bin(p->code_secret, sizeof(p->code_secret), secret, strlen(secret), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != sizeof(p->code_secret) || index < 0 || index > (json_int_t)MOPAY_PAYCODE_DEVICE_INDEX_MAX)
        return step_fail(d, "the new device should come with a payment-code secret and index");
    p->code_index = (uint64_t)index;
    return true;
}

static bool signup(struct demo *d, struct person *p)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, p->sk);
    snprintf(p->phone, sizeof(p->phone), "%s%08" PRIu32, p->phone_prefix, randombytes_uniform(100000000));
    char pk64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)], device[64];
    sodium_bin2base64(pk64, sizeof(pk64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    snprintf(device, sizeof(device), "%s's phone", p->first);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "phone", p->phone, "name", p->name, "country",
                             "CN", "pin", DEMO_PIN, "device", "public_key", pk64, "name", device);
    if (!call(d, "POST", "/v1/customers", NULL, body) || !expect(d, 201, NULL))
        return false;
    json_t *customer = json_object_get(d->last.json, "customer");
    copy(p->id, sizeof(p->id), customer, "id");
    if (json_integer_value(json_object_get(customer, "kyc_tier")) != 0)
        return step_fail(d, "a new customer should be at KYC tier 0");
    if (!device_keep(d, p, json_object_get(d->last.json, "device")))
        return false;
    printf("%s signs up as %s with a new Ed25519 key on %s phone: customer %s, KYC tier 0.\n", p->name, p->phone,
           p->possessive, p->id);
    return true;
}

static bool both_sign_up(struct demo *d)
{
    return signup(d, &d->alice) && signup(d, &d->bob);
}

/* "2026-11-21T08:30:00Z", `ahead_s` seconds from now. */
static void utc_say(int64_t ahead_s, char out[32])
{
    time_t t = time(NULL) + (time_t)ahead_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    MOPAY_ASSERT(n > 0);
}

/* A session: the PIN, and the device key's signature over "phone|device_id|timestamp". */
static bool login(struct demo *d, struct person *p)
{
    char ts[32], msg[160], sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    utc_say(0, ts);
    int n = snprintf(msg, sizeof(msg), "%s|%s|%s", p->phone, p->device_id, ts);
    MOPAY_ASSERT(n > 0 && (size_t)n < sizeof(msg));
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, (size_t)n, p->sk);
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "phone", p->phone, "pin", DEMO_PIN, "device_id",
                             p->device_id, "timestamp", ts, "signature", sig64);
    if (!call(d, "POST", "/v1/sessions", NULL, body) || !expect(d, 201, NULL))
        return false;
    copy(p->token, sizeof(p->token), d->last.json, "token");
    printf("%s logs in with %s PIN and a signature by %s phone's key over the time, %s: session open until %s.\n",
           p->first, p->possessive, p->possessive, ts, str(d->last.json, "expires_at"));
    return true;
}

static bool both_log_in(struct demo *d)
{
    return login(d, &d->alice) && login(d, &d->bob);
}

static bool alice_opens_wallet(struct demo *d)
{
    struct person *a = &d->alice;
    if (!call(d, "POST", "/v1/wallets", a->token, json_pack("{s:s}", "currency", "CNY")) || !expect(d, 201, NULL))
        return false;
    copy(a->wallet_id, sizeof(a->wallet_id), d->last.json, "id");
    char balance[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, balance))
        return false;
    json_t *limits = json_object_get(d->last.json, "limits");
    printf("Alice opens a CNY wallet: balance CNY %s. At KYC tier 0 it may hold CNY %s, and CNY %s may leave it a "
           "day.\n",
           balance, str(limits, "balance_cap"), str(limits, "daily_outflow"));
    return true;
}

static bool alice_adds_cards(struct demo *d)
{
    struct person *a = &d->alice;
    if (!card_add(d, a, "4242 4242 4242 4242", false, &d->visa))
        return false;
    if (!json_is_true(json_object_get(d->last.json, "primary")))
        return step_fail(d, "her first card should be her primary one");
    if (!card_add(d, a, "6200 0000 0000 0005", true, &d->unionpay))
        return false;
    if (!json_is_true(json_object_get(d->last.json, "backup")))
        return step_fail(d, "the UnionPay card should be her backup");
    printf("Alice adds her %s, which becomes her primary card, and a %s as her backup.\n", d->visa.shown,
           d->unionpay.shown);
    return true;
}

static bool topup(struct demo *d, const struct source *card, const char *amount, const char *more)
{
    struct person *a = &d->alice;
    if (!movement(d, a, "/v1/topups", card, amount, "succeeded"))
        return false;
    story_moves(d, NULL, a, amount);
    char balance[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, balance))
        return false;
    printf("Alice tops up CNY %s%s from her %s: succeeded. Her balance: CNY %s.\n", amount, more, card->shown,
           balance);
    return true;
}

static bool alice_tops_up(struct demo *d)
{
    return topup(d, &d->visa, "300.00", "");
}

static bool alice_pays_bob(struct demo *d)
{
    struct person *a = &d->alice, *b = &d->bob;
    if (!send_money(d, a, b, "50.00", "for dinner") || !expect(d, 201, NULL))
        return false;
    /* the reply names Bob masked ("B** Li"), as a wallet app shows a payee before it is a contact */
    const char *shown = str(json_object_get(d->last.json, "to"), "name"), *surname = strrchr(b->name, ' ');
    size_t shown_len = strlen(shown), surname_len = surname != NULL ? strlen(surname) : 0;
    if (surname == NULL || strcmp(shown, b->name) == 0 || shown[0] != b->name[0] || shown_len < surname_len ||
        strcmp(shown + shown_len - surname_len, surname) != 0)
        return step_fail(d, "the money should reach %s, named masked", b->name);
    copy(b->wallet_id, sizeof(b->wallet_id), d->last.json, "to_wallet_id");
    story_moves(d, a, b, "50.00");
    char mine[MOPAY_MONEY_TEXT_BYTES], his[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, mine) || !balance_check(d, b, his))
        return false;
    printf("Alice sends CNY 50.00 \"for dinner\" to Bob's phone number, %s: succeeded (Bob had no wallet yet; a "
           "CNY one opened for him). Her balance: CNY %s. Bob's: CNY %s.\n",
           b->phone, mine, his);
    return true;
}

/* Prints one history entry: amount, what it was, with whom, and the note. */
static void entry_say(json_t *e)
{
    static const char *const labels[][2] = {
        {"topup", "top-up"}, {"withdrawal", "withdrawal"}, {"p2p_in", "from "}, {"p2p_out", "to "}};
    const char *type = str(e, "type"), *label = type;
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(type, labels[i][0]) == 0)
            label = labels[i][1];
    json_t *who = json_object_get(e, "counterparty");
    const char *note = json_string_value(json_object_get(e, "note"));
    printf("  %10s %s  %s%s", str(e, "amount"), str(e, "currency"), label, who != NULL ? str(who, "name") : "");
    if (note != NULL)
        printf(", \"%s\"", note);
    printf("\n");
}

/* Prints the person's history, newest first, and checks its entries are `types`, in order; the
 * page stays in d->last. */
static bool history_show(struct demo *d, const struct person *p, const char *const *types, size_t count)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=%d", p->wallet_id, DEMO_HISTORY_LIMIT);
    if (!call(d, "GET", path, p->token, NULL) || !expect(d, 200, NULL))
        return false;
    json_t *data = json_object_get(d->last.json, "data");
    if (json_array_size(data) != count)
        return step_fail(d, "%s's history should have %zu entries", p->first, count);
    printf("%s's history, newest first:\n", p->first);
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(data, i);
        if (strcmp(str(e, "type"), types[i]) != 0)
            return step_fail(d, "entry %zu of %s's history should be a %s", i + 1, p->first, types[i]);
        entry_say(e);
    }
    return true;
}

static bool both_histories(struct demo *d)
{
    static const char *const alice_types[] = {"p2p_out", "topup"}, *const bob_types[] = {"p2p_in"};
    if (!history_show(d, &d->alice, alice_types, 2) || !history_show(d, &d->bob, bob_types, 1))
        return false;
    json_t *entry = json_array_get(json_object_get(d->last.json, "data"), 0);
    if (strcmp(str(json_object_get(entry, "counterparty"), "name"), d->alice.name) != 0 ||
        strcmp(str(entry, "amount"), "50.00") != 0)
        return step_fail(d, "Bob's history should show CNY 50.00 from %s", d->alice.name);
    return true;
}

static bool alice_card_declines(struct demo *d)
{
    struct person *a = &d->alice;
    if (!card_add(d, a, "4000 0000 0000 9995", false, &d->declining) ||
        !movement(d, a, "/v1/topups", &d->declining, "100.00", "declined"))
        return false;
    if (strcmp(str(d->last.json, "decline_code"), "insufficient_funds") != 0)
        return step_fail(d, "the card should be declined for insufficient_funds");
    char balance[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, balance))
        return false;
    printf("Alice adds another card, a %s, and tries to top up CNY 100.00 from it: declined (insufficient_funds). "
           "Her balance is unchanged: CNY %s.\n",
           d->declining.shown, balance);
    return true;
}

/* Money for the rent, so that what stops the next transfer is the daily limit, not the balance. */
static bool alice_tops_up_more(struct demo *d)
{
    return topup(d, &d->visa, "300.00", " more");
}

static bool alice_hits_daily_limit(struct demo *d)
{
    struct person *a = &d->alice, *b = &d->bob;
    char mine[MOPAY_MONEY_TEXT_BYTES], his[MOPAY_MONEY_TEXT_BYTES], daily[MOPAY_MONEY_TEXT_BYTES],
        used[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, mine))
        return false;
    json_t *limits = json_object_get(d->last.json, "limits");
    copy(daily, sizeof(daily), limits, "daily_outflow");
    copy(used, sizeof(used), limits, "used_today");
    if (!send_money(d, a, b, DEMO_RENT, "rent") || !expect(d, 422, "limit_exceeded"))
        return false;
    if (!balance_check(d, a, mine) || !balance_check(d, b, his))
        return false;
    printf("Alice tries to send Bob CNY %s for the rent: refused (limit_exceeded). At KYC tier 0, CNY %s may leave "
           "her wallet a day, and CNY %s already has today. Nothing moved: her balance is CNY %s, Bob's CNY %s.\n",
           DEMO_RENT, daily, used, mine, his);
    return true;
}

static bool operator_verifies_alice(struct demo *d)
{
    struct person *a = &d->alice;
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", a->id);
    json_t *body = json_pack("{s:i, s:s, s:s}", "tier", 1, "document_type", "passport", "document_number", "E12345678");
    if (!call(d, "POST", path, d->admin_key, body) || !expect(d, 200, NULL))
        return false;
    if (json_integer_value(json_object_get(d->last.json, "kyc_tier")) != 1)
        return step_fail(d, "Alice should now be at KYC tier 1");
    char balance[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, balance))
        return false;
    json_t *limits = json_object_get(d->last.json, "limits");
    printf("The operator checks Alice's passport and raises her to KYC tier 1: her wallet may now hold CNY %s, and "
           "CNY %s may leave it a day.\n",
           str(limits, "balance_cap"), str(limits, "daily_outflow"));
    return true;
}

static bool alice_pays_rent(struct demo *d)
{
    struct person *a = &d->alice, *b = &d->bob;
    if (!send_money(d, a, b, DEMO_RENT, "rent") || !expect(d, 201, NULL))
        return false;
    story_moves(d, a, b, DEMO_RENT);
    char mine[MOPAY_MONEY_TEXT_BYTES], his[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, mine) || !balance_check(d, b, his))
        return false;
    printf("Alice sends Bob the same CNY %s for the rent again: succeeded. Her balance: CNY %s. Bob's: CNY %s.\n",
           DEMO_RENT, mine, his);
    return true;
}

static json_t *source_find(json_t *sources, const char *id)
{
    for (size_t i = 0; i < json_array_size(sources); i++)
        if (strcmp(str(json_array_get(sources, i), "id"), id) == 0)
            return json_array_get(sources, i);
    return NULL;
}

static bool alice_loses_visa(struct demo *d)
{
    struct person *a = &d->alice;
    char path[128];
    snprintf(path, sizeof(path), "/v1/funding-sources/%s/lost", d->visa.id);
    if (!call(d, "POST", path, a->token, NULL) || !expect(d, 200, NULL))
        return false;
    if (strcmp(str(d->last.json, "status"), "lost") != 0)
        return step_fail(d, "the Visa should be marked lost");
    if (!call(d, "GET", "/v1/funding-sources", a->token, NULL) || !expect(d, 200, NULL))
        return false;
    json_t *backup = source_find(json_object_get(d->last.json, "data"), d->unionpay.id);
    if (!json_is_true(json_object_get(backup, "primary")))
        return step_fail(d, "the %s should now be her primary card", d->unionpay.shown);
    printf("Alice reports her %s lost: it can no longer be used, and her backup %s is now her primary card.\n",
           d->visa.shown, d->unionpay.shown);
    return true;
}

static bool alice_withdraws(struct demo *d)
{
    struct person *a = &d->alice;
    json_t *body = json_pack("{s:s, s:{s:s, s:s}}", "type", "bank_account", "bank_account", "iban",
                             "GB82WEST12345698765432", "holder", a->name);
    if (!source_add(d, a, body, &d->bank) || !movement(d, a, "/v1/withdrawals", &d->bank, "20.00", "succeeded"))
        return false;
    story_moves(d, a, NULL, "20.00");
    char balance[MOPAY_MONEY_TEXT_BYTES];
    if (!balance_check(d, a, balance))
        return false;
    printf("Alice adds her %s (IBAN GB82 WEST 1234 5698 7654 32) and withdraws CNY 20.00 to it: succeeded. Her "
           "balance: CNY %s.\n",
           d->bank.shown, balance);
    return true;
}

/* --- the merchant chapter --- */

/* "0.6" for 60 hundredths of a percent. */
static void percent_say(int64_t bps, char out[16])
{
    MOPAY_ASSERT(bps >= 0 && bps <= DEMO_BPS_PER_UNIT);
    snprintf(out, 16, "%" PRId64 ".%02" PRId64, bps / 100, bps % 100);
    size_t len = strlen(out);
    while (out[len - 1] == '0')
        out[--len] = '\0';
    if (out[len - 1] == '.')
        out[--len] = '\0';
}

/* The amount the server wrote under `key` in `j`, in minor units of `currency`; false (the step
 * failed) when it is not one. */
static bool amount_read(struct demo *d, json_t *j, const char *key, const struct mopay_currency *currency,
                        int64_t *minor)
{
    const char *s = str(j, key);
    if (mopay_money_parse(s, strlen(s), currency, MOPAY_MONEY_ALLOW_NEGATIVE, minor) != MOPAY_OK)
        return step_fail(d, "%s should be an amount in %s", key, currency->alpha);
    return true;
}

/* Reads the merchant's ledger account and checks that what it holds, credits less debits posted,
 * is what the story's books say; the balance goes to `out`. */
static bool shop_balance_check(struct demo *d, const struct shop *s, char out[MOPAY_MONEY_TEXT_BYTES])
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/ledger/accounts/%s", s->account_id);
    int64_t credits = 0, debits = 0, balance = 0;
    if (!call(d, "GET", path, d->admin_key, NULL) || !expect(d, 200, NULL) ||
        !amount_read(d, d->last.json, "credits_posted", s->currency, &credits) ||
        !amount_read(d, d->last.json, "debits_posted", s->currency, &debits))
        return false;
    mopay_money_format(s->balance_minor, s->currency, out);
    if (!mopay_money_sub(credits, debits, &balance) || balance != s->balance_minor)
        return step_fail(d, "%s's account should hold %s %s", s->name, s->currency->alpha, out);
    return true;
}

/* Checks the payer's wallet and the merchant's account against the books; both balances out. */
static bool both_balances_check(struct demo *d, const struct person *p, char mine[MOPAY_MONEY_TEXT_BYTES],
                                char its[MOPAY_MONEY_TEXT_BYTES])
{
    return balance_check(d, p, mine) && shop_balance_check(d, &d->shop, its);
}

static bool text_is(const char *text, size_t len, const char *want)
{
    return text != NULL && len == strlen(want) && memcmp(text, want, len) == 0;
}

/* Reads `payload` as the payer's phone does, and checks it is the merchant's code: static with no
 * amount when `amount` is NULL, dynamic for `amount` otherwise. */
static bool qr_check(struct demo *d, const char *payload, const char *amount)
{
    struct mopay_qr qr;
    if (mopay_qr_decode(payload, strlen(payload), &qr) != MOPAY_OK)
        return step_fail(d, "the QR code should be an EMV merchant-presented payload");
    size_t name_len = 0, city_len = 0, id_len = 0;
    const char *name = mopay_qr_merchant_name(&qr, &name_len), *city = mopay_qr_merchant_city(&qr, &city_len);
    const struct mopay_qr_object *account = mopay_qr_find(&qr, MOPAY_QR_ID_ACCOUNT_FIRST);
    const char *id = mopay_qr_value(&qr, mopay_qr_find_sub(&qr, account, MOPAY_QR_SUB_MERCHANT_ID), &id_len);
    if (!text_is(name, name_len, DEMO_SHOP_NAME) || !text_is(city, city_len, DEMO_SHOP_CITY) ||
        !text_is(id, id_len, d->shop.id) || mopay_qr_currency(&qr) != d->cny)
        return step_fail(d, "the QR code should name %s, %s, its merchant id and CNY", DEMO_SHOP_NAME, DEMO_SHOP_CITY);
    int64_t minor = 0;
    bool has_amount = mopay_qr_amount(&qr, &minor);
    if (amount == NULL && (mopay_qr_initiation(&qr) != MOPAY_QR_INITIATION_STATIC || has_amount))
        return step_fail(d, "the merchant's QR code should be static, with no amount");
    if (amount != NULL &&
        (mopay_qr_initiation(&qr) != MOPAY_QR_INITIATION_DYNAMIC || !has_amount || minor != minor_in(d->cny, amount)))
        return step_fail(d, "the order's QR code should be dynamic, for CNY %s", amount);
    return true;
}

/* The merchant's fee on `minor`: fee_bps of it, rounded down, as the server takes it. */
static int64_t fee_of(const struct shop *s, int64_t minor)
{
    MOPAY_ASSERT(minor >= 0 && minor <= INT64_MAX / DEMO_BPS_PER_UNIT);
    return minor * s->fee_bps / DEMO_BPS_PER_UNIT;
}

/* The merchant's order for `amount`, tax-free with `vat` in it unless that is NULL; its id and QR
 * code go to `id` and `qr`. */
static bool order_create(struct demo *d, const struct shop *s, const char *amount, const char *vat,
                         const char *reference, const char *description, char id[DEMO_ID_BYTES],
                         char qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1])
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "amount", amount, "currency", s->currency->alpha, "reference",
                             reference, "description", description);
    if (vat != NULL)
        json_object_set_new(body, "tax_free", json_pack("{s:s}", "vat_amount", vat));
    if (!call(d, "POST", "/v1/orders", s->key, body) || !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    copy(id, DEMO_ID_BYTES, j, "id");
    copy(qr, MOPAY_QR_PAYLOAD_BYTES_MAX + 1, j, "qr");
    if (strcmp(str(j, "status"), "open") != 0 || strcmp(str(j, "amount"), amount) != 0 ||
        (vat != NULL && strcmp(str(json_object_get(j, "tax_free"), "vat_amount"), vat) != 0))
        return step_fail(d, "%s's new order should be open, for %s %s", s->name, s->currency->alpha, amount);
    return true;
}

/* When mopay's risk step asks for the payer's PIN on the payment in d->last
 * (requires_confirmation), the payer confirms it on the phone, and the confirmed payment takes
 * d->last's place. */
static bool confirm_if_asked(struct demo *d, struct person *payer)
{
    json_t *j = d->last.json;
    if (strcmp(str(j, "status"), "requires_confirmation") != 0)
        return true;
    char path[128];
    snprintf(path, sizeof(path), "/v1/payments/%s/confirm", str(j, "id"));
    say_pin_asked(payer, "this payment");
    return call(d, "POST", path, payer->token, json_pack("{s:s}", "pin", DEMO_PIN)) && expect(d, 200, NULL);
}

/* A payment by `payer` to the merchant `s` that must succeed for `amount`, less a coupon's
 * `discount_minor`, with the fee the books predict on the rest (to `fee_minor`). The books then
 * move the rest, less the fee, to the merchant's account; and in CNY they take it from the payer's
 * wallet (across currencies, fx_check takes what the quote sold). The reply stays in d->last. */
static bool payment_ok(struct demo *d, const char *token, json_t *body, struct person *payer, struct shop *s,
                       const char *amount, int64_t discount_minor, int64_t *fee_minor)
{
    if (!call(d, "POST", "/v1/payments", token, body) || !expect(d, 201, NULL) || !confirm_if_asked(d, payer))
        return false;
    json_t *j = d->last.json;
    const char *cur = s->currency->alpha;
    if (strcmp(str(j, "status"), "succeeded") != 0 || strcmp(str(j, "amount"), amount) != 0 ||
        strcmp(str(j, "currency"), cur) != 0 || strcmp(str(j, "merchant_id"), s->id) != 0 ||
        strcmp(str(j, "customer_id"), payer->id) != 0)
        return step_fail(d, "%s's payment of %s %s to %s should succeed", payer->first, cur, amount, s->name);
    int64_t share = minor_in(s->currency, amount) - discount_minor, fee = fee_of(s, share), charged = 0, off = 0;
    if ((discount_minor > 0 && !amount_read(d, j, "discount", s->currency, &off)) ||
        !amount_read(d, j, "fee", s->currency, &charged))
        return false;
    if (off != discount_minor)
        return step_fail(d, "the coupon should take %s %s off", cur, money_say(discount_minor, s->currency).s);
    if (charged != fee)
        return step_fail(d, "the fee should be %" PRId64 " hundredths of a percent of what %s gets, rounded down",
                         s->fee_bps, s->name);
    if (s->currency == d->cny)
        MOPAY_ASSERT(mopay_money_sub(payer->balance_minor, share, &payer->balance_minor));
    MOPAY_ASSERT(mopay_money_add(s->balance_minor, share - fee, &s->balance_minor));
    *fee_minor = fee;
    return true;
}

/* The operator signs up the merchant `s` names, at a fee of DEMO_SHOP_FEE_BPS; keeps its id, API
 * key and ledger account, and checks the account is empty (its balance goes to `out`). */
static bool shop_create(struct demo *d, struct shop *s, const char *mcc, const char *country, const char *city,
                        char out[MOPAY_MONEY_TEXT_BYTES])
{
    char settlement[32];
    snprintf(settlement, sizeof(settlement), "%s-ACC-001", country);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "name", s->name, "mcc", mcc, "country", country,
                             "city", city, "currency", s->currency->alpha, "fee_bps", DEMO_SHOP_FEE_BPS,
                             "settlement_account", settlement);
    if (!call(d, "POST", "/v1/merchants", d->admin_key, body) || !expect(d, 201, NULL))
        return false;
    json_t *m = json_object_get(d->last.json, "merchant");
    copy(s->id, sizeof(s->id), m, "id");
    copy(s->key, sizeof(s->key), d->last.json, "api_key");
    s->fee_bps = json_integer_value(json_object_get(m, "fee_bps"));
    if (strncmp(s->id, "mch_", 4) != 0 || strlen(s->id) != 36 || strncmp(s->key, "sk_", 3) != 0 ||
        strlen(s->key) < 8 || s->fee_bps != DEMO_SHOP_FEE_BPS)
        return step_fail(d, "expected a merchant id, an API key and a fee of %d hundredths of a percent",
                         DEMO_SHOP_FEE_BPS);
    snprintf(s->account_id, sizeof(s->account_id), "acc_%s", s->id + 4);
    return shop_balance_check(d, s, out);
}

static bool operator_creates_shop(struct demo *d)
{
    struct shop *s = &d->shop;
    char fee[16], balance[MOPAY_MONEY_TEXT_BYTES];
    if (!shop_create(d, s, "5812", "CN", DEMO_SHOP_CITY, balance))
        return false;
    percent_say(s->fee_bps, fee);
    printf("The operator signs up a merchant: %s, a restaurant (MCC 5812) in %s, paid in CNY at a fee of %s %%. "
           "It is merchant %s, with an API key of its own (sk_...%s, shown this once) and a ledger account "
           "holding CNY %s.\n",
           DEMO_SHOP_NAME, DEMO_SHOP_CITY, fee, s->id, s->key + strlen(s->key) - 4, balance);
    return true;
}

static bool alice_pays_static_qr(struct demo *d)
{
    struct shop *s = &d->shop;
    struct person *a = &d->alice;
    char path[128], qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", s->id);
    if (!call(d, "GET", path, s->key, NULL))
        return false;
    if (d->last.status != 200 || d->last.len == 0 || d->last.len >= sizeof(qr))
        return step_fail(d, "expected HTTP 200 and the QR code's payload");
    memcpy(qr, d->last.body, d->last.len + 1); /* and its NUL */
    if (!qr_check(d, qr, NULL))
        return false;
    int64_t fee_minor = 0;
    if (!payment_ok(d, a->token, json_pack("{s:s, s:s}", "qr", qr, "amount", DEMO_LUNCH), a, s, DEMO_LUNCH, 0,
                    &fee_minor))
        return false;
    copy(s->lunch_id, sizeof(s->lunch_id), d->last.json, "id");
    s->lunch_fee_minor = fee_minor;
    char mine[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!both_balances_check(d, a, mine, its))
        return false;
    printf("Alice scans the QR code on %s's counter. It is static, the same for every customer; her phone reads "
           "%s, %s, CNY, and asks her for the amount:\n  %s\n",
           DEMO_SHOP_NAME, DEMO_SHOP_NAME, DEMO_SHOP_CITY, qr);
    printf("She pays CNY %s for lunch: succeeded. %s pays a fee of CNY %s on it. Alice's balance: CNY %s. %s's "
           "account: CNY %s.\n",
           DEMO_LUNCH, DEMO_SHOP_NAME, money_say(fee_minor, d->cny).s, mine, DEMO_SHOP_NAME, its);
    return true;
}

static bool bob_pays_order(struct demo *d)
{
    struct shop *s = &d->shop;
    struct person *b = &d->bob;
    if (!order_create(d, s, DEMO_ORDER, NULL, "T12-0042", "two bowls of beef noodles", s->order_id, s->order_qr) ||
        !qr_check(d, s->order_qr, DEMO_ORDER))
        return false;
    int64_t fee_minor = 0;
    if (!payment_ok(d, b->token, json_pack("{s:s}", "qr", s->order_qr), b, s, DEMO_ORDER, 0, &fee_minor))
        return false;
    char his[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!both_balances_check(d, b, his, its))
        return false;
    printf("At table 12, %s rings up order %s for CNY %s, two bowls of beef noodles, and shows its QR code. "
           "It is dynamic, made for this order, and carries the amount:\n  %s\n",
           DEMO_SHOP_NAME, s->order_id, DEMO_ORDER, s->order_qr);
    printf("Bob scans it and pays: succeeded. %s pays a fee of CNY %s. Bob's balance: CNY %s. %s's account: CNY "
           "%s.\n",
           DEMO_SHOP_NAME, money_say(fee_minor, d->cny).s, his, DEMO_SHOP_NAME, its);
    return true;
}

static bool bob_pays_order_again(struct demo *d)
{
    struct shop *s = &d->shop;
    struct person *b = &d->bob;
    if (!call(d, "POST", "/v1/payments", b->token, json_pack("{s:s}", "qr", s->order_qr)) ||
        !expect(d, 409, "order_paid"))
        return false;
    char path[128], his[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    snprintf(path, sizeof(path), "/v1/orders/%s", s->order_id);
    if (!call(d, "GET", path, s->key, NULL) || !expect(d, 200, NULL))
        return false;
    if (strcmp(str(d->last.json, "status"), "paid") != 0)
        return step_fail(d, "the order should be paid");
    if (!both_balances_check(d, b, his, its))
        return false;
    printf("Bob scans the same code again: refused (order_paid), as the order is paid. Nothing moved: Bob's balance "
           "is CNY %s, %s's account CNY %s.\n",
           his, DEMO_SHOP_NAME, its);
    return true;
}

/* Bob's phone makes the code offline, from the time and what his device got at sign-up. */
static bool shop_scans_bob_code(struct demo *d)
{
    struct shop *s = &d->shop;
    struct person *b = &d->bob;
    time_t now = time(NULL);
    MOPAY_ASSERT(now >= 0);
    mopay_paycode_make(b->code_secret, b->code_index, (int64_t)now, s->code);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "payment_code", s->code, "amount", DEMO_CODE, "currency",
                             "CNY", "reference", "T07-0043");
    int64_t fee_minor = 0;
    if (!payment_ok(d, s->key, body, b, s, DEMO_CODE, 0, &fee_minor))
        return false;
    char his[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!both_balances_check(d, b, his, its))
        return false;
    const char *c = s->code; /* 87 | index (8) | step hint (1) | OTP (7) */
    printf("Back for dumplings, Bob has no signal. His phone shows his offline payment code, %s: mopay's prefix "
           "%.2s, his device's index %.8s from sign-up, %c for the time step, and %s, a one-time password from the "
           "time and his device's secret. %s scans it for CNY %s: succeeded, a fee of CNY %s. Bob's balance: CNY "
           "%s. %s's account: CNY %s.\n",
           c, c, c + 2, c[10], c + 11, DEMO_SHOP_NAME, DEMO_CODE, money_say(fee_minor, d->cny).s, his,
           DEMO_SHOP_NAME, its);
    return true;
}

static bool shop_scans_code_again(struct demo *d)
{
    struct shop *s = &d->shop;
    json_t *body = json_pack("{s:s, s:s, s:s}", "payment_code", s->code, "amount", DEMO_CODE, "currency", "CNY");
    if (!call(d, "POST", "/v1/payments", s->key, body) || !expect(d, 409, "payment_code_used"))
        return false;
    char his[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!both_balances_check(d, &d->bob, his, its))
        return false;
    printf("The cashier scans the same code again: refused (payment_code_used), as a code pays once. Nothing "
           "moved: Bob's balance is CNY %s, %s's account CNY %s.\n",
           his, DEMO_SHOP_NAME, its);
    return true;
}

/* The fee comes back in proportion to the refund, rounded down (this refund does not complete
 * the payment, which would return exactly what is left of the fee). */
static bool shop_refunds_alice(struct demo *d)
{
    struct shop *s = &d->shop;
    struct person *a = &d->alice;
    json_t *body = json_pack("{s:s, s:s, s:s}", "payment_id", s->lunch_id, "amount", DEMO_REFUND, "reason",
                             "the spring rolls never came");
    if (!call(d, "POST", "/v1/refunds", s->key, body) || !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    if (strcmp(str(j, "status"), "succeeded") != 0 || strcmp(str(j, "amount"), DEMO_REFUND) != 0 ||
        strcmp(str(j, "payment_id"), s->lunch_id) != 0)
        return step_fail(d, "the refund of CNY %s of Alice's lunch should succeed", DEMO_REFUND);
    int64_t minor = minor_in(d->cny, DEMO_REFUND), lunch = minor_in(d->cny, DEMO_LUNCH), returned = 0;
    MOPAY_ASSERT(minor < lunch && s->lunch_fee_minor <= INT64_MAX / minor);
    int64_t fee_back = s->lunch_fee_minor * minor / lunch;
    if (!amount_read(d, j, "fee_returned", d->cny, &returned))
        return false;
    if (returned != fee_back)
        return step_fail(d, "the fee should come back in proportion to the refund, rounded down");
    story_moves(d, NULL, a, DEMO_REFUND);
    MOPAY_ASSERT(mopay_money_add(s->balance_minor, fee_back - minor, &s->balance_minor));
    char mine[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!both_balances_check(d, a, mine, its))
        return false;
    printf("%s refunds CNY %s of Alice's CNY %s lunch, \"the spring rolls never came\": succeeded. The money "
           "comes out of its account, and CNY %s of the fee it paid comes back to it (fee_returned). Alice's "
           "balance: CNY %s. %s's account: CNY %s.\n",
           DEMO_SHOP_NAME, DEMO_REFUND, DEMO_LUNCH, money_say(fee_back, d->cny).s, mine, DEMO_SHOP_NAME, its);
    return true;
}

/* --- the traveller chapter --- */

/* Whether the rates `list` gives `pair` at `rate`, from the story's source. */
static bool rate_listed(json_t *list, const char *pair, const char *rate)
{
    json_t *data = json_object_get(list, "data");
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *r = json_array_get(data, i);
        if (strcmp(str(r, "pair"), pair) == 0)
            return strcmp(str(r, "rate"), rate) == 0 && strcmp(str(r, "source"), "demo") == 0;
    }
    return false;
}

static bool operator_loads_rates(struct demo *d)
{
    char now[32];
    utc_say(0, now);
    json_t *body = json_pack("{s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}", "rates", "pair", "USD/CNY", "rate",
                             DEMO_USD_CNY, "source", "demo", "time", now, "pair", "CNY/KRW", "rate", DEMO_CNY_KRW,
                             "source", "demo", "time", now);
    if (!call(d, "PUT", "/v1/fx/rates", d->admin_key, body) || !expect(d, 200, NULL))
        return false;
    if (!rate_listed(d->last.json, "USD/CNY", DEMO_USD_CNY) || !rate_listed(d->last.json, "CNY/KRW", DEMO_CNY_KRW))
        return step_fail(d, "the rates should be USD/CNY %s and CNY/KRW %s, from \"demo\"", DEMO_USD_CNY, DEMO_CNY_KRW);
    printf("Alice is off to New York and Seoul. The operator loads the day's FX rates, from the source \"demo\" at %s: "
           "1 USD = %s CNY, and 1 CNY = %s KRW. mopay converts at these mid rates and charges its spread as a fee, "
           "shown apart.\n",
           now, DEMO_USD_CNY, DEMO_CNY_KRW);
    return true;
}

static bool operator_creates_trip_shops(struct demo *d)
{
    char fee[16], usd[MOPAY_MONEY_TEXT_BYTES], krw[MOPAY_MONEY_TEXT_BYTES];
    if (!shop_create(d, &d->books, "5942", "US", "New York", usd) ||
        !shop_create(d, &d->beauty, "5977", "KR", "Seoul", krw))
        return false;
    percent_say(DEMO_SHOP_FEE_BPS, fee);
    printf("The operator signs up two merchants abroad, each at a fee of %s %%: %s, a bookshop (MCC 5942) in New "
           "York, paid in USD, merchant %s; and %s, a cosmetics shop (MCC 5977) in Seoul, paid in KRW, merchant %s. "
           "Their ledger accounts hold USD %s and KRW %s.\n",
           fee, DEMO_BOOKS_NAME, d->books.id, DEMO_BEAUTY_NAME, d->beauty.id, usd, krw);
    return true;
}

static bool books_offers_coupon(struct demo *d)
{
    struct trip *t = &d->trip;
    char until[32], path[128];
    utc_say(DEMO_DAY_S, until);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", "10% off books", "kind", "percent", "percent",
                             DEMO_OFFER_PERCENT, "min_spend", DEMO_OFFER_MIN, "budget", DEMO_OFFER_BUDGET,
                             "valid_until", until);
    if (!call(d, "POST", "/v1/offers", d->books.key, body) || !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    copy(t->offer_id, sizeof(t->offer_id), j, "id");
    if (strcmp(str(j, "percent"), DEMO_OFFER_PERCENT ".00") != 0 || strcmp(str(j, "min_spend"), DEMO_OFFER_MIN) != 0 ||
        strcmp(str(j, "budget"), DEMO_OFFER_BUDGET) != 0 || strcmp(str(j, "spent"), "0.00") != 0 ||
        strcmp(str(j, "funded_by"), "merchant") != 0 || strcmp(str(j, "currency"), "USD") != 0)
        return step_fail(d, "expected %s %% off USD %s or more, funded by the merchant from a budget of USD %s",
                         DEMO_OFFER_PERCENT, DEMO_OFFER_MIN, DEMO_OFFER_BUDGET);
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", t->offer_id);
    if (!call(d, "POST", path, d->alice.token, NULL) || !expect(d, 201, NULL))
        return false;
    copy(t->coupon_id, sizeof(t->coupon_id), d->last.json, "id");
    if (strcmp(str(d->last.json, "status"), "available") != 0 || strcmp(str(d->last.json, "offer_id"), t->offer_id))
        return step_fail(d, "Alice's coupon should be available, for offer %s", t->offer_id);
    printf("%s makes an offer, \"10%% off books\": %s %% off a spend of USD %s or more, which the shop pays for out "
           "of a budget of USD %s, until %s. It is offer %s. Alice claims it: coupon %s, available.\n",
           DEMO_BOOKS_NAME, DEMO_OFFER_PERCENT, DEMO_OFFER_MIN, DEMO_OFFER_BUDGET, until, t->offer_id, t->coupon_id);
    return true;
}

static bool alice_tops_up_for_trip(struct demo *d)
{
    return topup(d, &d->unionpay, DEMO_TRIP_TOPUP, " for her trip");
}

/* Checks the quote `j` against the story's own (to `q`): CNY for exactly buy_minor of `buy`, at
 * the operator's `rate` (inverted when the operator gave the pair the other way round), with the
 * spread the server says it charges. */
static bool quote_check(struct demo *d, json_t *j, const struct mopay_currency *buy, const char *rate, bool invert,
                        int64_t buy_minor, struct mopay_fx_quote *q)
{
    struct mopay_fx_rate r;
    enum mopay_err err = mopay_fx_rate_parse(rate, strlen(rate), &r);
    if (err == MOPAY_OK && invert)
        err = mopay_fx_rate_invert(r, &r);
    MOPAY_ASSERT(err == MOPAY_OK);
    json_int_t bps = json_integer_value(json_object_get(j, "spread_bps"));
    if (bps < 0 || bps > (json_int_t)MOPAY_FX_SPREAD_BPS_MAX)
        return step_fail(d, "the spread should be 0 to %u hundredths of a percent", MOPAY_FX_SPREAD_BPS_MAX);
    err = mopay_fx_quote_buy(buy_minor, d->cny, buy, r, (uint32_t)bps, q);
    MOPAY_ASSERT(err == MOPAY_OK);
    char want[MOPAY_FX_RATE_TEXT_BYTES];
    mopay_fx_rate_format(q->rate, want);
    struct money_text fee = money_say(q->fee_minor, d->cny), sell = money_say(q->sell_minor, d->cny),
                      bought = money_say(q->buy_minor, buy);
    if (strcmp(str(j, "sell_currency"), "CNY") != 0 || strcmp(str(j, "buy_currency"), buy->alpha) != 0 ||
        strcmp(str(j, "rate"), want) != 0 || strcmp(str(j, "fee"), fee.s) != 0 ||
        strcmp(str(j, "sell_amount"), sell.s) != 0 || strcmp(str(j, "buy_amount"), bought.s) != 0)
        return step_fail(d, "the quote should sell CNY %s (a fee of CNY %s included) for %s %s, at %s", sell.s, fee.s,
                         buy->alpha, bought.s, want);
    return true;
}

/* The time the server wrote under `key` in `j`; false (the step failed) when it is not one. */
static bool time_read(struct demo *d, json_t *j, const char *key, int64_t *ns)
{
    const char *s = str(j, key);
    if (mopay_time_parse(s, strlen(s), ns) != MOPAY_OK)
        return step_fail(d, "%s should be an RFC 3339 time", key);
    return true;
}

static bool alice_locks_quote(struct demo *d)
{
    struct trip *t = &d->trip;
    const struct mopay_fx_quote *q = &t->quote;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "sell_currency", "CNY", "buy_currency", "USD", "buy_amount",
                             DEMO_BOOK_SHARE, "lock", DEMO_QUOTE_LOCK);
    if (!call(d, "POST", "/v1/fx/quotes", d->alice.token, body) || !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    copy(t->quote_id, sizeof(t->quote_id), j, "id");
    int64_t created = 0, expires = 0;
    if (!quote_check(d, j, d->usd, DEMO_USD_CNY, true, minor_in(d->usd, DEMO_BOOK_SHARE), &t->quote) ||
        !time_read(d, j, "created_at", &created) || !time_read(d, j, "expires_at", &expires))
        return false;
    if (strcmp(str(j, "status"), "open") != 0 || expires - created != DEMO_QUOTE_LOCK_S * 1000000000LL)
        return step_fail(d, "the quote should be open, for %d seconds", DEMO_QUOTE_LOCK_S);
    char rate[MOPAY_FX_RATE_TEXT_BYTES], spread[16];
    mopay_fx_rate_format(q->rate, rate);
    percent_say(q->spread_bps, spread);
    printf("In New York, Alice picks a book at %s for USD %s, which her coupon brings down to USD %s. She asks for a "
           "quote to buy USD %s with CNY, locked for 5 minutes: quote %s, at 1 CNY = %s USD (the operator's USD/CNY "
           "%s, the other way round). That is CNY %s at the mid rate and a fee of CNY %s (%s %%): CNY %s in all, "
           "if she pays by %s.\n",
           DEMO_BOOKS_NAME, DEMO_BOOK, DEMO_BOOK_SHARE, DEMO_BOOK_SHARE, t->quote_id, rate, DEMO_USD_CNY,
           money_say(q->base_minor, d->cny).s, money_say(q->fee_minor, d->cny).s, spread,
           money_say(q->sell_minor, d->cny).s, str(j, "expires_at"));
    return true;
}

/* The payment `pay` ran at the quote `q` (`quote_id`): its rate and fee, and exactly the quote's
 * CNY taken from the wallet, which the story's books then take from Alice. */
static bool fx_check(struct demo *d, json_t *pay, const char *quote_id, const struct mopay_fx_quote *q)
{
    json_t *fx = json_object_get(pay, "fx");
    char rate[MOPAY_FX_RATE_TEXT_BYTES];
    mopay_fx_rate_format(q->rate, rate);
    struct money_text sell = money_say(q->sell_minor, d->cny);
    if (strcmp(str(fx, "quote_id"), quote_id) != 0 || strcmp(str(fx, "rate"), rate) != 0 ||
        strcmp(str(fx, "fee"), money_say(q->fee_minor, d->cny).s) != 0 ||
        strcmp(str(pay, "wallet_amount"), sell.s) != 0 || strcmp(str(pay, "wallet_currency"), "CNY") != 0)
        return step_fail(d, "the payment should take CNY %s from Alice's wallet, at %s (quote %s)", sell.s, rate,
                         quote_id);
    MOPAY_ASSERT(mopay_money_sub(d->alice.balance_minor, q->sell_minor, &d->alice.balance_minor));
    return true;
}

static bool alice_pays_books(struct demo *d)
{
    struct shop *s = &d->books;
    struct trip *t = &d->trip;
    const struct mopay_fx_quote *q = &t->quote;
    char order[DEMO_ID_BYTES], qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1], rate[MOPAY_FX_RATE_TEXT_BYTES],
        mine[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    if (!order_create(d, s, DEMO_BOOK, NULL, "LB-7731", "a New York street atlas", order, qr))
        return false;
    json_t *body = json_pack("{s:s, s:s, s:s}", "qr", qr, "coupon_id", t->coupon_id, "quote_id", t->quote_id);
    int64_t off = minor_in(d->usd, DEMO_BOOK) - minor_in(d->usd, DEMO_BOOK_SHARE), fee = 0;
    if (!payment_ok(d, d->alice.token, body, &d->alice, s, DEMO_BOOK, off, &fee) ||
        !fx_check(d, d->last.json, t->quote_id, q) || !balance_check(d, &d->alice, mine) ||
        !shop_balance_check(d, s, its))
        return false;
    mopay_fx_rate_format(q->rate, rate);
    printf("%s rings up order %s, a New York street atlas, for USD %s. Alice scans its QR code and pays with her "
           "coupon and her quote: succeeded. The coupon takes USD %s off, which the shop bears, so she pays USD %s, "
           "what her quote buys, at its rate of %s: CNY %s leaves her wallet, the quote's CNY %s and its fee of CNY "
           "%s. %s gets USD %s less its fee of USD %s. Alice's balance: CNY %s. %s' account: USD %s.\n",
           DEMO_BOOKS_NAME, order, DEMO_BOOK, money_say(off, d->usd).s, DEMO_BOOK_SHARE, rate,
           money_say(q->sell_minor, d->cny).s, money_say(q->base_minor, d->cny).s, money_say(q->fee_minor, d->cny).s,
           DEMO_BOOKS_NAME, DEMO_BOOK_SHARE, money_say(fee, d->usd).s, mine, DEMO_BOOKS_NAME, its);
    return true;
}

/* The quote mopay made on the spot for the payment `pay`: for exactly its KRW at the operator's
 * CNY/KRW rate, used by it; and the payment took the quote's CNY. */
static bool spot_quote_check(struct demo *d, json_t *pay, struct mopay_fx_quote *q)
{
    const char *id = str(json_object_get(pay, "fx"), "quote_id");
    char path[128];
    if (strncmp(id, "quo_", 4) != 0 || strlen(id) > 64)
        return step_fail(d, "the payment should show the quote made for it (fx)");
    snprintf(path, sizeof(path), "/v1/fx/quotes/%s", id);
    if (!call(d, "GET", path, d->alice.token, NULL) || !expect(d, 200, NULL))
        return false;
    json_t *j = d->last.json;
    if (!quote_check(d, j, d->krw, DEMO_CNY_KRW, false, minor_in(d->krw, DEMO_BEAUTY), q))
        return false;
    if (strcmp(str(j, "status"), "used") != 0 || strcmp(str(j, "payment_id"), str(pay, "id")) != 0)
        return step_fail(d, "the quote should be used, by payment %s", str(pay, "id"));
    return fx_check(d, pay, id, q);
}

static bool alice_pays_beauty(struct demo *d)
{
    struct shop *s = &d->beauty;
    struct trip *t = &d->trip;
    const struct mopay_fx_quote *q = &t->spot;
    char order[DEMO_ID_BYTES], qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1], rate[MOPAY_FX_RATE_TEXT_BYTES],
        mine[MOPAY_MONEY_TEXT_BYTES], its[MOPAY_MONEY_TEXT_BYTES];
    int64_t fee = 0;
    if (!order_create(d, s, DEMO_BEAUTY, DEMO_BEAUTY_VAT, "SB-0412", "a skin care set", order, qr) ||
        !payment_ok(d, d->alice.token, json_pack("{s:s}", "qr", qr), &d->alice, s, DEMO_BEAUTY, 0, &fee))
        return false;
    json_t *pay = json_incref(d->last.json); /* the next call replaces d->last */
    copy(t->payment_id, sizeof(t->payment_id), pay, "id");
    bool ok = spot_quote_check(d, pay, &t->spot);
    json_decref(pay);
    if (!ok || !balance_check(d, &d->alice, mine) || !shop_balance_check(d, s, its))
        return false;
    mopay_fx_rate_format(q->rate, rate);
    printf("In Seoul, Alice buys a skin care set at %s, tax-free: order %s, KRW %s with KRW %s of VAT in it. She pays "
           "it without a quote, so mopay makes one on the spot for exactly KRW %s, at 1 CNY = %s KRW (the payment's "
           "fx): CNY %s leaves her wallet, a fee of CNY %s included. %s gets KRW %s less its fee of KRW %s. Alice's "
           "balance: CNY %s. %s's account: KRW %s.\n",
           DEMO_BEAUTY_NAME, order, DEMO_BEAUTY, DEMO_BEAUTY_VAT, DEMO_BEAUTY, rate, money_say(q->sell_minor, d->cny).s,
           money_say(q->fee_minor, d->cny).s, DEMO_BEAUTY_NAME, DEMO_BEAUTY, money_say(fee, d->krw).s, mine,
           DEMO_BEAUTY_NAME, its);
    return true;
}

/* The refund comes in CNY at the payment's own conversion: the VAT's share of what it converted
 * (its fee aside), rounded down. */
static bool alice_claims_vat(struct demo *d)
{
    struct trip *t = &d->trip;
    struct person *a = &d->alice;
    if (!call(d, "POST", "/v1/tax-refunds", a->token, json_pack("{s:[s]}", "payment_ids", t->payment_id)) ||
        !expect(d, 201, NULL))
        return false;
    json_t *j = d->last.json;
    copy(t->refund_id, sizeof(t->refund_id), j, "id");
    int64_t vat = minor_in(d->krw, DEMO_BEAUTY_VAT), gross = minor_in(d->krw, DEMO_BEAUTY), credited = 0;
    MOPAY_ASSERT(t->spot.base_minor <= INT64_MAX / vat);
    t->credited_minor = t->spot.base_minor * vat / gross;
    if (!amount_read(d, j, "credited", d->cny, &credited))
        return false;
    if (strcmp(str(j, "status"), "pending_validation") != 0 || strcmp(str(j, "refund"), DEMO_BEAUTY_VAT) != 0 ||
        strcmp(str(j, "currency"), "KRW") != 0 || credited != t->credited_minor)
        return step_fail(d, "the VAT of KRW %s should come back as CNY %s, pending validation", DEMO_BEAUTY_VAT,
                         money_say(t->credited_minor, d->cny).s);
    MOPAY_ASSERT(mopay_money_add(a->balance_minor, credited, &a->balance_minor));
    char by[MOPAY_TIME_TEXT_BYTES], mine[MOPAY_MONEY_TEXT_BYTES];
    copy(by, sizeof(by), j, "validate_by");
    if (!balance_check(d, a, mine))
        return false;
    printf("At the till, Alice claims the VAT back at once: tax refund %s, KRW %s, credited to her wallet as CNY %s "
           "at her payment's rate. It is pending_validation until customs confirm she took the goods home, by %s. "
           "Her balance: CNY %s.\n",
           t->refund_id, DEMO_BEAUTY_VAT, money_say(credited, d->cny).s, by, mine);
    return true;
}

static bool operator_validates_refund(struct demo *d)
{
    struct trip *t = &d->trip;
    char path[128], mine[MOPAY_MONEY_TEXT_BYTES];
    struct money_text credited = money_say(t->credited_minor, d->cny);
    snprintf(path, sizeof(path), "/v1/tax-refunds/%s/validate", t->refund_id);
    if (!call(d, "POST", path, d->admin_key, NULL) || !expect(d, 200, NULL))
        return false;
    if (strcmp(str(d->last.json, "status"), "validated") != 0 || strcmp(str(d->last.json, "credited"), credited.s))
        return step_fail(d, "the refund should be validated, its CNY %s credited", credited.s);
    if (!balance_check(d, &d->alice, mine))
        return false;
    printf("At the airport, customs see the skin care set leave with her, and the operator validates the refund: "
           "validated. The CNY %s is hers to keep. Her balance: CNY %s.\n",
           credited.s, mine);
    return true;
}

static bool operator_checks_ledger(struct demo *d)
{
    if (!call(d, "GET", "/v1/ledger/check", d->admin_key, NULL) || !expect(d, 200, NULL))
        return false;
    json_t *j = d->last.json;
    if (!json_is_true(json_object_get(j, "ok")))
        return step_fail(d, "the ledger should balance");
    printf("The operator runs the ledger check: ok. Debits equal credits in every currency, over %lld accounts and "
           "%lld transfers.\n",
           (long long)json_integer_value(json_object_get(j, "accounts")),
           (long long)json_integer_value(json_object_get(j, "transfers")));
    return true;
}

/* --- the story --- */

struct step {
    const char *name;    /* what stderr calls it when it goes wrong */
    bool operator;       /* needs the admin key */
    const char *chapter; /* NULL, or the chapter it belongs to: skipped as one, set apart by blank lines */
    bool (*run)(struct demo *d);
};

static const char merchant_chapter[] = "the merchant chapter (" DEMO_SHOP_NAME
                                       "'s QR codes, an order, a payment code and a refund)";

static const char traveller_chapter[] = "the traveller chapter (FX rates, a coupon and a locked quote at "
                                        DEMO_BOOKS_NAME ", a tax refund at " DEMO_BEAUTY_NAME ")";

static const struct step steps[] = {
    {"the server answers", false, NULL, server_answers},
    {"Alice and Bob sign up", false, NULL, both_sign_up},
    {"Alice and Bob log in", false, NULL, both_log_in},
    {"Alice opens a CNY wallet", false, NULL, alice_opens_wallet},
    {"Alice adds her Visa and a backup UnionPay card", false, NULL, alice_adds_cards},
    {"Alice tops up CNY 300.00", false, NULL, alice_tops_up},
    {"Alice sends Bob CNY 50.00 by phone number", false, NULL, alice_pays_bob},
    {"both histories", false, NULL, both_histories},
    {"a top-up from a card that declines", false, NULL, alice_card_declines},
    {"Alice tops up CNY 300.00 more", false, NULL, alice_tops_up_more},
    {"a transfer over the tier-0 daily limit", false, NULL, alice_hits_daily_limit},
    {"the operator verifies Alice's ID", true, NULL, operator_verifies_alice},
    {"the same transfer at KYC tier 1", true, NULL, alice_pays_rent},
    {"Alice reports her Visa lost", false, NULL, alice_loses_visa},
    {"Alice withdraws CNY 20.00 to her bank account", false, NULL, alice_withdraws},
    {"the operator signs up " DEMO_SHOP_NAME, true, merchant_chapter, operator_creates_shop},
    {"Alice pays CNY " DEMO_LUNCH " by the static QR code", true, merchant_chapter, alice_pays_static_qr},
    {"Bob pays an order's dynamic QR code", true, merchant_chapter, bob_pays_order},
    {"Bob pays the paid order again", true, merchant_chapter, bob_pays_order_again},
    {DEMO_SHOP_NAME " scans Bob's payment code", true, merchant_chapter, shop_scans_bob_code},
    {DEMO_SHOP_NAME " scans the same payment code again", true, merchant_chapter, shop_scans_code_again},
    {DEMO_SHOP_NAME " refunds CNY " DEMO_REFUND " of Alice's payment", true, merchant_chapter, shop_refunds_alice},
    {"the operator loads FX rates", true, traveller_chapter, operator_loads_rates},
    {"the operator signs up " DEMO_BOOKS_NAME " and " DEMO_BEAUTY_NAME, true, traveller_chapter,
     operator_creates_trip_shops},
    {DEMO_BOOKS_NAME " makes an offer and Alice claims it", true, traveller_chapter, books_offers_coupon},
    {"Alice tops up CNY " DEMO_TRIP_TOPUP " for her trip", true, traveller_chapter, alice_tops_up_for_trip},
    {"Alice locks a quote to buy USD " DEMO_BOOK_SHARE, true, traveller_chapter, alice_locks_quote},
    {"Alice pays " DEMO_BOOKS_NAME " with her coupon and her quote", true, traveller_chapter, alice_pays_books},
    {"Alice buys tax-free at " DEMO_BEAUTY_NAME, true, traveller_chapter, alice_pays_beauty},
    {"Alice claims her VAT back", true, traveller_chapter, alice_claims_vat},
    {"the operator validates Alice's tax refund", true, traveller_chapter, operator_validates_refund},
    {"the ledger check", true, NULL, operator_checks_ledger},
};
#define STEP_COUNT (sizeof(steps) / sizeof(steps[0]))

/* Says that step i is skipped, once for a whole chapter; returns whether it said so. */
static bool step_skip_say(size_t i)
{
    const char *chapter = steps[i].chapter;
    if (chapter != NULL && i > 0 && steps[i - 1].chapter == chapter)
        return false;
    printf("(Skipped, as it needs the admin key: %s.)\n", chapter != NULL ? chapter : steps[i].name);
    return true;
}

/* Runs the steps in order; stops at the first that does not go as expected. */
static int story_run(struct demo *d)
{
    size_t skipped = 0;
    for (size_t i = 0; i < STEP_COUNT; i++) {
        d->step = steps[i].name;
        if (steps[i].operator && d->admin_key == NULL) {
            if (step_skip_say(i))
                skipped++;
            continue;
        }
        if (i > 0 && steps[i].chapter != steps[i - 1].chapter)
            printf("\n"); /* a chapter begins or ends */
        if (!steps[i].run(d))
            return 1;
    }
    if (skipped == 0)
        printf("\nEvery step went as expected.\n");
    else
        printf("\nEvery step went as expected; %zu parts of the story that need the operator were skipped "
               "(no --admin-key).\n",
               skipped);
    return 0;
}

static int usage(void)
{
    printf("Usage: mopay demo [--url URL] [--admin-key KEY]\n\n"
           "Seeds a small world on a running mopay server and walks through it over HTTP, saying what\n"
           "happens: sign-up, log-in, top-ups, a payment by phone number, a declined card, the daily\n"
           "limit, an ID check, a lost card, a withdrawal; then a merchant, paid by its static QR code,\n"
           "an order's dynamic one and an offline payment code, and a refund; then a trip abroad: FX\n"
           "rates, a coupon, a USD purchase at a locked quote, a KRW one converted on the spot and its\n"
           "tax refund; and the ledger check. New phone numbers and new merchants each run, so it can\n"
           "run again on the same database.\n\n"
           "  --url URL        the server (default %s, or MOPAY_URL)\n"
           "  --admin-key KEY  an operator key (or MOPAY_ADMIN_KEY); without one the operator's steps\n"
           "                   are skipped\n\n"
           "Exits 0 when every step went as expected, 1 when one did not (stderr names it, with the\n"
           "server's answer), 2 for bad options.\n",
           DEMO_URL_DEFAULT);
    return 0;
}

/* --url and --admin-key, over MOPAY_URL and MOPAY_ADMIN_KEY; false (with a message) on a bad one. */
static bool options_read(struct demo *d, int argc, char **argv)
{
    const char *url = getenv("MOPAY_URL"), *key = getenv("MOPAY_ADMIN_KEY");
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value != NULL && strcmp(flag, "--url") == 0) {
            url = value;
        } else if (value != NULL && strcmp(flag, "--admin-key") == 0) {
            key = value;
        } else {
            fprintf(stderr, "mopay demo: bad option %s (see mopay demo --help)\n", flag);
            return false;
        }
    }
    url = url != NULL && url[0] != '\0' ? url : DEMO_URL_DEFAULT;
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/') /* the paths bring their own */
        len--;
    if (len == 0 || len >= sizeof(d->url)) {
        fprintf(stderr, "mopay demo: --url must be a server's address, such as %s\n", DEMO_URL_DEFAULT);
        return false;
    }
    memcpy(d->url, url, len);
    d->url[len] = '\0';
    d->admin_key = key != NULL && key[0] != '\0' ? key : NULL;
    return true;
}

static CURL *demo_curl_new(struct reply *r)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)DEMO_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DEMO_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

/* Everything after the options' first look: `d` is zeroed and freed by the caller. */
static int demo_run(struct demo *d, int argc, char **argv)
{
    if (!options_read(d, argc, argv))
        return 2;
    d->curl = demo_curl_new(&d->last);
    if (d->curl == NULL) {
        fprintf(stderr, "mopay demo: cannot start libcurl\n");
        return 1;
    }
    d->cny = mopay_currency_by_alpha("CNY", 3);
    d->usd = mopay_currency_by_alpha("USD", 3);
    d->krw = mopay_currency_by_alpha("KRW", 3);
    d->shop = (struct shop){.name = DEMO_SHOP_NAME, .currency = d->cny};
    d->books = (struct shop){.name = DEMO_BOOKS_NAME, .currency = d->usd};
    d->beauty = (struct shop){.name = DEMO_BEAUTY_NAME, .currency = d->krw};
    d->alice = (struct person){.name = "Alice Wang", .first = "Alice", .possessive = "her", .phone_prefix = "+86138"};
    d->bob = (struct person){.name = "Bob Li", .first = "Bob", .possessive = "his", .phone_prefix = "+86139"};
    int rc = story_run(d);
    curl_easy_cleanup(d->curl);
    json_decref(d->last.json);
    return rc;
}

int mopay_cli_demo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage();
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mopay demo: cannot start libsodium or libcurl\n");
        return 1;
    }
    int rc = 1;
    struct demo *d = sodium_malloc(sizeof(*d)); /* it holds device keys and session tokens */
    if (d == NULL) {
        fprintf(stderr, "mopay demo: out of memory\n");
    } else {
        memset(d, 0, sizeof(*d));
        rc = demo_run(d, argc, argv);
        sodium_free(d);
    }
    curl_global_cleanup();
    return rc;
}
