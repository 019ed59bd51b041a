/* Orders: a merchant's request for an exact amount, paid at most once, until it expires. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

const char *mopay_order_status_name(enum mopay_order_status status)
{
    static const char *const names[] = {"open", "paid", "expired"};
    MOPAY_ASSERT(status >= 0 && status <= MOPAY_ORDER_EXPIRED);
    return names[status];
}

enum mopay_err mopay_order_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_merchant *merchant, const struct mopay_order_input *in,
                                  struct mopay_order **out)
{
    (void)store; /* the order's record goes to the journal */
    MOPAY_ASSERT(in->amount_minor > 0 && in->expires_in_s > 0 && in->expires_in_s <= MOPAY_ORDER_TTL_S_MAX);
    MOPAY_ASSERT(!in->tax_free || (in->vat_minor > 0 && in->vat_minor < in->amount_minor));
    struct mopay_order *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &o->id);
    o->merchant = merchant;
    o->amount_minor = in->amount_minor;
    mopay_text_copy(o->reference, sizeof(o->reference), in->reference);
    mopay_text_copy(o->description, sizeof(o->description), in->description);
    o->tax_free = in->tax_free;
    o->vat_minor = in->tax_free ? in->vat_minor : 0;
    o->status = MOPAY_ORDER_OPEN;
    o->created_at_ns = now_ns;
    o->expires_at_ns = now_ns + in->expires_in_s * 1000000000;
    if (!order_add(m, o)) {
        free(o);
        return MOPAY_ERR_internal;
    }
    *out = o;
    return order_record(m, now_ns, o);
}

enum mopay_err mopay_order_payable(const struct mopay_order *order, int64_t now_ns)
{
    if (order->status == MOPAY_ORDER_PAID)
        return MOPAY_ERR_order_paid;
    if (order->status == MOPAY_ORDER_EXPIRED || now_ns >= order->expires_at_ns)
        return MOPAY_ERR_order_expired;
    return MOPAY_OK;
}

void order_open_unlink(struct mopay_merchant_state *m, struct mopay_order *order)
{
    for (struct mopay_order **link = &m->open_orders; *link != NULL; link = &(*link)->next_open)
        if (*link == order) {
            *link = order->next_open;
            order->next_open = NULL;
            return;
        }
}

enum mopay_err mopay_order_mark_paid(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                     struct mopay_order *order, const struct mopay_id *payment_id)
{
    (void)store; /* the order's record goes to the journal */
    MOPAY_ASSERT(mopay_order_payable(order, now_ns) == MOPAY_OK);
    order->status = MOPAY_ORDER_PAID;
    order->payment_id = *payment_id;
    order->paid_at_ns = now_ns;
    order_open_unlink(m, order);
    return order_record(m, now_ns, order);
}

enum mopay_err mopay_merchant_tick(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_order **link = &m->open_orders;
    while (*link != NULL) {
        struct mopay_order *o = *link;
        if (o->expires_at_ns > now_ns) {
            link = &o->next_open;
            continue;
        }
        /* no room for its event (the merchant's webhook queue is full): the next tick tries
         * again; until then it cannot be paid, its expiry having passed */
        if (m->options.order_expiry_room != NULL && !m->options.order_expiry_room(m->options.ctx, o)) {
            atomic_fetch_add(&m->expiries_deferred, 1);
            link = &o->next_open;
            continue;
        }
        o->status = MOPAY_ORDER_EXPIRED;
        *link = o->next_open;
        o->next_open = NULL;
        enum mopay_err err = order_record(m, now_ns, o);
        if (err == MOPAY_OK && m->options.order_expired != NULL)
            err = m->options.order_expired(m->options.ctx, store, now_ns, o);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}
