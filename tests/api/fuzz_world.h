#ifndef MOPAY_TEST_FUZZ_WORLD_H
#define MOPAY_TEST_FUZZ_WORLD_H

/* The route fuzzer's world (test_fuzz_routes.c): six principals, made by real sign-ups and
 * sessions, and the resources of two sides, A and B, made by setup traffic. Every id and secret
 * the setup sees is remembered with its owner, so that the fuzzer can name A's and B's resources
 * in paths and bodies and notice when one principal is shown another's. */

#include <stdbool.h>
#include <stddef.h>

#include "consumers.h"

enum fuzz_principal { P_NONE, P_OPERATOR, P_MERCHANT_A, P_CUSTOMER_A, P_MERCHANT_B, P_CUSTOMER_B, P_COUNT };

/* What an owned string is: an id of a collection (its path prefix, "/v1/orders/"), or a value
 * that only its owner may ever read (a token, an API key, a device's payment-code secret). */
struct fuzz_owned {
    char kind[32]; /* "/v1/orders/", ..., "secret", "reference" */
    char value[96];
    int owner;       /* enum fuzz_principal; P_OPERATOR: public (billers, bills, rates) */
    bool open_order; /* an order still open: any customer may see its checkout view */
    char of[48];     /* a reference: its order's id (whoever pays the order sees it) */
    unsigned granted; /* principals (1 << p) it was shown to by right: the payer of an order */
};

#define FUZZ_OWNED_MAX 4096 /* the setup makes about 60; each principal re-made adds 4 to 10 */
#define FUZZ_LEARNED_MAX 1024 /* ids learnt from what the fuzz itself creates, at most */

struct fuzz_world {
    struct server srv;
    int64_t clock_s;
    char token[P_COUNT][128];
    struct person customer[2]; /* A, B */
    char merchant_id[2][48];
    char phone[2][32];
    char order_qr[2][600];
    struct fuzz_owned owned[FUZZ_OWNED_MAX];
    size_t owned_count;
};

/* Starts the server and makes both sides' resources; asserts each step it cannot do without. */
void fuzz_world_setup(struct fuzz_world *w);
/* A new merchant (by the operator) or customer (signed up, signed in, KYC tier 2) as `owner`,
 * whose token it becomes. */
void fuzz_world_merchant_new(struct fuzz_world *w, int owner, const char *name);
void fuzz_world_customer_new(struct fuzz_world *w, int owner, const char *phone, const char *name);
/* The customer's CNY wallet (the newest of its own, then), a card and a bank account, a top-up
 * and a withdrawal. */
void fuzz_world_money_new(struct fuzz_world *w, int owner);
void fuzz_world_remember(struct fuzz_world *w, const char *kind, const char *value, int owner);
/* An id of this kind owned by `owner` (or by its side's other principal, or public), else NULL;
 * `owner` -1: anyone's. */
const struct fuzz_owned *fuzz_world_pick_owned(const struct fuzz_world *w, const char *kind, int owner, unsigned nth);
const char *fuzz_world_pick(const struct fuzz_world *w, const char *kind, int owner, unsigned nth);
/* The side of a principal: 0 for A, 1 for B, -1 for none and the operator. */
int fuzz_side(int principal);
extern const char *const fuzz_principal_names[P_COUNT];

#endif
