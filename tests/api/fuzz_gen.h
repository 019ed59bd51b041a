#ifndef MOPAY_TEST_FUZZ_GEN_H
#define MOPAY_TEST_FUZZ_GEN_H

/* The route fuzzer's requests: made from a route and its body's field spec (struct
 * mopay_route.body), valid first and then mutated, all from one seeded generator so that a run is
 * repeated exactly by its seed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_world.h"
#include "mopay/http.h"

#define FUZZ_HEADERS_MAX 8

/* How a body names an owned id: as a resource of the principal's own to act on (a wallet to pay
 * from), or as the other party (an order to pay, a P2P recipient, a customer's NFC token). */
enum fuzz_role { ROLE_OWN, ROLE_COUNTERPARTY };

struct fuzz_request {
    const struct mopay_route *route;
    int principal;
    char method[16];
    char *path;    /* malloc'd */
    char *headers[FUZZ_HEADERS_MAX]; /* malloc'd "Name: value" lines */
    size_t header_count;
    char *body;    /* malloc'd, NULL: none; may hold bytes that are not UTF-8 but no NUL */
    size_t body_len;
    char what[160]; /* the mutations made, for the report */
    bool idempotency_key; /* an Idempotency-Key header was sent */
    bool signed_by_owner; /* a log-in signed with the customer's own device key: its answer is the owner's */
    /* owned strings named in the path or in the body, and where (for the ownership checks) */
    const struct fuzz_owned *path_owned;
    const struct fuzz_owned *body_owned[8];
    enum fuzz_role body_owned_role[8];
    size_t body_owned_count;
};

uint64_t fuzz_rand(void);
void fuzz_seed(uint64_t seed);
/* A request to `route` as `principal`; `mutate` false makes the valid request only. */
void fuzz_request_make(struct fuzz_world *w, const struct mopay_route *route, int principal, bool mutate,
                       struct fuzz_request *out);
void fuzz_request_free(struct fuzz_request *r);

#endif
