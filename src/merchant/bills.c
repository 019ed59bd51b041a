/* Bills: a biller loads what each of its customers owes under a reference (their account number
 * with the biller); customers look a bill up and pay it from their wallets, in part when the
 * biller allows it. The payment itself goes through the payment pipeline like any other. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

const char *mopay_bill_status_name(enum mopay_bill_status status)
{
    MOPAY_ASSERT(status == MOPAY_BILL_OPEN || status == MOPAY_BILL_PAID);
    return status == MOPAY_BILL_OPEN ? "open" : "paid";
}

static void reference_key(const struct mopay_merchant *biller, const char *reference, uint8_t key[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, biller->id.bytes, 16);
    crypto_generichash_update(&st, (const unsigned char *)reference, strlen(reference));
    crypto_generichash_final(&st, key, 16);
}

struct mopay_bill *mopay_bill_get(struct mopay_merchant_state *m, const struct mopay_id *id)
{
    return mopay_index_get(&m->bills, id->bytes);
}

struct mopay_bill *mopay_bill_find(struct mopay_merchant_state *m, const struct mopay_merchant *biller,
                                   const char *reference)
{
    uint8_t key[16];
    reference_key(biller, reference, key);
    struct mopay_bill *b = mopay_index_get(&m->references, key);
    return b != NULL && b->biller == biller && strcmp(b->reference, reference) == 0 ? b : NULL;
}

/* Indexes a bill; the reference points at its newest bill, or its open one. */
bool bill_add(struct mopay_merchant_state *m, struct mopay_bill *b)
{
    if (!mopay_index_put(&m->bills, b->id.bytes, b))
        return false;
    struct mopay_bill *current = mopay_bill_find(m, b->biller, b->reference);
    if (current != NULL && current->status == MOPAY_BILL_OPEN && b->status != MOPAY_BILL_OPEN)
        return true;
    if (current != NULL && current->status == b->status && memcmp(&current->id, &b->id, 16) > 0)
        return true; /* loading: records come in id order, the newest wins */
    uint8_t key[16];
    reference_key(b->biller, b->reference, key);
    return mopay_index_put(&m->references, key, b);
}

enum mopay_err mopay_bill_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_merchant *biller, const char *reference, int64_t amount_minor,
                                 int64_t due_at_ns, bool partial_allowed, struct mopay_bill **out)
{
    (void)store; /* the bill's record goes to the journal */
    MOPAY_ASSERT(biller->kind == MOPAY_MERCHANT_BILLER && amount_minor > 0);
    struct mopay_bill *current = mopay_bill_find(m, biller, reference);
    if (current != NULL && current->status == MOPAY_BILL_OPEN)
        return MOPAY_ERR_bill_exists;
    struct mopay_bill *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &b->id);
    b->biller = biller;
    mopay_text_copy(b->reference, sizeof(b->reference), reference);
    b->amount_minor = b->due_minor = amount_minor;
    b->due_at_ns = due_at_ns;
    b->partial_allowed = partial_allowed;
    b->created_at_ns = now_ns;
    if (!bill_add(m, b)) {
        free(b);
        return MOPAY_ERR_internal;
    }
    *out = b;
    return bill_record(m, now_ns, b);
}

enum mopay_err mopay_bill_payable(const struct mopay_bill *b, int64_t amount_minor)
{
    if (b->status == MOPAY_BILL_PAID)
        return MOPAY_ERR_bill_paid;
    if (amount_minor <= 0 || amount_minor > b->due_minor || (!b->partial_allowed && amount_minor != b->due_minor))
        return MOPAY_ERR_bill_amount_invalid;
    return MOPAY_OK;
}

enum mopay_err mopay_bill_pay(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                              struct mopay_bill *b, int64_t amount_minor)
{
    (void)store; /* the bill's record goes to the journal */
    MOPAY_ASSERT(mopay_bill_payable(b, amount_minor) == MOPAY_OK);
    b->due_minor -= amount_minor;
    if (b->due_minor == 0) {
        b->status = MOPAY_BILL_PAID;
        b->paid_at_ns = now_ns;
    }
    return bill_record(m, now_ns, b);
}

bool bill_read(struct mopay_merchant_state *m, json_t *j, struct mopay_bill *b)
{
    const char *id = NULL, *bid = NULL, *reference = NULL;
    json_int_t amount = 0, due = 0, due_at = 0, created = 0, paid = 0;
    int partial = 0, status = 0;
    struct mopay_id biller;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:i, s:I, s:I}", "id", &id, "biller_id", &bid,
                          "reference", &reference, "amount_minor", &amount, "due_minor", &due, "due_at_ns", &due_at,
                          "partial_allowed", &partial, "status", &status, "created_at_ns", &created, "paid_at_ns",
                          &paid) == 0 &&
              mopay_id_parse(MOPAY_ID_BILL, id, strlen(id), &b->id) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_MERCHANT, bid, strlen(bid), &biller) == MOPAY_OK &&
              (b->biller = mopay_merchant_get(m, &biller)) != NULL && strlen(reference) < sizeof(b->reference) &&
              amount > 0 && due >= 0 && due <= amount && (status == MOPAY_BILL_OPEN || status == MOPAY_BILL_PAID);
    if (!ok)
        return false;
    mopay_text_copy(b->reference, sizeof(b->reference), reference);
    b->amount_minor = amount, b->due_minor = due, b->due_at_ns = due_at;
    b->partial_allowed = partial != 0;
    b->status = (enum mopay_bill_status)status;
    b->created_at_ns = created, b->paid_at_ns = paid;
    return true;
}
