#ifndef MOPAY_TEST_UPGRADE_H
#define MOPAY_TEST_UPGRADE_H

/* What the upgrade fixture's story (story.c, which makes it with a wave-1 server) and its check
 * (test_upgrade.c, which starts today's server on it) share: the fixture's principals, its
 * files, and requests made as a named principal.
 *
 * fixture.json holds what the story's clients kept: the server's clock when the database was
 * dumped, the webhook receiver's port, and each principal by label, with its credential (an
 * admin key, a merchant key, a customer's session token) and, for customers, what their phone
 * keeps (the device's Ed25519 secret key, its payment-code secret, its NFC keys). Replays of
 * requests sent with an Idempotency-Key are kept there too. expected.jsonl holds one check a
 * line: {"method", "path", "as", "status", and "body" (the whole JSON answer), "text" (the exact
 * bytes) or "fields" (the members that matter)}, {"metric", "value"} or {"webhook", "type",
 * "status"}. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/consumers.h"
#include "api/harness.h"

/* Sent with every idempotent replay, and by the story when it wants one recorded. */
#define UPGRADE_IDEMPOTENCY_HEADER "Idempotency-Key: "

/* The credential of principal `as` in the fixture: an admin or merchant key, or a customer's
 * session token; NULL for "anonymous". Fails the test for an unknown label. */
const char *upgrade_token(json_t *fixture, const char *as);
/* The principal's object in the fixture (NULL when absent). */
json_t *upgrade_principal(json_t *fixture, const char *as);

/* One request, with an Idempotency-Key header when `key` is not NULL. */
void upgrade_call(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                  const char *key, struct response *out);

/* The expected line for GET `path` as `as` answered `r`: its status and the whole JSON answer,
 * the exact text of any other, or an error's code alone (its request_id differs every time). */
json_t *upgrade_get_line(const char *path, const char *as, const struct response *r);

/* The value of an unlabelled Prometheus sample `name` in GET /metrics; -1 when absent. */
long long upgrade_metric(const struct server *s, const char *admin_key, const char *name);

/* A customer as the check's phone sees it: its keys and ids from the fixture. */
void upgrade_person_of(json_t *customer, struct person *p);

/* Every line of a JSON-lines file, as an array; NULL when it cannot be read. */
json_t *upgrade_jsonl_load(const char *path);
/* A whole file, NUL-terminated, malloc'd; NULL when it cannot be read. */
char *upgrade_file_read(const char *path, size_t *len);

/* The body of an NFC payment: a tap of `amount_minor` CNY fen at merchant `merchant_id` with
 * transaction counter `atc`, its cryptogram made with the LUK `luk_b64` (as the device was given it). */
void upgrade_nfc_body(const char *token, const char *luk_b64, const char *merchant_id, unsigned atc,
                      int64_t amount_minor, char *out, size_t cap);
/* The offline payment code `p`'s phone shows at `unix_s` (MOPAY_PAYCODE_BYTES). */
void upgrade_paycode(const struct person *p, int64_t unix_s, char *out);

/* "acc_" and the hex of a wallet or merchant id: its ledger account. */
void upgrade_account_of(const char *id, char out[48]);

#endif
