#ifndef MOPAY_TAX_H
#define MOPAY_TAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/pay.h"
#include "mopay/store.h"
#include "mopay/taxrules.h"

/* Tourist tax refunds, paid into the wallet at once.
 *
 * A tax-free order (its VAT stated by the merchant) paid by a customer from another country
 * makes a tax-free form, checked against the merchant country's rules (mopay/taxrules.h). The
 * customer asks for the refund of one or more forms (POST /v1/tax-refunds): what the rules allow
 * instantly is credited to the wallet that paid, from the platform's refund pool in the
 * purchase's currency, converted at the payment's locked rate when the wallet is in another
 * currency, all in one linked ledger chain; the refund is then pending_validation. Customs
 * validate it (validated), or, past the rules' deadline unvalidated, it is clawed back: what
 * the wallet holds of it goes back to the pool, and any shortfall is booked on a receivable
 * account of that wallet (what the customer owes), never by breaking the wallet's flags. A customer
 * trusted enough (mopay/wallet.h's trust rating) has the refund guaranteed: past the deadline the
 * platform keeps the loss, and the refund stays in the wallet.
 *
 * A trip, for the per-trip cap, is the customer's instant refunds in the same country over the
 * last MOPAY_TAX_TRIP_DAYS days. */

#define MOPAY_TAX_TRIP_DAYS 90
#define MOPAY_TAX_CODE_REFUND 20 /* ledger transfer code of refunds and claw-backs */
#define MOPAY_TAX_FORMS_PER_REFUND_MAX 16

struct mopay_tax_refund;

struct mopay_tax_form {
    struct mopay_payment *payment; /* its id is the form's */
    char country[3];
    int64_t gross_minor, vat_minor; /* in the payment's (the merchant's) currency */
    enum mopay_err eligibility;     /* MOPAY_OK, or why not */
    struct mopay_tax_refund *refund;
    int64_t created_at_ns;
};

enum mopay_tax_refund_status {
    MOPAY_TAX_REFUND_PENDING_VALIDATION,
    MOPAY_TAX_REFUND_VALIDATED,
    MOPAY_TAX_REFUND_CLAWED_BACK,
    MOPAY_TAX_REFUND_GUARANTEED, /* unvalidated past the deadline, kept: the customer's trust guaranteed it */
};
const char *mopay_tax_refund_status_name(enum mopay_tax_refund_status status);

struct mopay_tax_refund {
    struct mopay_id id; /* txr_ */
    struct mopay_customer *customer;
    struct mopay_wallet *wallet; /* credited */
    char country[3];
    const struct mopay_currency *currency; /* the purchases' */
    struct mopay_tax_form *forms[MOPAY_TAX_FORMS_PER_REFUND_MAX];
    size_t form_count;
    int64_t gross_minor, refund_minor; /* purchases' currency */
    int64_t credited_minor;            /* wallet's currency */
    int64_t clawed_minor, owed_minor;  /* at a claw-back: taken from the wallet, and booked as owed */
    enum mopay_tax_refund_status status;
    bool guaranteed; /* the customer's trust rating was at least MOPAY_TRUST_GUARANTEE when refunded */
    int64_t created_at_ns, deadline_ns, resolved_at_ns;
    struct mopay_tax_refund *next_pending;
};

struct mopay_tax_state;

struct mopay_journal;

/* Forms and refunds are recorded in `journal` (registered here: its replay puts them back). */
struct mopay_tax_state *mopay_tax_new(const struct mopay_taxrules *rules, struct mopay_pay_state *pay,
                                      struct mopay_wallet_state *wallets, struct mopay_ledger_service *ledger,
                                      struct mopay_journal *journal);
void mopay_tax_free(struct mopay_tax_state *t);
/* Records written before the journal (JSON rows), after the journal's replay. */
enum mopay_err mopay_tax_load(struct mopay_tax_state *t, struct mopay_store *store, char *err, size_t err_cap);

/* On the sequencer, when a payment succeeded: a form when it paid a tax-free order. */
enum mopay_err mopay_tax_on_payment(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                    const struct mopay_payment *payment);
struct mopay_tax_form *mopay_tax_form(struct mopay_tax_state *t, const struct mopay_id *payment_id);

/* The instant refund of these forms (the customer's, eligible, not refunded, one country):
 * tax_free_not_instant when the rules leave one to customs, balance_limit_exceeded when the
 * wallet cannot take it. */
enum mopay_err mopay_tax_refund(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                struct mopay_customer *customer, struct mopay_tax_form **forms, size_t count,
                                struct mopay_tax_refund **out);
struct mopay_tax_refund *mopay_tax_refund_get(struct mopay_tax_state *t, const struct mopay_id *id);
/* Customs' stamp: tax_refund_not_pending unless pending. */
enum mopay_err mopay_tax_validate(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_tax_refund *refund);
/* The sequencer tick: claws back the refunds past their deadline. */
enum mopay_err mopay_tax_tick(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns);

#endif
