/* Core: IDs, the clock and RFC 3339, the error registry, the arena, configuration, keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "mopay/arena.h"
#include "mopay/clock.h"
#include "mopay/config.h"
#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/keys.h"
#include "mopay/log.h"

static void id_roundtrip_and_order(void **state)
{
    (void)state;
    struct mopay_id a, b, parsed;
    char text[MOPAY_ID_TEXT_BYTES];
    mopay_id_new(1700000000000000000, &a);
    mopay_id_new(1700000000000000000, &b); /* same millisecond: still ordered */
    assert_true(memcmp(&a, &b, sizeof(a)) < 0);
    mopay_id_new(1600000000000000000, &b); /* clock stepped back: still ordered */
    assert_true(memcmp(&a, &b, sizeof(a)) < 0);
    size_t n = mopay_id_format(MOPAY_ID_PAYMENT, &a, text);
    assert_int_equal(n, 4 + 32);
    assert_memory_equal(text, "pay_", 4);
    assert_int_equal(mopay_id_parse(MOPAY_ID_PAYMENT, text, n, &parsed), MOPAY_OK);
    assert_memory_equal(&a, &parsed, sizeof(a));
    /* the first 12 hex digits are the milliseconds */
    assert_memory_equal(text + 4, "018bcfe56800", 12);
}

/* 4096 IDs in one millisecond: all distinct and increasing, and every one of the last 64 bits
 * is a fair coin across them (a counter or a fixed per-thread tag fails this by thousands). */
static void id_random_part_unpredictable(void **state)
{
    (void)state;
    enum { N = 4096 };
    static struct mopay_id ids[N];
    unsigned ones[64] = {0};
    for (size_t i = 0; i < N; i++) {
        mopay_id_new(1800000000000000000, &ids[i]);
        if (i > 0)
            assert_true(memcmp(&ids[i - 1], &ids[i], sizeof(ids[i])) < 0);
        assert_memory_equal(ids[i].bytes, ids[0].bytes, 6); /* the same millisecond */
        for (int b = 0; b < 64; b++)
            ones[b] += (ids[i].bytes[8 + b / 8] >> (b % 8)) & 1;
    }
    for (int b = 0; b < 64; b++) /* expected 2048, standard deviation 32 */
        assert_in_range(ones[b], 2048 - 320, 2048 + 320);
    /* no relation between neighbours' random parts: their difference is not constant */
    unsigned same_step = 0;
    for (size_t i = 2; i < N; i++) {
        uint64_t a = 0, b = 0, c = 0;
        for (int k = 0; k < 8; k++) {
            a = a << 8 | ids[i - 2].bytes[8 + k];
            b = b << 8 | ids[i - 1].bytes[8 + k];
            c = c << 8 | ids[i].bytes[8 + k];
        }
        same_step += (c - b == b - a);
    }
    assert_true(same_step < 4);
    /* a new millisecond after a run of 70,000 in one: still increasing, no duplicate */
    struct mopay_id prev = ids[N - 1], next;
    for (int i = 0; i < 70000; i++) {
        mopay_id_new(1800000000000000000, &next);
        assert_true(memcmp(&prev, &next, sizeof(next)) < 0);
        prev = next;
    }
    mopay_id_new(1800000000001000000, &next);
    assert_true(memcmp(&prev, &next, sizeof(next)) < 0);
}

static void id_parse_refusals(void **state)
{
    (void)state;
    struct mopay_id out;
    memset(&out, 0xab, sizeof(out));
    const char *bad[] = {"cus_0123456789abcdef0123456789abcdef", /* wrong prefix */
                         "pay_0123456789ABCDEF0123456789abcdef", /* uppercase */
                         "pay_0123456789abcdef0123456789abcde",  /* short */
                         "pay_0123456789abcdef0123456789abcdef0", "pay-0123456789abcdef0123456789abcdef",
                         "pay_0123456789abcdeg0123456789abcdef", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mopay_id_parse(MOPAY_ID_PAYMENT, bad[i], strlen(bad[i]), &out), MOPAY_ERR_id_invalid);
    for (size_t i = 0; i < sizeof(out.bytes); i++)
        assert_int_equal(out.bytes[i], 0xab);
    assert_string_equal(mopay_id_prefix(MOPAY_ID_CUSTOMER), "cus");
    assert_string_equal(mopay_id_prefix(MOPAY_ID_TAX_REFUND), "txr");
}

/* Issue 11, finding 9: a master-key file others may read is refused with the fix in the
 * message; MOPAY_MASTER_KEY leaves the environment once read. */
static void keys_file_private_env_removed(void **state)
{
    (void)state;
    char dir[] = "/tmp/mopay-keys-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/master.key", dir);
    unsetenv("MOPAY_MASTER_KEY");
    const struct mopay_keys *k = mopay_keys_load(path, err, sizeof(err)); /* made 0600 */
    assert_non_null(k);
    mopay_keys_free(k);
    const mode_t loose[] = {0640, 0604, 0620, 0602, 0644};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        err[0] = '\0';
        assert_null(mopay_keys_load(path, err, sizeof(err)));
        assert_non_null(strstr(err, "chmod 600"));
        assert_non_null(strstr(err, path));
    }
    assert_int_equal(chmod(path, 0400), 0); /* read-only to its owner is fine */
    k = mopay_keys_load(path, err, sizeof(err));
    assert_non_null(k);
    mopay_keys_free(k);
    unlink(path);
    rmdir(dir);

    setenv("MOPAY_MASTER_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    char *value = getenv("MOPAY_MASTER_KEY");
    k = mopay_keys_load("/nonexistent/master.key", err, sizeof(err));
    assert_non_null(k);
    assert_null(getenv("MOPAY_MASTER_KEY"));
    assert_null(strstr(value, "0001020304")); /* wiped where it lay, not only unlinked */
    mopay_keys_free(k);
}

/* Issue 11, finding 9: a seal bound to its row opens only there; one made before (no associated
 * data) still opens, and says so. */
static void keys_seal_bound_to_row(void **state)
{
    (void)state;
    uint8_t key[32], other_key[32];
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other_key, sizeof(other_key));
    const char *ad = "device/dev_0123456789abcdef0123456789abcdef/code_secret";
    uint8_t sealed[16 + MOPAY_SEAL_AD_OVERHEAD], plain[16 + MOPAY_SEAL_AD_OVERHEAD];
    size_t len = 0;
    bool legacy = true;
    mopay_keys_seal_ad(key, ad, "0123456789abcdef", 16, sealed);
    assert_int_equal(sealed[0], MOPAY_SEAL_VERSION_AD);
    assert_true(mopay_keys_open_ad(key, ad, sealed, sizeof(sealed), plain, &len, &legacy));
    assert_false(legacy);
    assert_int_equal(len, 16);
    assert_memory_equal(plain, "0123456789abcdef", 16);
    /* another row, another field, another key, a flipped bit: refused */
    const char *others[] = {"device/dev_0123456789abcdef0123456789abcdee/code_secret",
                            "device/dev_0123456789abcdef0123456789abcdef/other", "merchant/mch_x/webhook_secret"};
    for (size_t i = 0; i < 3; i++)
        assert_false(mopay_keys_open_ad(key, others[i], sealed, sizeof(sealed), plain, &len, &legacy));
    assert_false(mopay_keys_open_ad(other_key, ad, sealed, sizeof(sealed), plain, &len, &legacy));
    for (size_t i = 0; i < sizeof(sealed); i++) {
        sealed[i] ^= 0x40;
        assert_false(mopay_keys_open_ad(key, ad, sealed, sizeof(sealed), plain, &len, &legacy));
        sealed[i] ^= 0x40;
    }
    /* sealed before: opens for any row, and is flagged for re-sealing; whatever its first byte */
    uint8_t old[16 + MOPAY_SEAL_OVERHEAD];
    for (int i = 0; i < 600; i++) {
        mopay_keys_seal(key, "0123456789abcdef", 16, old);
        if (i >= 2 && old[0] != MOPAY_SEAL_VERSION_AD)
            continue;
        legacy = false;
        assert_true(mopay_keys_open_ad(key, ad, old, sizeof(old), plain, &len, &legacy));
        assert_true(legacy);
        assert_int_equal(len, 16);
        assert_memory_equal(plain, "0123456789abcdef", 16);
    }
}

/* Issue 11, finding 9: a request's arena is wiped when it is reset, so the next request's memory
 * holds nothing of the PIN or key the last one carried. */
static void arena_reset_wipes(void **state)
{
    (void)state;
    struct mopay_arena arena;
    mopay_arena_init(&arena);
    char *pin = mopay_arena_alloc(&arena, 64);
    assert_non_null(pin);
    memcpy(pin, "pin=123456;key=sk_live_secret", 30);
    mopay_arena_reset(&arena); /* the chunk is kept for the next request */
    char *next = mopay_arena_alloc(&arena, 64);
    assert_ptr_equal(next, pin);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(next[i], 0);
    mopay_arena_deinit(&arena);
}

static void clock_manual(void **state)
{
    (void)state;
    mopay_clock_set_ns(1000);
    assert_true(mopay_clock_is_manual());
    assert_int_equal(mopay_clock_now_ns(), 1000);
    mopay_clock_advance_ns(500);
    assert_int_equal(mopay_clock_now_ns(), 1500);
    mopay_clock_use_real();
    assert_false(mopay_clock_is_manual());
    assert_true(mopay_clock_now_ns() > 1700000000000000000);
}

static void time_format_parse(void **state)
{
    (void)state;
    char buf[MOPAY_TIME_TEXT_BYTES];
    int64_t ns;
    mopay_time_format(1794213000123000000, buf);
    assert_string_equal(buf, "2026-11-09T08:30:00.123Z");
    assert_int_equal(mopay_time_parse(buf, strlen(buf), &ns), MOPAY_OK);
    assert_int_equal(ns, 1794213000123000000);
    const char *with_offset = "2026-11-09T16:30:00.123+08:00";
    assert_int_equal(mopay_time_parse(with_offset, strlen(with_offset), &ns), MOPAY_OK);
    assert_int_equal(ns, 1794213000123000000);
    const char *leap = "2024-02-29T00:00:00Z";
    assert_int_equal(mopay_time_parse(leap, strlen(leap), &ns), MOPAY_OK);
    assert_int_equal(ns, 1709164800LL * 1000000000);
    const char *bad[] = {"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-08 07:10:00Z",
                         "2026-11-08T07:10:00", "2026-11-08T24:00:00Z", "2026-11-08T07:10:00.Z",
                         "2026-11-08T07:10:00Zjunk", "1969-12-31T23:59:59Z", "",
                         "2263-04-11T23:47:16.854Z", "2262-04-11T23:47:16.854775808Z", "9999-12-31T23:59:59Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mopay_time_parse(bad[i], strlen(bad[i]), &ns), MOPAY_ERR_field_invalid);
}

static void err_registry_is_sound(void **state)
{
    (void)state;
    size_t n = mopay_err_count();
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        enum mopay_err e = mopay_err_at(i);
        int status = mopay_err_status(e);
        assert_true(status >= 400 && status <= 599);
        const char *code = mopay_err_code(e);
        for (const char *p = code; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        assert_int_equal(mopay_err_by_code(code), e);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(mopay_err_at(j), e);
            assert_string_not_equal(mopay_err_code(mopay_err_at(j)), code);
        }
    }
    assert_string_equal(mopay_err_code(MOPAY_ERR_idempotency_key_reused), "idempotency_key_reused");
    assert_int_equal(mopay_err_status(MOPAY_ERR_idempotency_key_reused), 409);
    assert_string_equal(mopay_err_code((enum mopay_err)99999), "unknown");
}

static void arena_alloc_reset(void **state)
{
    (void)state;
    struct mopay_arena a;
    mopay_arena_init(&a);
    char *p = mopay_arena_alloc(&a, 10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    char *big = mopay_arena_alloc(&a, 100000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 100000);
    assert_false(a.refused);
    assert_null(mopay_arena_alloc(&a, 64 * 1024 * 1024)); /* over the cap */
    assert_true(a.refused);
    mopay_arena_reset(&a);
    assert_false(a.refused);
    char *s = mopay_arena_strndup(&a, "hello", 3);
    assert_string_equal(s, "hel");
    /* jansson through the arena */
    mopay_arena_json_install();
    mopay_arena_json_use(&a);
    json_t *j = json_loads("{\"a\":[1,2,3],\"b\":\"x\"}", 0, NULL);
    mopay_arena_json_use(NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "a")), 3);
    json_decref(j); /* a no-op for arena blocks, must not crash */
    json_t *heap = json_string("on the heap");
    json_decref(heap);
    mopay_arena_deinit(&a);
}

static void config_layers(void **state)
{
    (void)state;
    char path[] = "/tmp/mopay-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# a comment\nlisten = 0.0.0.0:9000\nthreads = 3\ndb = sqlite:/tmp/from-file.db\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("MOPAY_DB", "sqlite:/tmp/from-env.db", 1);
    char a0[] = "serve", a1[] = "--config", a3[] = "--threads=5", a4[] = "extra";
    char *argv[] = {a0, a1, path, a3, a4};
    struct mopay_config cfg;
    int positional;
    bool help;
    char err[256];
    assert_true(mopay_config_load(&cfg, MOPAY_CONFIG_STORE | MOPAY_CONFIG_SERVER, 5, argv, &positional, &help, err,
                                  sizeof(err)));
    assert_false(help);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");         /* file over default */
    assert_string_equal(cfg.db, "sqlite:/tmp/from-env.db");  /* env over file */
    assert_int_equal(cfg.threads, 5);                        /* flag over file */
    assert_string_equal(cfg.master_key_file, "./data/master.key"); /* default */
    assert_false(cfg.check_invariants);
    assert_int_equal(positional, 1);
    assert_string_equal(argv[1], "extra");
    unsetenv("MOPAY_DB");

    char b0[] = "init", b1[] = "--listen", b2[] = "x:1";
    char *argv2[] = {b0, b1, b2};
    assert_false(mopay_config_load(&cfg, MOPAY_CONFIG_STORE, 3, argv2, &positional, &help, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown option"));
    char c1[] = "--threads", c2[] = "-4";
    char *argv3[] = {b0, c1, c2};
    assert_false(mopay_config_load(&cfg, MOPAY_CONFIG_SERVER, 3, argv3, &positional, &help, err, sizeof(err)));
    char e1[] = "--check-invariants", e2[] = "--ledger-accounts-max=7";
    char *argv5[] = {b0, e1, e2};
    assert_true(mopay_config_load(&cfg, MOPAY_CONFIG_STORE, 3, argv5, &positional, &help, err, sizeof(err)));
    assert_true(cfg.check_invariants);
    assert_int_equal(cfg.ledger_accounts_max, 7);
    char f1[] = "--check-invariants=maybe";
    char *argv6[] = {b0, f1};
    assert_false(mopay_config_load(&cfg, MOPAY_CONFIG_STORE, 2, argv6, &positional, &help, err, sizeof(err)));
    char d1[] = "--db";
    char *argv4[] = {b0, d1};
    assert_false(mopay_config_load(&cfg, MOPAY_CONFIG_STORE, 2, argv4, &positional, &help, err, sizeof(err)));
    assert_non_null(strstr(err, "needs a value"));
    unlink(path);
}

static void keys_file_hash_seal(void **state)
{
    (void)state;
    char dir[] = "/tmp/mopay-keys-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/sub/master.key", dir);
    char err[256];
    unsetenv("MOPAY_MASTER_KEY");
    const struct mopay_keys *k1 = mopay_keys_load(path, err, sizeof(err));
    assert_non_null(k1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const struct mopay_keys *k2 = mopay_keys_load(path, err, sizeof(err)); /* reads the same key */
    assert_non_null(k2);
    uint8_t h1[32], h2[32];
    mopay_keys_hash_secret(k1, "ak_secret", 9, h1);
    mopay_keys_hash_secret(k2, "ak_secret", 9, h2);
    assert_memory_equal(h1, h2, 32);
    mopay_keys_hash_secret(k1, "ak_secres", 9, h2);
    assert_memory_not_equal(h1, h2, 32);

    uint8_t sealed[5 + MOPAY_SEAL_OVERHEAD];
    char plain[6] = {0};
    mopay_keys_seal(k1->idem_seal, "hello", 5, sealed);
    assert_true(mopay_keys_open(k2->idem_seal, sealed, sizeof(sealed), plain));
    assert_string_equal(plain, "hello");
    sealed[sizeof(sealed) - 1] ^= 1;
    assert_false(mopay_keys_open(k2->idem_seal, sealed, sizeof(sealed), plain));

    setenv("MOPAY_MASTER_KEY", "not hex", 1);
    assert_null(mopay_keys_load(path, err, sizeof(err)));
    unsetenv("MOPAY_MASTER_KEY");
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    assert_null(mopay_keys_load(path, err, sizeof(err)));
    mopay_keys_free(k1);
    mopay_keys_free(k2);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

static void log_levels(void **state)
{
    (void)state;
    enum mopay_log_level level;
    assert_true(mopay_log_level_parse("warn", &level));
    assert_int_equal(level, MOPAY_LOG_WARN);
    assert_false(mopay_log_level_parse("loud", &level));
    mopay_log_set_level(MOPAY_LOG_WARN);
    assert_false(mopay_log_enabled(MOPAY_LOG_INFO));
    assert_true(mopay_log_enabled(MOPAY_LOG_ERROR));
    mopay_log_set_level(MOPAY_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_roundtrip_and_order),
        cmocka_unit_test(id_random_part_unpredictable), cmocka_unit_test(id_parse_refusals),
        cmocka_unit_test(clock_manual),           cmocka_unit_test(time_format_parse),
        cmocka_unit_test(err_registry_is_sound),  cmocka_unit_test(arena_alloc_reset),
        cmocka_unit_test(config_layers),          cmocka_unit_test(keys_file_hash_seal), cmocka_unit_test(keys_file_private_env_removed),
        cmocka_unit_test(keys_seal_bound_to_row), cmocka_unit_test(arena_reset_wipes),
        cmocka_unit_test(log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
