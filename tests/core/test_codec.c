/* The record codec: round trips of every field type, what an older (shorter) image decodes to,
 * and every way a damaged image is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/codec.h"
#include "mopay/money.h"

struct target {
    struct mopay_id id;
    int tag;
};

struct sample {
    struct mopay_id id;
    int64_t amount;
    int status;
    int8_t small;
    uint32_t count;
    uint64_t big;
    bool flag;
    uint8_t hash[8];
    struct mopay_id other;
    struct target *target;
    char name[8];
    uint16_t currency; /* CUSTOM: written as three letters */
};

static struct target targets[2];

static void *resolve(void *state, const struct mopay_id *id)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        if (memcmp(&targets[i].id, id, sizeof(*id)) == 0)
            return &targets[i];
    return NULL;
}

static size_t currency_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    (void)state;
    const struct sample *s = record;
    if (cap < 3 || s->currency == 0)
        return SIZE_MAX;
    memcpy(out, s->currency == 840 ? "USD" : "CNY", 3);
    return 3;
}

static bool currency_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    (void)state;
    struct sample *s = record;
    if (len != 3)
        return false;
    s->currency = memcmp(in, "USD", 3) == 0 ? 840 : memcmp(in, "CNY", 3) == 0 ? 156 : 0;
    return s->currency != 0;
}

static const struct mopay_codec_custom currency_codec = {currency_encode, currency_decode, 3};

static enum mopay_err sample_apply(void *state, const void *image, char *why, size_t why_cap)
{
    (void)state, (void)image, (void)why, (void)why_cap;
    return MOPAY_OK;
}

static void sample_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    (void)state, (void)fn, (void)ctx;
}

#define S struct sample
static const struct mopay_codec_field sample_fields[] = {
    MOPAY_CODEC_ID_FIELD(S, id),           MOPAY_CODEC_INT_FIELD(S, amount),   MOPAY_CODEC_INT_FIELD(S, status),
    MOPAY_CODEC_INT_FIELD(S, small),       MOPAY_CODEC_UINT_FIELD(S, count),   MOPAY_CODEC_UINT_FIELD(S, big),
    MOPAY_CODEC_BOOL_FIELD(S, flag),       MOPAY_CODEC_BYTES_FIELD(S, hash),   MOPAY_CODEC_ID_FIELD(S, other),
    MOPAY_CODEC_REF_FIELD(S, target, resolve), MOPAY_CODEC_TEXT_FIELD(S, name),
    MOPAY_CODEC_CUSTOM_FIELD(S, currency, &currency_codec),
};
#undef S

static const struct mopay_record_kind sample_kind = {
    .name = "sample",
    .tag = 7,
    .version = 1,
    .size = sizeof(struct sample),
    .fields = sample_fields,
    .field_count = sizeof(sample_fields) / sizeof(sample_fields[0]),
    .apply = sample_apply,
    .each = sample_each,
};

static struct sample sample_make(void)
{
    struct sample s;
    memset(&s, 0, sizeof(s));
    memset(s.id.bytes, 0x11, 16);
    s.amount = -1234567890123LL;
    s.status = 2;
    s.small = -128;
    s.count = UINT32_MAX;
    s.big = UINT64_MAX;
    s.flag = true;
    memcpy(s.hash, "abcdefgh", 8);
    s.target = &targets[1];
    strcpy(s.name, "noodle");
    s.currency = 840;
    return s;
}

static size_t encode(const struct sample *s, uint8_t *out, size_t cap)
{
    return mopay_codec_encode(&sample_kind, NULL, 0, s, out, cap);
}

/* Decodes a whole image; false when refused. */
static bool decode(const uint8_t *image, size_t len, struct sample *out, char *why, size_t why_cap)
{
    struct mopay_codec_header h;
    size_t n = mopay_codec_header_read(image, len, &h);
    if (n == 0) {
        strcpy(why, "header");
        return false;
    }
    assert_int_equal(h.tag, 7);
    assert_int_equal(h.version, 1);
    return mopay_codec_decode(&sample_kind, NULL, image + n, h.payload_len, out, why, why_cap);
}

static void setup_targets(void)
{
    memset(targets, 0, sizeof(targets));
    memset(targets[0].id.bytes, 0xa0, 16);
    memset(targets[1].id.bytes, 0xb1, 16);
}

static void round_trip(void **state)
{
    (void)state;
    setup_targets();
    char why[200];
    assert_true(mopay_codec_kind_valid(&sample_kind, why, sizeof(why)));
    struct sample in = sample_make(), out;
    uint8_t image[512];
    assert_true(mopay_codec_image_max(&sample_kind) <= sizeof(image));
    size_t len = encode(&in, image, sizeof(image));
    assert_true(len > 0 && len < 120);
    assert_true(decode(image, len, &out, why, sizeof(why)));
    assert_memory_equal(&in.id, &out.id, 16);
    assert_int_equal(out.amount, in.amount);
    assert_int_equal(out.status, 2);
    assert_int_equal(out.small, -128);
    assert_int_equal(out.count, UINT32_MAX);
    assert_true(out.big == UINT64_MAX);
    assert_true(out.flag);
    assert_memory_equal(out.hash, "abcdefgh", 8);
    assert_true(out.target == &targets[1]);
    assert_string_equal(out.name, "noodle");
    assert_int_equal(out.currency, 840);
    static const struct mopay_id zero;
    assert_memory_equal(&out.other, &zero, 16);

    /* a NULL reference and an empty text */
    in.target = NULL;
    in.name[0] = '\0';
    len = encode(&in, image, sizeof(image));
    assert_true(decode(image, len, &out, why, sizeof(why)));
    assert_null(out.target);
    assert_string_equal(out.name, "");

    /* copy moves the table's fields and nothing else */
    struct sample a = sample_make(), b;
    memset(&b, 0x5a, sizeof(b));
    mopay_codec_copy(&sample_kind, &b, &a);
    assert_int_equal(b.amount, a.amount);
    assert_string_equal(b.name, a.name);
}

/* An image written before later fields existed decodes with them zero. */
static void older_images_leave_new_fields_zero(void **state)
{
    (void)state;
    setup_targets();
    struct sample in = sample_make(), out;
    struct mopay_record_kind older = sample_kind;
    older.field_count = 3; /* id, amount, status */
    uint8_t image[512];
    size_t len = mopay_codec_encode(&older, NULL, 0, &in, image, sizeof(image));
    char why[200];
    assert_true(decode(image, len, &out, why, sizeof(why)));
    assert_int_equal(out.amount, in.amount);
    assert_int_equal(out.count, 0);
    assert_null(out.target);
    assert_int_equal(out.currency, 0);
}

static void damaged_images_are_refused(void **state)
{
    (void)state;
    setup_targets();
    struct sample in = sample_make(), out;
    uint8_t image[512];
    char why[200];
    size_t len = encode(&in, image, sizeof(image));

    /* cut anywhere inside the payload: the header says more than there is */
    for (size_t cut = 1; cut < len; cut++) {
        struct mopay_codec_header h;
        assert_int_equal(mopay_codec_header_read(image, cut, &h), 0);
    }
    /* a reference to a record that is not there */
    struct target stranger;
    memset(&stranger, 0, sizeof(stranger));
    memset(stranger.id.bytes, 0xcc, 16);
    in.target = &stranger;
    len = encode(&in, image, sizeof(image));
    assert_false(decode(image, len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "target"));

    /* a value too large for its field */
    struct sample wide = sample_make();
    struct mopay_record_kind retyped = sample_kind;
    struct mopay_codec_field fields[sizeof(sample_fields) / sizeof(sample_fields[0])];
    memcpy(fields, sample_fields, sizeof(fields));
    fields[3] = (struct mopay_codec_field)MOPAY_CODEC_INT_FIELD(struct sample, amount); /* where small goes */
    retyped.fields = fields;
    wide.amount = 1000;
    len = mopay_codec_encode(&retyped, NULL, 0, &wide, image, sizeof(image));
    assert_false(decode(image, len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "small"));

    /* a BOOL that is not 0 or 1, text with NUL in it, bytes after the last field */
    struct sample good = sample_make();
    len = encode(&good, image, sizeof(image));
    struct mopay_codec_header h;
    size_t head = mopay_codec_header_read(image, len, &h);
    uint8_t *payload = image + head;
    size_t flag_at = 0;
    /* find the flag: 17 (id) + amount varint + status + small + count + big */
    uint64_t v;
    flag_at = 17;
    for (int i = 0; i < 5; i++)
        flag_at += mopay_codec_varint_get(payload + flag_at, h.payload_len - flag_at, &v);
    assert_int_equal(payload[flag_at], 1);
    payload[flag_at] = 2;
    assert_false(mopay_codec_decode(&sample_kind, NULL, payload, h.payload_len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "flag"));
    payload[flag_at] = 1;
    size_t name_at = flag_at + 1 + 8 + 1 + 17 + 1; /* flag, hash, other (zero), target, name's length */
    assert_int_equal(payload[name_at], 'n');
    payload[name_at + 2] = 0;
    assert_false(mopay_codec_decode(&sample_kind, NULL, payload, h.payload_len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "name"));
    payload[name_at + 2] = 'o';
    assert_true(mopay_codec_decode(&sample_kind, NULL, payload, h.payload_len, &out, why, sizeof(why)));
    payload[h.payload_len] = 0;
    assert_false(mopay_codec_decode(&sample_kind, NULL, payload, h.payload_len + 1, &out, why, sizeof(why)));

    /* a CUSTOM field its decode refuses, and one that cannot encode */
    size_t cur_at = h.payload_len - 3;
    memcpy(payload + cur_at, "EUR", 3);
    assert_false(mopay_codec_decode(&sample_kind, NULL, payload, h.payload_len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "currency"));
    good.currency = 0;
    assert_int_equal(encode(&good, image, sizeof(image)), 0);
}

struct priced {
    struct mopay_id id;
    const struct mopay_currency *currency;
};

static const struct mopay_codec_field priced_fields[] = {
    MOPAY_CODEC_ID_FIELD(struct priced, id),
    MOPAY_CODEC_CURRENCY_FIELD(struct priced, currency),
};

/* A currency is its three letters; one missing cannot be written, one unknown cannot be read. */
static void currencies(void **state)
{
    (void)state;
    struct mopay_record_kind k = sample_kind;
    k.size = sizeof(struct priced);
    k.fields = priced_fields;
    k.field_count = 2;
    char why[200];
    assert_true(mopay_codec_kind_valid(&k, why, sizeof(why)));
    struct priced in = {.currency = mopay_currency_by_alpha("KRW", 3)}, out;
    assert_non_null(in.currency);
    memset(in.id.bytes, 0x42, 16);
    uint8_t image[128];
    size_t len = mopay_codec_encode(&k, NULL, 0, &in, image, sizeof(image));
    assert_true(len > 0);
    struct mopay_codec_header h;
    size_t n = mopay_codec_header_read(image, len, &h);
    assert_true(n > 0 && h.payload_len == 17 + 4);
    assert_memory_equal(image + n + 17, "\003KRW", 4);
    assert_true(mopay_codec_decode(&k, NULL, image + n, h.payload_len, &out, why, sizeof(why)));
    assert_ptr_equal(out.currency, in.currency);
    memcpy(image + n + 18, "XXX", 3);
    assert_false(mopay_codec_decode(&k, NULL, image + n, h.payload_len, &out, why, sizeof(why)));
    assert_non_null(strstr(why, "currency"));
    in.currency = NULL;
    assert_int_equal(mopay_codec_encode(&k, NULL, 0, &in, image, sizeof(image)), 0);
}

static void varints(void **state)
{
    (void)state;
    uint8_t buf[10];
    uint64_t values[] = {0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        size_t n = mopay_codec_varint_put(buf, values[i]);
        uint64_t back = 0;
        assert_int_equal(mopay_codec_varint_get(buf, n, &back), n);
        assert_true(back == values[i]);
        if (n > 1)
            assert_int_equal(mopay_codec_varint_get(buf, n - 1, &back), 0);
    }
    uint8_t too_long[11];
    memset(too_long, 0xff, sizeof(too_long));
    uint64_t out;
    assert_int_equal(mopay_codec_varint_get(too_long, sizeof(too_long), &out), 0);
}

static void bad_tables_are_found(void **state)
{
    (void)state;
    char why[200];
    struct mopay_codec_field fields[1] = {MOPAY_CODEC_BOOL_FIELD(struct sample, amount)};
    struct mopay_record_kind k = sample_kind;
    k.fields = fields;
    k.field_count = 1;
    assert_false(mopay_codec_kind_valid(&k, why, sizeof(why)));
    fields[0] = (struct mopay_codec_field)MOPAY_CODEC_REF_FIELD(struct sample, target, NULL);
    assert_false(mopay_codec_kind_valid(&k, why, sizeof(why)));
    fields[0] = (struct mopay_codec_field)MOPAY_CODEC_INT_FIELD(struct sample, other);
    assert_false(mopay_codec_kind_valid(&k, why, sizeof(why)));
    assert_non_null(strstr(why, "other"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(older_images_leave_new_fields_zero),
        cmocka_unit_test(damaged_images_are_refused),
        cmocka_unit_test(currencies),
        cmocka_unit_test(varints),
        cmocka_unit_test(bad_tables_are_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
