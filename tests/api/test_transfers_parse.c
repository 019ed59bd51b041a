/* api_transfers_parse against the jansson path (fuzz/fuzz_transfers.c's transfers_agree): valid
 * batches of several sizes, every field, escapes and Unicode, each kind of error at several
 * places, then seeded random mutations of valid bodies (byte flips, cuts, insertions, deletions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/ledger_service.h"
#include "transfers_parse.h"

bool transfers_agree(const char *s, size_t len, char *why, size_t why_cap);

static size_t cases;

static void agree(const char *s, size_t len)
{
    char why[1024];
    cases++;
    if (!transfers_agree(s, len, why, sizeof(why))) {
        fprintf(stderr, "disagreement on %zu bytes: '%.*s'\n  %s\n", len, len > 3000 ? 3000 : (int)len, s, why);
        fail();
    }
}

static void agree_str(const char *s)
{
    /* a heap copy of exactly the length, so ASan sees reads past it */
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    memcpy(copy, s, len);
    agree(len ? copy : NULL, len);
    free(copy);
}

static uint64_t rng_state = 0x7472616e73666572;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_add(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
}

static void hex32(char *out)
{
    for (int i = 0; i < 32; i++)
        out[i] = "0123456789abcdef"[rng_next() % 16];
    out[32] = '\0';
}

/* One realistic transfer; `variant` adds optional fields. */
static void transfer_add(struct buf *b, unsigned variant)
{
    char id[33], d[33], c[33];
    hex32(id), hex32(d), hex32(c);
    buf_add(b, "{\"id\":\"trn_%s\",\"debit_account_id\":\"acc_%s\",\"credit_account_id\":\"acc_%s\","
               "\"amount\":\"%u.%02u\",\"currency\":\"EUR\",\"code\":%u,\"user_data\":%llu",
            id, d, c, (unsigned)(rng_next() % 100000), (unsigned)(rng_next() % 100), (unsigned)(rng_next() % 65536),
            (unsigned long long)(rng_next() >> 1));
    if (variant % 3 == 1)
        buf_add(b, ",\"flags\":[\"pending\"],\"timeout_s\":%u", (unsigned)(rng_next() % 100000));
    if (variant % 5 == 2)
        buf_add(b, ",\"flags\":[\"linked\"],\"pending_id\":\"trn_%s\"", id);
    buf_add(b, "}");
}

static void batch_make(struct buf *b, size_t n)
{
    b->len = 0;
    buf_add(b, "{\"transfers\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_add(b, ",");
        transfer_add(b, (unsigned)i);
    }
    buf_add(b, "]}");
}

static void test_field_table(void **state)
{
    (void)state;
    static const char *const names[] = {"id", "debit_account_id", "credit_account_id", "amount", "currency",
                                        "pending_id", "flags", "code", "user_data", "timeout_s"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_string_equal(transfer_spec[i].name, names[i]);
    assert_null(transfer_spec[sizeof(names) / sizeof(names[0])].name);
}

static void test_batches(void **state)
{
    (void)state;
    struct buf b = {0};
    static const size_t sizes[] = {0, 1, 2, 3, 10, 100, 1000, 8189, 8190, 8191};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        batch_make(&b, sizes[i]);
        agree(b.p, b.len);
    }
    free(b.p);
}

static const char *const handmade[] = {
    "",
    " ",
    "{}",
    "[]",
    "[{}]",
    "null",
    "1",
    "\"x\"",
    "{\"transfers\":[]}",
    "{\"transfers\":{}}",
    "{\"transfers\":null}",
    "{\"transfers\":\"x\"}",
    "{\"transfers\":[{}]}",
    "{\"transfers\":[{}],}",
    "{\"transfers\":[{},]}",
    "{\"transfers\":[{}]} x",
    "{\"transfers\":[{}]}\n\t\r ",
    " \n{ \"transfers\" : [ { } , { \"code\" : 1 } ] } ",
    "{\"transfers\":[{}],\"x\":1}",
    "{\"x\":1,\"transfers\":[{}]}",
    "{\"x\":1,\"y\":2}",
    "{\"x\":1,\"x\":2}",
    "{\"transfers\":[{}],\"transfers\":[{}]}",
    "{\"transfers\":[1]}",
    "{\"transfers\":[{},[],\"a\",null]}",
    "{\"transfers\":[{\"id\":1}]}",
    "{\"transfers\":[{\"id\":\"x\",\"id\":\"y\"}]}",
    "{\"transfers\":[{\"zz\":1,\"zz\":2}]}",
    "{\"transfers\":[{\"zz\":1,\"zy\":2}]}",
    "{\"transfers\":[{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"a\":11}]}",
    "{\"transfers\":[{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11}]}",
    "{\"transfers\":[{\"x\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"i\":1}}]}",
    "{\"transfers\":[{\"code\":1.5}]}",
    "{\"transfers\":[{\"code\":1e3}]}",
    "{\"transfers\":[{\"code\":1E+3}]}",
    "{\"transfers\":[{\"code\":-0}]}",
    "{\"transfers\":[{\"code\":-1}]}",
    "{\"transfers\":[{\"code\":65535}]}",
    "{\"transfers\":[{\"code\":65536}]}",
    "{\"transfers\":[{\"code\":01}]}",
    "{\"transfers\":[{\"code\":-}]}",
    "{\"transfers\":[{\"code\":1.}]}",
    "{\"transfers\":[{\"code\":.1}]}",
    "{\"transfers\":[{\"code\":+1}]}",
    "{\"transfers\":[{\"code\":\"1\"}]}",
    "{\"transfers\":[{\"code\":true}]}",
    "{\"transfers\":[{\"user_data\":9223372036854775807}]}",
    "{\"transfers\":[{\"user_data\":9223372036854775808}]}",
    "{\"transfers\":[{\"user_data\":-9223372036854775808}]}",
    "{\"transfers\":[{\"user_data\":-9223372036854775809}]}",
    "{\"transfers\":[{\"user_data\":99999999999999999999999}]}",
    "{\"transfers\":[{\"x\":1e400}]}",
    "{\"transfers\":[{\"x\":-1e400}]}",
    "{\"transfers\":[{\"x\":1e-400}]}",
    "{\"transfers\":[{\"x\":1.7976931348623157e308}]}",
    "{\"transfers\":[{\"x\":1.7976931348623159e308}]}",
    "{\"transfers\":[{\"timeout_s\":4294967295}]}",
    "{\"transfers\":[{\"timeout_s\":4294967296}]}",
    "{\"transfers\":[{\"currency\":\"EU\"}]}",
    "{\"transfers\":[{\"currency\":\"EURO\"}]}",
    "{\"transfers\":[{\"currency\":\"\\u00e9u\"}]}",
    "{\"transfers\":[{\"currency\":\"\\u00e9\"}]}",
    "{\"transfers\":[{\"amount\":\"123456789012345678901234567890123\"}]}",
    "{\"transfers\":[{\"amount\":\"12345678901234567890123456789012\"}]}",
    "{\"transfers\":[{\"id\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}]}",
    "{\"transfers\":[{\"id\":\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"}]}",
    "{\"transfers\":[{\"id\":\"\\u0000\"}]}",
    "{\"transfers\":[{\"id\":\"\\ud83d\"}]}",
    "{\"transfers\":[{\"id\":\"\\ud83dx\"}]}",
    "{\"transfers\":[{\"id\":\"\\ud83d\\u0041\"}]}",
    "{\"transfers\":[{\"id\":\"\\ude00\"}]}",
    "{\"transfers\":[{\"id\":\"\\u12\"}]}",
    "{\"transfers\":[{\"id\":\"\\x\"}]}",
    "{\"transfers\":[{\"id\":\"a\tb\"}]}",
    "{\"transfers\":[{\"id\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}]}",
    "{\"transfers\":[{\"id\":\"\xc3\"}]}",
    "{\"transfers\":[{\"id\":\"\xc0\xaf\"}]}",
    "{\"transfers\":[{\"id\":\"\xed\xa0\x80\"}]}",
    "{\"transfers\":[{\"id\":\"\xf4\x90\x80\x80\"}]}",
    "{\"transfers\":[{\"id\":\"\xe0\x80\xaf\"}]}",
    "{\"transfers\":[{\"id\":\"\xff\"}]}",
    "{\"transfers\":[{\"\\u0069d\":\"x\",\"id\":\"y\"}]}",
    "{\"\\u0074ransfers\":[{}]}",
    "{\"transfers\":[{\"a/b~c\":1}]}",
    "{\"a/b~c\":1,\"transfers\":[{}]}",
    "{\"transfers\":[{\"\xc3\xa9\":1}]}",
    "{\"transfers\":[{\"flags\":[]}]}",
    "{\"transfers\":[{\"flags\":[\"a\",\"b\",\"c\",\"d\"]}]}",
    "{\"transfers\":[{\"flags\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
    "{\"transfers\":[{\"flags\":[1,null,{},[\"x\"]]}]}",
    "{\"transfers\":[{\"flags\":\"pending\"}]}",
    "{\"transfers\":[{\"flags\":[\"pending\"],\"flags\":[]}]}",
    "{\"transfers\":[{\"flags\":[{\"a\":1,\"a\":1}]}]}",
    "{\"transfers\":[{},{\"id\":1},{\"code\":-1}]}",
    "{\"transfers\":[{\"id\":1}],\"transfers\":1}",
    "{\"transfers\":[{\"id\":1},{\"a\":1,\"a\":2}]}",
    "{\"transfers\":[{\"id\":1}],\"x\":tru}",
    "{\"transfers\":[{\"id\":1}],\"x\":[true,false,null]}",
    "{\"transfers\":[{\"id\":1}],\"x\":truee}",
    "{\"transfers\":[{\"id\":1}],\"x\":nul}",
    "{\"transfers\":[{\"id\":1}]",
    "{\"transfers\":[{\"id\":1}]}}",
    "{\"transfers\":[{\"id\":1}]}]",
    "{\"transfers\":[[[[[[[[[[[[[[]]]]]]]]]]]]]]}",
    "{\"transfers\":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}",
    "{\"transfers\":[{\"x\":[[[[[[[[[[[[[]]]]]]]]]]]]]}]}",
    "{\"transfers\":[{\"x\":[[[[[[[[[[[[[[]]]]]]]]]]]]]]}]}",
    "{\"transfers\":[{\"x\":[[[[[[[[[[[[[[",
    "{\"transfers\":[{\"x\":[[[[[[[[[[[[[[[[",
    "]]]]{\"transfers\":[{\"x\":[[[[[[[[[[[[[[]]]]]]]]]]]]]]}]}",
    "{\"transfers\":[{\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[\"}]}",
    "{\"transfers\":[{\"x\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[\"}]}",
    "{\"transfers\":[{\"id\":\"abc",
    "{\"transfers\":[{\"id\":\"abc\\",
    "{\"transfers\":[{\"id\":\"abc\\u00",
    "{\"transfers\":[{\"code\":12",
    "{\"transfers\":[{\"code\":-",
    "{\"transfers\":[{\"code\":1e",
    "{\"transfers\" [{}]}",
    "{\"transfers\":[{}] \"x\":1}",
    "{transfers:[{}]}",
    "{\"transfers\":[{}]}\x00",
    "\xef\xbb\xbf{\"transfers\":[{}]}",
    "{\"transfers\":[{\"id\":\"x\"}]}/*c*/",
    "{\"transfers\":[NaN]}",
    "{\"transfers\":[Infinity]}",
    "{\"transfers\":[{\"code\":0x10}]}",
    "{\"transfers\":[{\"code\":1,\"code\":1}]}",
};

static void test_handmade(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(handmade) / sizeof(handmade[0]); i++)
        agree_str(handmade[i]);
    /* a raw NUL inside a string and after the document */
    static const char nul_in[] = "{\"transfers\":[{\"id\":\"a\0b\"}]}";
    agree(nul_in, sizeof(nul_in) - 1);
    static const char nul_after[] = "{\"transfers\":[{}]}\0";
    agree(nul_after, sizeof(nul_after) - 1);
    /* jansson loses one NUL right after a number or a literal (its lexer's put-back byte) */
    static const char nul_num[] = "{\"transfers\":[{\"code\":1\0,\"x\":true\0}]}";
    agree(nul_num, sizeof(nul_num) - 1);
    static const char nul_two[] = "{\"transfers\":[{\"code\":1\0\0}]}";
    agree(nul_two, sizeof(nul_two) - 1);
    static const char nul_real[] = "{\"transfers\":[{\"code\":1.5\0}]}";
    agree(nul_real, sizeof(nul_real) - 1);
}

/* Long keys and pointers: the cuts at MOPAY_JSON_POINTER_BYTES_MAX. */
static void test_long_keys(void **state)
{
    (void)state;
    struct buf b = {0};
    for (size_t n = 230; n < 270; n += 3) {
        for (int where = 0; where < 3; where++) {
            b.len = 0;
            buf_add(&b, where == 0 ? "{\"" : "{\"transfers\":[{},{\"");
            for (size_t i = 0; i < n; i++)
                buf_add(&b, "%c", i % 7 == 0 ? '/' : i % 11 == 0 ? '~' : 'k');
            buf_add(&b, where == 0 ? "\":1,\"transfers\":[{}]}" : where == 1 ? "\":1}]}" : "\":1,\"amount\":2}]}");
            if (where == 0 && n > 240)
                continue; /* the top level's detail is cut at 511 bytes by the HTTP layer, ours at 255 */
            agree(b.p, b.len);
        }
    }
    free(b.p);
}

/* Many keys in one nested object, with and without a duplicate: the sorted check. */
static void test_many_keys(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int dup = 0; dup < 2; dup++) {
        b.len = 0;
        buf_add(&b, "{\"transfers\":[{\"id\":\"x\",\"extra\":{");
        for (int i = 0; i < 50000; i++)
            buf_add(&b, "%s\"k%d\":%d", i ? "," : "", (i * 7919) % 50000, i);
        if (dup)
            buf_add(&b, ",\"k%d\":0", 12345);
        buf_add(&b, "}}]}");
        agree(b.p, b.len);
    }
    free(b.p);
}

static const char *const inserts[] = {"{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d", "0", "-",
                                      "1.5", "1e999", "99999999999999999999", "null", "true", " ", "\xc3", "\xff",
                                      "\"x\":1", "\"id\":\"y\"", "\"code\":7", "\"flags\":[]", "\x01"};

static void mutate(char *s, size_t *len, size_t cap)
{
    size_t n = *len;
    switch (rng_next() % 5) {
    case 0: /* flip a byte */
        if (n)
            s[rng_next() % n] ^= (char)(1u << (rng_next() % 8));
        break;
    case 1: /* set a byte to a JSON-significant one */
        if (n)
            s[rng_next() % n] = "{}[],:\"\\ 0-.eE"[rng_next() % 15];
        break;
    case 2: /* cut */
        *len = n ? rng_next() % n : 0;
        break;
    case 3: { /* insert */
        const char *ins = inserts[rng_next() % (sizeof(inserts) / sizeof(inserts[0]))];
        size_t k = strlen(ins), at = n ? rng_next() % (n + 1) : 0;
        if (n + k <= cap) {
            memmove(s + at + k, s + at, n - at);
            memcpy(s + at, ins, k);
            *len = n + k;
        }
        break;
    }
    default: /* delete a run */
        if (n) {
            size_t at = rng_next() % n, k = 1 + rng_next() % 4;
            if (at + k > n)
                k = n - at;
            memmove(s + at, s + at + k, n - at - k);
            *len = n - k;
        }
    }
}

static void test_mutations(void **state)
{
    (void)state;
    struct buf b = {0};
    size_t cap = 1 << 16;
    char *s = malloc(cap);
    for (int round = 0; round < 20000; round++) {
        batch_make(&b, 1 + rng_next() % 4);
        if (round % 4 == 0) /* mutate the handmade cases too */
            b.len = 0, buf_add(&b, "%s", handmade[rng_next() % (sizeof(handmade) / sizeof(handmade[0]))]);
        size_t len = b.len;
        memcpy(s, b.p, len);
        int edits = 1 + (int)(rng_next() % 3);
        for (int e = 0; e < edits; e++)
            mutate(s, &len, cap);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, s, len);
        agree(len ? copy : NULL, len);
        free(copy);
    }
    free(s);
    free(b.p);
    fprintf(stderr, "transfers_parse: %zu bodies compared\n", cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_table), cmocka_unit_test(test_batches),   cmocka_unit_test(test_handmade),
        cmocka_unit_test(test_long_keys),   cmocka_unit_test(test_many_keys), cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
