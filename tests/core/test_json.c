/* Declarative JSON field specs: every kind, every refusal, and the JSON pointer it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/json.h"

struct device_req {
    struct mopay_str phone;
    int64_t count;
    bool verified, verified_given;
    struct mopay_str public_key;
    struct mopay_str device_name;
    json_t *tags;
};

static const struct mopay_json_field device_fields[] = {
    {.name = "public_key", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct device_req, public_key),
     .min_len = 4, .max_len = 8},
    {.name = "name", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct device_req, device_name), .max_len = 16},
    {0},
};

static const struct mopay_json_field spec[] = {
    {.name = "phone", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct device_req, phone),
     .min_len = 1, .max_len = 16},
    {.name = "count", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct device_req, count), .min = 1, .max = 10},
    {.name = "verified", .kind = MOPAY_JSON_BOOL, .offset = offsetof(struct device_req, verified),
     .present = MOPAY_JSON_PRESENT(struct device_req, verified_given)},
    {.name = "device", .kind = MOPAY_JSON_OBJECT, .required = true, .fields = device_fields},
    {.name = "tags", .kind = MOPAY_JSON_ARRAY, .offset = offsetof(struct device_req, tags), .max_len = 2},
    {0},
};

/* Reads `text` against the spec; returns the error code (MOPAY_OK on success). */
static enum mopay_err read(const char *text, struct device_req *out, struct mopay_json_error *e)
{
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    memset(out, 0, sizeof(*out));
    bool ok = mopay_json_read(j, spec, out, e);
    json_decref(j);
    assert_true(ok == (e->code == MOPAY_OK));
    return e->code;
}

static void reads_every_kind(void **state)
{
    (void)state;
    struct device_req r;
    struct mopay_json_error e;
    json_t *j = json_loads("{\"phone\":\"+8613800000000\",\"count\":3,\"verified\":false,"
                           "\"device\":{\"public_key\":\"abcdef\",\"name\":\"pixel\"},\"tags\":[1,2]}",
                           0, NULL);
    memset(&r, 0, sizeof(r));
    assert_true(mopay_json_read(j, spec, &r, &e));
    assert_string_equal(r.phone.ptr, "+8613800000000");
    assert_int_equal(r.phone.len, 14);
    assert_int_equal(r.count, 3);
    assert_false(r.verified);
    assert_true(r.verified_given);
    assert_string_equal(r.public_key.ptr, "abcdef");
    assert_string_equal(r.device_name.ptr, "pixel");
    assert_int_equal(json_array_size(r.tags), 2);
    json_decref(j);
    /* optional fields left out: untouched, and the flag says so */
    assert_int_equal(read("{\"phone\":\"1\",\"device\":{\"public_key\":\"abcd\"}}", &r, &e), MOPAY_OK);
    assert_false(r.verified_given);
    assert_null(r.device_name.ptr);
    assert_int_equal(r.count, 0);
}

static void refusals_name_the_field(void **state)
{
    (void)state;
    struct device_req r;
    struct mopay_json_error e;
    const struct {
        const char *text;
        enum mopay_err code;
        const char *pointer;
    } cases[] = {
        {"{\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_missing, "/phone"},
        {"{\"phone\":\"1\"}", MOPAY_ERR_field_missing, "/device"},
        {"{\"phone\":\"1\",\"device\":{}}", MOPAY_ERR_field_missing, "/device/public_key"},
        {"{\"phone\":1,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_wrong_type, "/phone"},
        {"{\"phone\":\"1\",\"count\":\"3\",\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_wrong_type, "/count"},
        {"{\"phone\":\"1\",\"count\":1.5,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_wrong_type, "/count"},
        {"{\"phone\":\"1\",\"verified\":0,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_wrong_type,
         "/verified"},
        {"{\"phone\":\"1\",\"device\":[]}", MOPAY_ERR_field_wrong_type, "/device"},
        {"{\"phone\":\"1\",\"device\":{\"public_key\":7}}", MOPAY_ERR_field_wrong_type, "/device/public_key"},
        {"{\"phone\":\"\",\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_invalid, "/phone"},
        {"{\"phone\":\"12345678901234567\",\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_invalid, "/phone"},
        {"{\"phone\":\"1\",\"count\":0,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_invalid, "/count"},
        {"{\"phone\":\"1\",\"count\":11,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_invalid, "/count"},
        {"{\"phone\":\"1\",\"device\":{\"public_key\":\"abc\"}}", MOPAY_ERR_field_invalid, "/device/public_key"},
        {"{\"phone\":\"1\",\"tags\":[1,2,3],\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_invalid, "/tags"},
        {"{\"phone\":\"1\",\"extra\":1,\"device\":{\"public_key\":\"abcd\"}}", MOPAY_ERR_field_unknown, "/extra"},
        {"{\"phone\":\"1\",\"device\":{\"public_key\":\"abcd\",\"a/b\":1}}", MOPAY_ERR_field_unknown,
         "/device/a~1b"},
        {"{\"phone\":\"1\",\"device\":{\"public_key\":\"abcd\"},\"~x\":1}", MOPAY_ERR_field_unknown, "/~0x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum mopay_err got = read(cases[i].text, &r, &e);
        if (got != cases[i].code || strcmp(e.pointer, cases[i].pointer) != 0)
            print_error("case %zu: %s -> %s %s\n", i, cases[i].text, mopay_err_code(got), e.pointer);
        assert_int_equal(got, cases[i].code);
        assert_string_equal(e.pointer, cases[i].pointer);
        assert_true(e.detail[0] != '\0');
    }
    json_t *array = json_loads("[1]", 0, NULL);
    assert_false(mopay_json_read(array, spec, &r, &e));
    assert_int_equal(e.code, MOPAY_ERR_field_wrong_type);
    assert_string_equal(e.pointer, "");
    json_decref(array);
}

static void long_pointers_are_cut_not_overrun(void **state)
{
    (void)state;
    char text[1200];
    char name[600];
    memset(name, 'k', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text), "{\"%s\":1}", name);
    struct device_req r;
    struct mopay_json_error e;
    assert_int_equal(read(text, &r, &e), MOPAY_ERR_field_unknown);
    assert_true(strlen(e.pointer) < sizeof(e.pointer));
    assert_memory_equal(e.pointer, "/kkk", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_kind),
        cmocka_unit_test(refusals_name_the_field),
        cmocka_unit_test(long_pointers_are_cut_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
