#ifndef MOPAY_ID_H
#define MOPAY_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* Typed 128-bit identifiers: a prefix naming the type, '_', 32 lowercase hex digits.
 * Server-made IDs are time-ordered and unguessable: 48 bits of Unix milliseconds, then a 16-bit
 * count within that millisecond (starting at a random value below 0x8000 each millisecond, so
 * one thread's IDs are strictly increasing), then 64 bits from libsodium's generator. Holding
 * one ID tells nothing of another's last 64 bits: ids work as capabilities (an order's id is what
 * a checkout page hands the payer). */
#define MOPAY_ID_KINDS(X)                 \
    X(CUSTOMER, "cus")                    \
    X(DEVICE, "dev")                      \
    X(WALLET, "wal")                      \
    X(MERCHANT, "mch")                    \
    X(ORDER, "ord")                       \
    X(PAYMENT, "pay")                     \
    X(REFUND, "ref")                      \
    X(QUOTE, "quo")                       \
    X(OFFER, "off")                       \
    X(COUPON, "cpn")                      \
    X(TAX_REFUND, "txr")                  \
    X(TRANSFER, "trf")                    \
    X(ACCOUNT, "acc")                     \
    X(ADMIN_KEY, "adk")                   \
    X(REQUEST, "req")                     \
    X(FUNDING_SOURCE, "src")              \
    X(TOPUP, "top")                       \
    X(WITHDRAWAL, "wdr")                  \
    X(SESSION, "ses")                     \
    X(EVENT, "evt")                       \
    X(BILL, "bil")

enum mopay_id_kind {
#define MOPAY_ID_KIND_ENUM(name, prefix) MOPAY_ID_##name,
    MOPAY_ID_KINDS(MOPAY_ID_KIND_ENUM)
#undef MOPAY_ID_KIND_ENUM
    MOPAY_ID_KIND_COUNT
};

struct mopay_id {
    uint8_t bytes[16]; /* big-endian, so memcmp orders by time */
};

/* prefix (at most 4) + '_' + 32 hex + NUL */
#define MOPAY_ID_TEXT_BYTES 40

const char *mopay_id_prefix(enum mopay_id_kind kind);

/* A new time-ordered ID. Strictly increasing within one thread, even when the clock stalls or
 * steps back. Lock-free; one refill of a 4 KiB buffer per ~400 IDs (a per-thread random buffer). */
void mopay_id_new(int64_t now_ns, struct mopay_id *out);

/* Writes "<prefix>_<32 hex>" and returns its length. */
size_t mopay_id_format(enum mopay_id_kind kind, const struct mopay_id *id, char buf[MOPAY_ID_TEXT_BYTES]);

/* Parses exactly `len` bytes as an ID of `kind`: the right prefix and 32 lowercase hex digits.
 * id_invalid otherwise, with *out untouched. */
enum mopay_err mopay_id_parse(enum mopay_id_kind kind, const char *s, size_t len, struct mopay_id *out);
/* The same for a NUL-terminated string, as records hold them: false when it is NULL or not an ID
 * of `kind`. */
bool mopay_id_parse_text(enum mopay_id_kind kind, const char *text, struct mopay_id *out);

#endif
