#ifndef MOPAY_TAX_INTERNAL_H
#define MOPAY_TAX_INTERNAL_H

#include <jansson.h>

#include "mopay/index.h"
#include "mopay/tax.h"
#include "mopay/text.h"

struct mopay_tax_state {
    struct mopay_taxrules rules;
    struct mopay_pay_state *pay;
    struct mopay_wallet_state *wallets;
    struct mopay_ledger_service *ledger;
    struct mopay_index forms;   /* payment id -> form */
    struct mopay_index refunds; /* txr id -> refund */
    struct mopay_tax_refund *pending; /* waiting for validation, newest first */
};

enum mopay_err tax_form_record(struct mopay_store *store, int64_t now_ns, const struct mopay_tax_form *f);
enum mopay_err tax_refund_record(struct mopay_store *store, int64_t now_ns, const struct mopay_tax_refund *r);
bool tax_refund_add(struct mopay_tax_state *t, struct mopay_tax_refund *r);

#endif
