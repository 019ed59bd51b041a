#ifndef MOPAY_TEST_CONSUMERS_H
#define MOPAY_TEST_CONSUMERS_H

/* What the consumer scenario tests share: a customer as its phone sees itself (its device's
 * Ed25519 keys, its session token), and the calls that sign up and log in. */

#include <stdint.h>

#include "harness.h"

struct person {
    char phone[32];
    char name[64];
    char id[48];        /* cus_ */
    char device_id[48]; /* dev_ */
    uint8_t pk[32], sk[64];
    char token[128];
    char secret_b64[64]; /* the device's payment-code secret */
    uint32_t code_index; /* and the index its codes carry */
};

/* The server's manual clock starts here (--test-clock). */
#define TEST_CLOCK_START "2026-11-21T08:00:00Z"
#define TEST_CLOCK_START_S 1795248000LL

/* Sign-up with a fresh device key; asserts 201. */
void person_signup(const struct server *s, struct person *p, const char *phone, const char *name,
                   const char *country);
/* A session signed at `unix_s` with `pin`; the raw response (the caller checks it). */
void person_session_try(const struct server *s, struct person *p, int64_t unix_s, const char *pin,
                        struct response *r);
/* A session signed at `unix_s`; asserts 201 and keeps the token. */
void person_login(const struct server *s, struct person *p, int64_t unix_s);
/* Body of a signed session request. */
void session_body(const struct person *p, int64_t unix_s, const char *pin, char *out, size_t cap);

/* One request that must answer `status` (and, with a `code`, be that problem); the response goes
 * to `out` when given, else it is freed. A different status is printed with its body first. */
void api_expect(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                long status, const char *code, struct response *out);
/* Moves the server's manual clock on by `seconds` (POST /v1/test-clock/advance), and *clock_s,
 * the test's reading of it, with it. */
void test_clock_advance(const struct server *s, int64_t *clock_s, int64_t seconds);

/* JSON helpers */
const char *jstr(json_t *j, const char *key);
/* A money string as minor units (2 decimals). */
long long minor_of(const char *amount);
/* The wallet's field ("balance", "available", "incoming") in minor units, as its owner sees it. */
long long wallet_amount(const struct server *s, const char *token, const char *wallet_id, const char *field);

#endif
