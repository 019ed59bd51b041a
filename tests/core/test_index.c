/* The hash index against a plain array model: random puts, replaces and removes, then every
 * key looked up. Backward-shift deletion is where such indexes break; this drives long probe
 * runs through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/index.h"

#define KEYS 5000

static void key_make(uint32_t n, uint8_t key[16])
{
    memset(key, 0, 16);
    memcpy(key, &n, sizeof(n)); /* sequential keys, like time-ordered IDs */
}

static void index_matches_model(void **state)
{
    (void)state;
    static uintptr_t model[KEYS];
    memset(model, 0, sizeof(model));
    struct mopay_index ix;
    assert_true(mopay_index_init(&ix, 4));
    srand(7);
    size_t live = 0;
    for (int round = 0; round < 200000; round++) {
        uint32_t n = (uint32_t)rand() % KEYS;
        uint8_t key[16];
        key_make(n, key);
        if (rand() % 3 == 0) {
            void *removed = mopay_index_remove(&ix, key);
            assert_ptr_equal(removed, (void *)model[n]);
            live -= model[n] != 0;
            model[n] = 0;
        } else {
            uintptr_t v = (uintptr_t)round + 1;
            assert_true(mopay_index_put(&ix, key, (void *)v));
            live += model[n] == 0;
            model[n] = v;
        }
        assert_int_equal(ix.count, live);
    }
    for (uint32_t n = 0; n < KEYS; n++) {
        uint8_t key[16];
        key_make(n, key);
        assert_ptr_equal(mopay_index_get(&ix, key), (void *)model[n]);
    }
    mopay_index_deinit(&ix);
}

static void index_text_keys(void **state)
{
    (void)state;
    uint8_t a[16], b[16], c[16];
    mopay_index_key_of_text("+8613800138000", 14, a);
    mopay_index_key_of_text("+8613800138000", 14, b);
    mopay_index_key_of_text("+8613800138001", 14, c);
    assert_memory_equal(a, b, 16);
    assert_memory_not_equal(a, c, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(index_matches_model), cmocka_unit_test(index_text_keys)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
