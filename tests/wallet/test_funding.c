/* Funding sources: the first is the primary, one may be the backup (a new backup replaces the
 * old), the backup takes over at once when the primary is reported lost, and a lost source moves
 * no money. Each state is checked in memory and again after a restart. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "mopay/keys.h"
#include "mopay/text.h"
#include "mopay/validate.h"

struct holder {
    struct mopay_customer *c;
    struct mopay_wallet *usd;
    struct mopay_funding_source *card, *bank, *spare; /* primary, backup, neither */
};

static struct holder holder(struct wt *t, int64_t now_ns)
{
    struct holder h;
    h.c = wt_signup(t, now_ns, "Jules Verne", NULL);
    h.usd = wt_wallet_open(t, now_ns, h.c, t->usd);
    h.card = wt_card_add(t, now_ns, h.c, WT_CARD_OK, false);
    h.bank = wt_bank_add(t, now_ns, h.c, WT_IBAN, "NWBKGB2L", true);
    h.spare = wt_card_add(t, now_ns, h.c, "6200000000000005", false);
    return h;
}

/* The flags as "primary backup lost", e.g. "100". */
static void flags_are(const struct mopay_funding_source *s, const char *expect)
{
    char got[4] = {s->primary ? '1' : '0', s->backup ? '1' : '0', s->lost ? '1' : '0', '\0'};
    assert_string_equal(got, expect);
}

/* The same source in the running world (after a restart, a different object). */
static struct mopay_funding_source *now_source(struct wt *t, const struct mopay_funding_source *s)
{
    struct mopay_funding_source *found = mopay_wallet_source(t->world.w, &s->id);
    assert_non_null(found);
    return found;
}

/* Restarts and refreshes h's pointers. */
static void restart(struct wt *t, struct holder *h)
{
    struct mopay_id c = h->c->id, usd = h->usd->id;
    struct mopay_id card = h->card->id, bank = h->bank->id, spare = h->spare->id;
    wt_restart(t);
    h->c = mopay_wallet_customer(t->world.w, &c);
    h->usd = mopay_wallet_get(t->world.w, &usd);
    h->card = mopay_wallet_source(t->world.w, &card);
    h->bank = mopay_wallet_source(t->world.w, &bank);
    h->spare = mopay_wallet_source(t->world.w, &spare);
    assert_true(h->c && h->usd && h->card && h->bank && h->spare);
}

static void first_source_is_primary_whatever_was_asked(void **state)
{
    struct wt *t = *state;
    struct mopay_customer *c = wt_signup(t, WT_T0, "Kim Possible", NULL);
    struct mopay_funding_source *a = wt_bank_add(t, WT_T0, c, "12345678", "021000021", true);
    flags_are(a, "100");
    assert_false(a->iban);
    assert_string_equal(a->last4, "5678");
    struct mopay_funding_source *b = wt_card_add(t, WT_T0, c, WT_CARD_OK, false);
    flags_are(b, "000");
    assert_string_equal(b->last4, "4242");
}

static void lost_primary_promotes_the_backup(void **state)
{
    struct wt *t = *state;
    struct holder h = holder(t, WT_T0);
    flags_are(h.card, "100");
    flags_are(h.bank, "010");
    flags_are(h.spare, "000");
    assert_int_equal(wt_lost(t, WT_T0 + WT_S, h.card), MOPAY_OK);
    flags_are(h.card, "001");
    flags_are(h.bank, "100");
    flags_are(h.spare, "000");
    restart(t, &h);
    flags_are(h.card, "001");
    flags_are(h.bank, "100");
    flags_are(h.spare, "000");
    assert_int_equal(wt_lost(t, WT_T0 + 2 * WT_S, h.card), MOPAY_ERR_funding_source_unusable);
    /* the promoted backup works as the primary: a top-up through it */
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_topup(t, WT_T0 + 3 * WT_S, h.usd, h.bank, WT_USD(10), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_string_equal(t->world.spy->account, WT_IBAN);
}

static void lost_non_primary_keeps_the_primary(void **state)
{
    struct wt *t = *state;
    struct holder h = holder(t, WT_T0);
    assert_int_equal(wt_lost(t, WT_T0 + WT_S, h.spare), MOPAY_OK);
    flags_are(h.card, "100");
    flags_are(h.bank, "010");
    flags_are(h.spare, "001");
    /* the backup lost: the primary stays, and there is no backup any more */
    assert_int_equal(wt_lost(t, WT_T0 + 2 * WT_S, h.bank), MOPAY_OK);
    flags_are(h.card, "100");
    flags_are(h.bank, "001");
    restart(t, &h);
    flags_are(h.card, "100");
    flags_are(h.bank, "001");
    flags_are(h.spare, "001");
    /* then the primary: nobody left to promote; the next source added is the primary */
    assert_int_equal(wt_lost(t, WT_T0 + 3 * WT_S, h.card), MOPAY_OK);
    flags_are(h.card, "001");
    struct mopay_funding_source *fresh = wt_card_add(t, WT_T0 + 4 * WT_S, h.c, "378282246310005", true);
    flags_are(fresh, "100");
}

static void lost_source_moves_no_money(void **state)
{
    struct wt *t = *state;
    struct holder h = holder(t, WT_T0);
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_topup(t, WT_T0, h.usd, h.card, WT_USD(50), &m), MOPAY_OK);
    assert_int_equal(wt_lost(t, WT_T0 + WT_S, h.spare), MOPAY_OK);
    assert_int_equal(wt_lost(t, WT_T0 + WT_S, h.card), MOPAY_OK);
    uint8_t before[32], after[32];
    wt_digest(t, before);
    size_t submits = t->world.spy->submits, movements = wt_records(t, "movement");
    int64_t log_next = wt_log_next(t);
    for (int pass = 0; pass < 2; pass++) { /* before and after a restart */
        struct mopay_funding_source *lost[2] = {h.card, h.spare};
        for (int i = 0; i < 2; i++) {
            m = NULL;
            assert_int_equal(wt_topup(t, WT_T0 + 2 * WT_S, h.usd, lost[i], WT_USD(5), &m),
                             MOPAY_ERR_funding_source_unusable);
            assert_null(m);
            assert_int_equal(wt_withdraw(t, WT_T0 + 2 * WT_S, h.usd, lost[i], WT_USD(5), &m),
                             MOPAY_ERR_funding_source_unusable);
            assert_null(m);
        }
        wt_digest(t, after);
        assert_memory_equal(before, after, 32);
        assert_int_equal(t->world.spy->submits, pass == 0 ? submits : 0);
        assert_int_equal(wt_records(t, "movement"), movements);
        assert_int_equal(wt_log_next(t), log_next); /* nothing written at all */
        assert_int_equal(h.usd->outflow_minor, 0);
        assert_int_equal(wt_balance(t, h.usd, WT_T0 + 2 * WT_S).balance_minor, WT_USD(50));
        restart(t, &h);
    }
    wt_assert_ledger_clean(t);
}

static void second_backup_replaces_the_first(void **state)
{
    struct wt *t = *state;
    struct holder h = holder(t, WT_T0);
    struct mopay_funding_source *second = wt_card_add(t, WT_T0 + WT_S, h.c, "378282246310005", true);
    flags_are(h.bank, "000");
    flags_are(second, "010");
    flags_are(h.card, "100");
    struct mopay_id second_id = second->id;
    restart(t, &h);
    second = mopay_wallet_source(t->world.w, &second_id);
    assert_non_null(second);
    flags_are(h.bank, "000");
    flags_are(second, "010");
    /* and it is the second that takes over */
    assert_int_equal(wt_lost(t, WT_T0 + 2 * WT_S, h.card), MOPAY_OK);
    flags_are(second, "100");
    flags_are(h.bank, "000");
    flags_are(now_source(t, h.spare), "000");
}

/* --- numbers as long as the API takes them --- */

/* In a child process, without cmocka (whose failures would unwind into the child's copy of the
 * runner): adds the account, moves money through it, and checks what the network saw and what the
 * seal holds. 0 when all is well; a MOPAY_ASSERT aborts the child, not the suite. */
static int long_number_child(struct wt *t, struct mopay_customer *c, struct mopay_wallet *usd, const char *number,
                             bool iban)
{
    struct mopay_source_input in;
    memset(&in, 0, sizeof(in));
    in.type = MOPAY_SOURCE_BANK_ACCOUNT;
    snprintf(in.number, sizeof(in.number), "%s", number);
    snprintf(in.bank_code, sizeof(in.bank_code), "%s", iban ? "" : "DEUTDEFF");
    in.iban = iban;
    in.holder = c->name;
    struct mopay_funding_source *s = NULL;
    struct mopay_movement *m = NULL;
    if (t->store->begin(t->store) != MOPAY_OK ||
        mopay_wallet_source_add(t->world.w, t->store, WT_T0, c, &in, &s) != MOPAY_OK ||
        mopay_wallet_movement_start(t->world.w, t->store, WT_T0, MOPAY_MOVEMENT_TOPUP, usd, s, WT_USD(10), false, &m) !=
            MOPAY_OK ||
        mopay_ledger_service_before_commit(t->world.ledger, t->store, WT_T0) != MOPAY_OK ||
        t->store->commit(t->store) != MOPAY_OK)
        return 3;
    char plain[80] = "", sid[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    size_t plain_len = 0;
    bool legacy = true;
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &s->id, sid);
    mopay_seal_ad(ad, "source", sid, "number");
    if (m->status != MOPAY_MOVEMENT_SUCCEEDED || strcmp(t->world.spy->account, number) != 0 ||
        !mopay_keys_open_ad(t->keys->card_seal, ad, s->sealed_number, s->sealed_len, plain, &plain_len, &legacy) ||
        legacy || strcmp(plain, number) != 0)
        return 4;
    return 0;
}

static void long_number_in_child(struct wt *t, struct mopay_customer *c, struct mopay_wallet *usd,
                                 const char *number, bool iban)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(long_number_child(t, c, usd, number, iban));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("adding a %zu-character %s aborted (signal %d): the sealed number has no room for it",
                 strlen(number), iban ? "IBAN" : "account number", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The API takes IBANs of up to 34 characters (France's and Italy's have 27, Malta's 31) and
 * account numbers of up to 34 digits (mopay/validate.h): a funding source has room for them
 * (a sealed number once had room for 24, and a French IBAN stopped the server). It runs in a
 * child so that such an abort fails this test alone. */
static void longest_bank_numbers_are_taken(void **state)
{
    struct wt *t = *state;
    struct mopay_customer *c = wt_signup(t, WT_T0, "Leonie Dupont", NULL);
    struct mopay_wallet *usd = wt_wallet_open(t, WT_T0, c, t->usd);
    char iban[MOPAY_IBAN_BYTES], account[MOPAY_BANK_ACCOUNT_BYTES], code[MOPAY_BANK_CODE_BYTES];
    static const char fr[] = "FR14 2004 1010 0505 0001 3M02 606";
    static const char digits[] = "1234567890123456789012345678901234";
    assert_int_equal(mopay_iban_parse(fr, strlen(fr), iban), MOPAY_OK); /* what the API accepts */
    assert_int_equal(strlen(iban), 27);
    assert_int_equal(mopay_bank_account_parse(digits, strlen(digits), "DEUTDEFF", 8, account, code), MOPAY_OK);
    assert_int_equal(strlen(account), 34);
    long_number_in_child(t, c, usd, iban, true);
    long_number_in_child(t, c, usd, account, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_source_is_primary_whatever_was_asked, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(lost_primary_promotes_the_backup, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(lost_non_primary_keeps_the_primary, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(lost_source_moves_no_money, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(second_backup_replaces_the_first, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(longest_bank_numbers_are_taken, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests_name("wallet_funding", tests, NULL, NULL);
}
