#ifndef MOPAY_TAX_INTERNAL_H
#define MOPAY_TAX_INTERNAL_H

#include <jansson.h>

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/tax.h"
#include "mopay/text.h"

struct mopay_tax_state {
    struct mopay_taxrules rules;
    struct mopay_pay_state *pay;
    struct mopay_wallet_state *wallets;
    struct mopay_ledger_service *ledger;
    struct mopay_journal *journal; /* where forms and refunds are recorded */
    struct mopay_index forms;   /* payment id -> form */
    struct mopay_index refunds; /* txr id -> refund */
    struct mopay_tax_refund *pending; /* waiting for validation, newest first */
};

bool tax_refund_add(struct mopay_tax_state *t, struct mopay_tax_refund *r);
void tax_pending_unlink(struct mopay_tax_state *t, struct mopay_tax_refund *r);

/* records.c: the journal's record kinds, and the record of a change in this batch. */
extern const struct mopay_record_kind mopay_tax_form_kind, mopay_tax_refund_kind;
void tax_records_register(struct mopay_tax_state *t);
enum mopay_err tax_form_record(struct mopay_tax_state *t, int64_t now_ns, const struct mopay_tax_form *f);
enum mopay_err tax_refund_record(struct mopay_tax_state *t, int64_t now_ns, const struct mopay_tax_refund *r);

#endif
