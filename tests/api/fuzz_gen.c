/* The route fuzzer's requests: valid ones from the route's field spec, then mutated. */
#include "fuzz_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "mopay/json.h"

static uint64_t rng_state;

void fuzz_seed(uint64_t seed)
{
    rng_state = seed;
}

uint64_t fuzz_rand(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(fuzz_rand() % n);
}

static bool chance(unsigned percent)
{
    return pick(100) < percent;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void note(struct fuzz_request *r, const char *what)
{
    size_t used = strlen(r->what);
    snprintf(r->what + used, sizeof(r->what) - used, "%s%s", used ? "," : "", what);
}

/* --- ids: the collection a field's id belongs to --- */

static const struct {
    const char *field, *kind;
} id_fields[] = {
    {"wallet_id", "/v1/wallets/"},   {"funding_source_id", "/v1/funding-sources/"},
    {"payment_id", "/v1/payments/"}, {"payment_ids", "/v1/payments/"},
    {"order_id", "/v1/orders/"},     {"quote_id", "/v1/fx/quotes/"},
    {"coupon_id", "coupon"},         {"device_id", "/v1/devices/"},
    {"merchant_id", "/v1/merchants/"}, {"biller_id", "biller"},
    {"debit_account_id", "/v1/ledger/accounts/"}, {"credit_account_id", "/v1/ledger/accounts/"},
    {"pending_id", "/v1/ledger/transfers/"}, {"token", "nfc"}, {"phone", "phone"},
};

static enum fuzz_role role_of(const char *field, const char *parent)
{
    return strcmp(field, "order_id") == 0 || strcmp(field, "token") == 0 || strcmp(parent, "to") == 0
               ? ROLE_COUNTERPARTY
               : ROLE_OWN;
}

static const char *id_kind(const char *field)
{
    for (size_t i = 0; i < sizeof(id_fields) / sizeof(id_fields[0]); i++)
        if (strcmp(id_fields[i].field, field) == 0)
            return id_fields[i].kind;
    return NULL;
}

/* Whose resources a principal names when it names its own: the operator and nobody act for a side
 * picked at random. */
static int acting_owner(int principal)
{
    if (fuzz_side(principal) >= 0)
        return principal;
    return pick(2) ? P_CUSTOMER_A : P_CUSTOMER_B;
}

static int other_side_owner(int principal)
{
    int side = fuzz_side(principal);
    if (side < 0)
        side = (int)pick(2);
    return side == 0 ? P_CUSTOMER_B : P_CUSTOMER_A;
}

/* Remembers that the body names `o` (for the ownership checks). */
static void body_names(struct fuzz_request *r, const struct fuzz_owned *o, enum fuzz_role role)
{
    if (o != NULL && r->body_owned_count < sizeof(r->body_owned) / sizeof(r->body_owned[0])) {
        r->body_owned_role[r->body_owned_count] = role;
        r->body_owned[r->body_owned_count++] = o;
    }
}

static json_t *id_value(struct fuzz_world *w, struct fuzz_request *r, const char *field, const char *parent,
                        int owner)
{
    if (role_of(field, parent) == ROLE_COUNTERPARTY && chance(50)) /* the other side: a P2P to B, B's order */
        owner = other_side_owner(owner);
    const struct fuzz_owned *o = fuzz_world_pick_owned(w, id_kind(field), owner, pick(4));
    if (o == NULL)
        return json_string("xyz_00000000000000000000000000000000");
    body_names(r, o, role_of(field, parent));
    return json_string(o->value);
}

/* --- valid values by field name --- */

static const struct {
    const char *name, *value;
} strings[] = {
    {"amount", "1.00"}, {"currency", "CNY"}, {"sell_currency", "CNY"}, {"buy_currency", "USD"},
    {"sell_amount", "10.00"}, {"buy_amount", "1.00"}, {"budget", "50.00"}, {"min_spend", "5.00"},
    {"cap", "2.00"}, {"percent", "10"}, {"tip", "1.00"}, {"vat_amount", "1.00"}, {"country", "CN"},
    {"pin", "123456"}, {"mcc", "5812"}, {"city", "Shanghai"}, {"settlement_account", "CN-ACC-F"},
    {"webhook_url", ""}, {"document_type", "passport"}, {"document_number", "E12345678"}, {"label", "fraud"},
    {"list", "phone"}, {"value", "+8613900000999"}, {"lock", "5m"}, {"kind", "fixed"}, {"type", "card"},
    {"number", "4242424242424242"}, {"holder", "Fuzz"}, {"iban", "GB82 WEST 1234 5698 7654 32"},
    {"account_number", "12345678"}, {"bank_code", "BANKCODE"}, {"valid_from", "2026-11-21T08:00:00Z"},
    {"valid_until", "2027-06-01T00:00:00Z"}, {"due_date", "2027-03-01T00:00:00Z"},
    {"time", "2026-11-21T08:00:00Z"}, {"timestamp", "2026-11-21T08:00:00Z"}, {"pair", "USD/CNY"},
    {"rate", "7.1"}, {"source", "fuzz"}, {"payment_code", "870000000100000000"},
    {"unpredictable_number", "0A1B2C3D"}, {"cryptogram", "0011223344556677"}, {"funded_by", "merchant"},
    {"reason", "fuzz"}, {"note", "fuzz"}, {"description", "fuzz"},
};

static json_t *string_value(struct fuzz_world *w, struct fuzz_request *r, const struct mopay_json_field *f,
                            const char *parent, int owner)
{
    char buf[128];
    if (strcmp(f->name, "qr") == 0)
        return json_string(w->order_qr[fuzz_side(owner) == 1]);
    if (strcmp(f->name, "phone") == 0) {
        if (strcmp(r->route->name, "customers_create") == 0)
            snprintf(buf, sizeof(buf), "+86137%08u", pick(100000000));
        else if (strcmp(parent, "to") == 0) /* a P2P to the other side, or to oneself */
            return id_value(w, r, "phone", parent, owner);
        else
            snprintf(buf, sizeof(buf), "%s", w->phone[fuzz_side(owner) == 1]);
        return json_string(buf);
    }
    if (id_kind(f->name) != NULL)
        return id_value(w, r, f->name, parent, owner);
    if (strcmp(f->name, "public_key") == 0 || strcmp(f->name, "signature") == 0) {
        uint8_t raw[64];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(buf, sizeof(buf), raw, strcmp(f->name, "public_key") == 0 ? 32 : 64,
                          sodium_base64_VARIANT_ORIGINAL);
        return json_string(buf);
    }
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (strcmp(strings[i].name, f->name) == 0)
            return json_string(strings[i].value);
    snprintf(buf, sizeof(buf), "FZ-%u", pick(1000000));
    if (f->max_len > 0 && strlen(buf) > f->max_len)
        buf[f->max_len] = '\0';
    return json_string(buf);
}

static const struct {
    const char *name;
    int64_t value;
} integers[] = {
    {"exp_month", 1}, {"exp_year", 2031}, {"tier", 2}, {"keys", 1}, {"taps_per_key", 2}, {"ttl_s", 60},
    {"seconds", 1}, {"expires_in", 600}, {"atc", 1}, {"fee_bps", 60}, {"per_customer_limit", 1}, {"code", 1},
    {"user_data", 1}, {"timeout_s", 0},
};

static json_t *integer_value(const struct mopay_json_field *f)
{
    for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++)
        if (strcmp(integers[i].name, f->name) == 0)
            return json_integer(integers[i].value);
    return json_integer(f->min != 0 || f->max != 0 ? f->min : 1);
}

static json_t *object_from_spec(struct fuzz_world *w, struct fuzz_request *r, const struct mopay_json_field *spec,
                                const char *parent, int owner, bool mutate);

static json_t *field_value(struct fuzz_world *w, struct fuzz_request *r, const struct mopay_json_field *f,
                           const char *parent, int owner, bool mutate)
{
    switch (f->kind) {
    case MOPAY_JSON_STRING: return string_value(w, r, f, parent, owner);
    case MOPAY_JSON_INTEGER: return integer_value(f);
    case MOPAY_JSON_BOOL: return json_boolean(pick(2));
    case MOPAY_JSON_OBJECT: return object_from_spec(w, r, f->fields, f->name, owner, mutate);
    case MOPAY_JSON_ARRAY: break;
    }
    json_t *a = json_array();
    if (f->fields != NULL)
        json_array_append_new(a, object_from_spec(w, r, f->fields, f->name, owner, mutate));
    else if (id_kind(f->name) != NULL)
        json_array_append_new(a, id_value(w, r, f->name, parent, owner));
    return a;
}

/* Required fields always; each optional one now and then (more often when mutating). */
static json_t *object_from_spec(struct fuzz_world *w, struct fuzz_request *r, const struct mopay_json_field *spec,
                                const char *parent, int owner, bool mutate)
{
    json_t *o = json_object();
    size_t n = 0;
    for (const struct mopay_json_field *f = spec; f != NULL && f->name != NULL; f++, n++)
        if (f->required || chance(mutate ? 40 : 25))
            json_object_set_new(o, f->name, field_value(w, r, f, parent, owner, mutate));
    if (json_object_size(o) == 0 && n > 0) { /* one of them at least: "one of qr, order_id, ..." specs */
        const struct mopay_json_field *f = &spec[pick((unsigned)n)];
        json_object_set_new(o, f->name, field_value(w, r, f, parent, owner, mutate));
    }
    return o;
}

/* --- mutations of the parsed body --- */

struct slot {
    json_t *parent;
    const char *parent_key; /* "" at the top */
    const char *key;
};

static void slots_collect(json_t *o, const char *name, struct slot *out, size_t *n, size_t cap)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (*n < cap)
            out[(*n)++] = (struct slot){o, name, key};
        if (json_is_object(v))
            slots_collect(v, key, out, n, cap);
        if (json_is_array(v) && json_is_object(json_array_get(v, 0)))
            slots_collect(json_array_get(v, 0), key, out, n, cap);
    }
}

static json_t *deep(size_t depth)
{
    json_t *v = json_integer(1);
    for (size_t i = 0; i < depth; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    return v;
}

static json_t *huge_string(size_t n)
{
    char *text = repeat('A', n);
    json_t *v = json_string(text);
    free(text);
    return v;
}

static const char *const odd_amounts[] = {
    "99999999999999999999", "-1.00", "1.123456789", "1e5", "0", "-0", " 1.00", "NaN", "9223372036854775807",
    "0.001", "1,00", "+1", "0x10", "1.", ".5", "00000000000000000001.00", "-9223372036854775808", "922337203685477.58",
};

static json_t *odd_value(struct fuzz_world *w, struct fuzz_request *r, const struct slot *s, char *what, size_t cap)
{
    static const char *const kinds[] = {"int", "string", "null", "array", "object", "bool", "huge", "empty",
                                        "nul", "deep", "amount", "int_max", "int_min", "negative", "foreign", "ctl"};
    unsigned k = pick(sizeof(kinds) / sizeof(kinds[0]));
    snprintf(what, cap, "%s", kinds[k]);
    switch (k) {
    case 0: return json_integer(5);
    case 1: return json_string("5");
    case 2: return json_null();
    case 3: return json_array();
    case 4: return json_object();
    case 5: return json_true();
    case 6: return huge_string(chance(20) ? 70000 : 5000);
    case 7: return json_string("");
    case 8: return json_stringn("a\0b", 3);
    case 9: return deep(chance(50) ? 40 : 100);
    case 10: return json_string(odd_amounts[pick(sizeof(odd_amounts) / sizeof(odd_amounts[0]))]);
    case 11: return json_integer(INT64_MAX);
    case 12: return json_integer(INT64_MIN);
    case 13: return json_integer(-1);
    case 14: {
        /* anyone's id where an id goes; in a text field only a look-alike, since text is shown to
         * others later and would read as a leak */
        const struct fuzz_owned *o = &w->owned[pick((unsigned)w->owned_count)];
        if (id_kind(s->key) == NULL || strcmp(o->kind, "secret") == 0 || strcmp(o->kind, "reference") == 0)
            return json_string("ord_00000000000000000000000000000000");
        body_names(r, o, role_of(s->key, s->parent_key));
        return json_string(o->value);
    }
    default: return json_string("line\r\nbreak\ttab\x1b[31m");
    }
}

/* A foreign id where the body names one of the principal's own. */
static void swap_foreign(struct fuzz_world *w, struct fuzz_request *r, const struct slot *s)
{
    const char *kind = id_kind(s->key);
    if (kind == NULL)
        return;
    const struct fuzz_owned *o = fuzz_world_pick_owned(w, kind, other_side_owner(r->principal), pick(4));
    if (o == NULL)
        return;
    r->body_owned_count = 0; /* the ids left are the principal's own; only the foreign one matters */
    body_names(r, o, role_of(s->key, s->parent_key));
    json_t *v = json_string(o->value);
    if (json_is_array(json_object_get(s->parent, s->key))) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    json_object_set_new(s->parent, s->key, v);
    note(r, "foreign_id");
}

static void mutate_object(struct fuzz_world *w, struct fuzz_request *r, json_t *body)
{
    struct slot slots[64];
    size_t n = 0;
    slots_collect(body, "", slots, &n, 64);
    unsigned m = pick(6);
    if (n == 0 || m == 0) {
        char key[32];
        snprintf(key, sizeof(key), "zz_unknown_%u", pick(100));
        json_object_set_new(n ? slots[pick((unsigned)n)].parent : body, key, json_integer(1));
        note(r, "unknown_field");
        return;
    }
    struct slot s = slots[pick((unsigned)n)];
    if (m == 1) {
        json_object_del(s.parent, s.key);
        note(r, "dropped_field");
    } else if (m == 2 && id_kind(s.key) != NULL) {
        swap_foreign(w, r, &s);
    } else {
        char what[32];
        json_object_set_new(s.parent, s.key, odd_value(w, r, &s, what, sizeof(what)));
        note(r, what);
    }
}

/* --- mutations of the body's bytes --- */

static void body_set(struct fuzz_request *r, char *text, size_t len)
{
    free(r->body);
    r->body = text;
    r->body_len = len;
}

static const char *const odd_documents[] = {
    "", "[]", "null", "\"x\"", "{", "}", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "1e999999", "[1,2,3]",
    "{\"a\":18446744073709551616}", "{\"a\":1e400}", "{\"a\":-0.0}", "\xef\xbb\xbf{}", "{'a':1}",
    "{\"\\ud800\":1}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\u0000\"}", "{\"\\u0000\":1}", "{}{}", "   ", "{\"a\":1} x",
};

static void mutate_bytes(struct fuzz_request *r)
{
    unsigned m = pick(8);
    size_t len = r->body_len;
    char *b = r->body;
    if (m == 0 || b == NULL) {
        const char *d = odd_documents[pick(sizeof(odd_documents) / sizeof(odd_documents[0]))];
        body_set(r, strdup(d), strlen(d));
        note(r, "odd_document");
    } else if (m == 1 && len > 2) {
        char *q = memchr(b, '"', len);
        if (q != NULL && q + 1 < b + len) /* bad UTF-8 inside the first string */
            q[1] = (char)(pick(2) ? 0xff : 0xc3);
        note(r, "bad_utf8");
    } else if (m == 2 && len > 3 && b[0] == '{' && b[1] == '"' && strchr(b + 2, '"') != NULL) {
        int key_len = (int)(strchr(b + 2, '"') - b); /* the first key, sent twice */
        size_t cap = len + (size_t)key_len + 16;
        char *t = malloc(cap);
        snprintf(t, cap, "{%.*s:\"dup\",%s", key_len, b + 1, b + 1);
        body_set(r, t, strlen(t));
        note(r, "duplicate_key");
    } else if (m == 3) {
        size_t depth = chance(50) ? 70 : 100000;
        char *t = malloc(2 * depth + 2);
        memset(t, '[', depth);
        memset(t + depth, ']', depth);
        t[2 * depth] = '\0';
        body_set(r, t, 2 * depth);
        note(r, "deep_document");
    } else if (m == 4 && len > 1) {
        b[len / 2] = '\0';
        r->body_len = len / 2;
        note(r, "truncated");
    } else if (m == 5) {
        size_t n = chance(3) ? (size_t)5 * 1024 * 1024 : 70 * 1024; /* past every limit / past the ordinary one */
        char *t = repeat(' ', n);
        t[0] = '{';
        t[n - 1] = '}';
        body_set(r, t, n);
        note(r, n > 4 * 1024 * 1024 ? "body_5MiB" : "body_70KiB");
    } else if (m == 6) {
        json_t *many = json_object();
        for (int i = 0; i < 2000; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", i);
            json_object_set_new(many, key, json_integer(i));
        }
        char *t = json_dumps(many, JSON_COMPACT);
        json_decref(many);
        body_set(r, t, strlen(t));
        note(r, "2000_keys");
    } else {
        note(r, "valid_bytes");
    }
}

/* --- path, query and headers --- */

static const char *const odd_ids[] = {
    "x", "%00", "..", "%2e%2e", "cus_", "ord_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", "ord_0000000000000000000000000000000G",
    "%ff%fe", "a%20b", "\xc3\xa9", "ord_00000000000000000000000000000000", "-1", "0", "%", "%zz", "null",
    "ORD_00000000000000000000000000000000", "ord_000000000000000000000000000000000",
};

static void path_id(struct fuzz_world *w, struct fuzz_request *r, const char *kind, char *out, size_t cap)
{
    unsigned m = pick(100);
    const struct fuzz_owned *o = NULL;
    if (m < 65)
        o = fuzz_world_pick_owned(w, kind, acting_owner(r->principal), pick(4));
    else if (m < 85)
        o = fuzz_world_pick_owned(w, kind, other_side_owner(r->principal), pick(4));
    else if (m < 90)
        o = &w->owned[pick((unsigned)w->owned_count)]; /* any kind: a wallet's id where an order's goes */
    if (o != NULL && strcmp(o->kind, "secret") != 0 && strcmp(o->kind, "reference") != 0) {
        r->path_owned = o;
        snprintf(out, cap, "%s", o->value);
        return;
    }
    if (chance(5)) {
        char *s = repeat('a', 3000);
        snprintf(out, cap, "%s", s);
        free(s);
    } else {
        snprintf(out, cap, "%s", odd_ids[pick(sizeof(odd_ids) / sizeof(odd_ids[0]))]);
    }
    note(r, "odd_path_id");
}

static const char *const odd_queries[] = {
    "?limit=-1", "?limit=99999999999", "?cursor=garbage", "?limit=1&limit=2", "?limit=", "?limit=1e3",
    "?cursor=%zz", "?%00=1", "?limit=0", "?cursor=" "wal_00000000000000000000000000000000", "?customer_id=x",
    "?format=text&amount=-1", "?format=png&amount=99999999999999999999", "?tip=1&fee=abc&fee_percent=100",
    "?biller_id=&reference=", "?reference=%ff", "?a=b&a=c&a=d", "?&&&", "?limit=1;cursor=2",
};

static void path_make(struct fuzz_world *w, struct fuzz_request *r, bool mutate)
{
    char path[8192] = "", id[4096];
    const char *p = r->route->pattern;
    while (*p) {
        const char *open = strchr(p, '{');
        if (open == NULL) {
            strncat(path, p, sizeof(path) - strlen(path) - 1);
            break;
        }
        char kind[64]; /* the collection: the pattern up to the parameter */
        snprintf(kind, sizeof(kind), "%.*s", (int)(open - r->route->pattern), r->route->pattern);
        strncat(path, p, (size_t)(open - p));
        path_id(w, r, kind, id, sizeof(id));
        strncat(path, id, sizeof(path) - strlen(path) - 1);
        p = strchr(open, '}') + 1;
    }
    if (mutate && chance(3)) {
        static const char *const odd_ends[] = {"/", "//", "/..", "/.", "%2f", "/x", ";x", "#x"};
        strncat(path, odd_ends[pick(sizeof(odd_ends) / sizeof(odd_ends[0]))], sizeof(path) - strlen(path) - 1);
        note(r, "odd_path_end");
    }
    if (chance(strcmp(r->route->method, "GET") == 0 ? 35 : 8)) {
        const char *q = odd_queries[pick(sizeof(odd_queries) / sizeof(odd_queries[0]))];
        strncat(path, q, sizeof(path) - strlen(path) - 1);
        note(r, "odd_query");
    }
    r->path = strdup(path);
}

static void header_add(struct fuzz_request *r, const char *name, const char *value)
{
    if (r->header_count == FUZZ_HEADERS_MAX)
        return;
    size_t n = strlen(name) + strlen(value) + 3;
    char *h = malloc(n);
    snprintf(h, n, "%s: %s", name, value);
    r->headers[r->header_count++] = h;
}

static char last_key[64] = "fuzz-key-first";

static void idempotency_make(struct fuzz_request *r)
{
    unsigned m = pick(100);
    bool write = strcmp(r->route->method, "GET") != 0;
    if (m >= (write ? 30u : 6u))
        return;
    r->idempotency_key = true;
    if (m < 3) {
        header_add(r, "Idempotency-Key", "");
        note(r, "idem_empty");
    } else if (m < 5) {
        char *s = repeat('k', 10000);
        header_add(r, "Idempotency-Key", s);
        free(s);
        note(r, "idem_10k");
    } else if (m < 7) {
        header_add(r, "Idempotency-Key", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-\xc3\xa9");
        note(r, "idem_non_ascii");
    } else if (m < 12) {
        header_add(r, "Idempotency-Key", last_key); /* the key again, with this (another) body */
        note(r, "idem_reused");
    } else {
        snprintf(last_key, sizeof(last_key), "fuzz-%016llx", (unsigned long long)fuzz_rand());
        header_add(r, "Idempotency-Key", last_key);
        note(r, "idem");
    }
}

static const char *const odd_types[] = {
    "Content-Type: text/plain", "Content-Type: application/json; charset=utf-16", "Content-Type:",
    "Content-Type: application/x-www-form-urlencoded", "Content-Type: multipart/form-data; boundary=x",
    "Content-Type: APPLICATION/JSON", "Content-Type: application/json, text/plain", "Content-Type: application/jsonx",
    "Content-Type: application/json; charset=\xff",
};

static const char *const odd_auth[] = {
    "Authorization: Bearer ", "Authorization: Bearer x", "Authorization: Basic Zm9vOmJhcg==", "Authorization:",
    "Authorization: Bearer ak_0000000000000000000000000000000000000000000000000000000000000000",
    "Authorization: bearer \xff\xfe", "Authorization: Bearer mk_\t1",
};

static void headers_make(struct fuzz_request *r, bool mutate)
{
    if (!mutate)
        return;
    idempotency_make(r);
    if (chance(10)) {
        r->headers[r->header_count++] = strdup(odd_types[pick(sizeof(odd_types) / sizeof(odd_types[0]))]);
        note(r, "odd_content_type");
    }
    if (chance(r->principal == P_NONE ? 25 : 3)) {
        r->headers[r->header_count++] = strdup(odd_auth[pick(sizeof(odd_auth) / sizeof(odd_auth[0]))]);
        note(r, "odd_authorization");
    }
    if (chance(2)) {
        char *s = repeat('h', 10000);
        header_add(r, "X-Fuzz", s);
        free(s);
        note(r, "header_10k");
    }
}

void fuzz_request_make(struct fuzz_world *w, const struct mopay_route *route, int principal, bool mutate,
                       struct fuzz_request *out)
{
    memset(out, 0, sizeof(*out));
    out->route = route;
    out->principal = principal;
    snprintf(out->method, sizeof(out->method), "%s", route->method);
    path_make(w, out, mutate);
    if (mutate && chance(3)) {
        static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "BREW"};
        snprintf(out->method, sizeof(out->method), "%s", methods[pick(sizeof(methods) / sizeof(methods[0]))]);
        note(out, "other_method");
    }
    headers_make(out, mutate);
    bool with_body = route->body != NULL || (mutate && chance(10));
    if (with_body) {
        json_t *body = object_from_spec(w, out, route->body, "", acting_owner(principal), mutate);
        if (strcmp(route->name, "sessions_create") == 0 && chance(60)) { /* signed right, so that it can succeed */
            char text[1024];
            session_body(&w->customer[fuzz_side(acting_owner(principal))], w->clock_s, "123456", text, sizeof(text));
            json_decref(body);
            body = json_loads(text, 0, NULL);
            out->body_owned_count = 0;
            out->signed_by_owner = true;
        }
        if (mutate && chance(50))
            mutate_object(w, out, body);
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        body_set(out, text, strlen(text));
        if (mutate && chance(12))
            mutate_bytes(out);
    }
    if (out->what[0] == '\0')
        snprintf(out->what, sizeof(out->what), "valid");
}

void fuzz_request_free(struct fuzz_request *r)
{
    free(r->path);
    free(r->body);
    for (size_t i = 0; i < r->header_count; i++)
        free(r->headers[i]);
    memset(r, 0, sizeof(*r));
}
