#ifndef MOPAY_CODEC_H
#define MOPAY_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/id.h"

/* The one codec for the domain's durable records: a table per record kind says which fields of
 * its in-memory struct are persisted and how, and one encoder and one decoder walk the table.
 *
 * An image is the whole of one record as it is after a change:
 *   varint tag, varint version, varint flags, varint payload length, payload
 * The payload is the table's fields in order, each in its type's encoding:
 *   INT   signed integer of 1, 2, 4 or 8 bytes (int64_t, int, an enum): zig-zag varint
 *   UINT  unsigned integer of 1, 2, 4 or 8 bytes: varint
 *   BOOL  one byte, 0 or 1
 *   BYTES `size` raw bytes (hashes, keys)
 *   ID    a struct mopay_id: one byte 0 (the zero id) or 1 then its 16 bytes
 *   REF   a pointer to a record that begins with its struct mopay_id (or NULL): as ID; decoded
 *         through the field's resolver, and an id that resolves to nothing is a damaged image
 *   TEXT  a NUL-terminated char[size]: varint length (< size), bytes without NUL
 *   CUSTOM what the field's own encode and decode make of it (a sealed secret): varint length,
 *         bytes
 *   CURRENCY a const struct mopay_currency *: varint length (3), its ISO 4217 alphabetic code
 * Fields are only ever appended to a table: a decoder meets a shorter payload (an image written
 * before a field was added) and leaves the missing fields zero. Removing or changing a field
 * takes a new version and a table for it. Everything is little-endian by construction (varints
 * and bytes), so an image means the same on every machine. */

enum mopay_codec_type {
    MOPAY_CODEC_INT = 1,
    MOPAY_CODEC_UINT,
    MOPAY_CODEC_BOOL,
    MOPAY_CODEC_BYTES,
    MOPAY_CODEC_ID,
    MOPAY_CODEC_REF,
    MOPAY_CODEC_TEXT,
    MOPAY_CODEC_CUSTOM,
    MOPAY_CODEC_CURRENCY,
};

/* A CUSTOM field's two halves. encode writes at most cap bytes of the field of `record` and
 * returns how many, or SIZE_MAX when it cannot (which stops the process: a record that cannot be
 * written must not be acknowledged). decode reads len bytes into the field of `record` (the other
 * fields before it already decoded) and returns false when they are not a valid value. */
struct mopay_codec_custom {
    size_t (*encode)(void *state, const void *record, uint8_t *out, size_t cap);
    bool (*decode)(void *state, void *record, const uint8_t *in, size_t len);
    size_t bytes_max; /* the most encode writes */
};

struct mopay_codec_field {
    const char *name;
    uint8_t type;                                    /* enum mopay_codec_type */
    uint32_t offset, size;                           /* within the record */
    void *(*resolve)(void *state, const struct mopay_id *id); /* REF: the record with this id, or NULL */
    const struct mopay_codec_custom *custom;         /* CUSTOM */
};

#define MOPAY_CODEC_FIELD_OF(type_, T, member)                                                      \
    {                                                                                               \
        #member, type_, (uint32_t)__builtin_offsetof(T, member), (uint32_t)sizeof(((T *)0)->member), \
            NULL, NULL                                                                              \
    }
#define MOPAY_CODEC_INT_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_INT, T, m)
#define MOPAY_CODEC_UINT_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_UINT, T, m)
#define MOPAY_CODEC_BOOL_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_BOOL, T, m)
#define MOPAY_CODEC_BYTES_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_BYTES, T, m)
#define MOPAY_CODEC_ID_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_ID, T, m)
#define MOPAY_CODEC_TEXT_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_TEXT, T, m)
#define MOPAY_CODEC_CURRENCY_FIELD(T, m) MOPAY_CODEC_FIELD_OF(MOPAY_CODEC_CURRENCY, T, m)
#define MOPAY_CODEC_REF_FIELD(T, m, resolver)                                                       \
    {                                                                                               \
        #m, MOPAY_CODEC_REF, (uint32_t)__builtin_offsetof(T, m), (uint32_t)sizeof(((T *)0)->m),     \
            resolver, NULL                                                                          \
    }
#define MOPAY_CODEC_CUSTOM_FIELD(T, m, codec)                                                       \
    {                                                                                               \
        #m, MOPAY_CODEC_CUSTOM, (uint32_t)__builtin_offsetof(T, m), (uint32_t)sizeof(((T *)0)->m),  \
            NULL, codec                                                                             \
    }

/* One kind of record: its table, and how replay puts an image back into memory. A REF field
 * names a record whose struct begins with its struct mopay_id. */
struct mopay_record_kind {
    const char *name;   /* "payment": logs and messages */
    uint16_t tag;       /* in every image; never reused (mopay/records.h lists them) */
    uint16_t version;
    uint32_t size;      /* sizeof the struct */
    const struct mopay_codec_field *fields;
    size_t field_count;

    /* Replay: `image` is a decoded record (a scratch copy, the table's fields set, the rest
     * zero); apply makes the live record from it (new, or the existing one with the same key
     * changed with mopay_codec_copy) and returns MOPAY_OK, or an error with a reason in `why`
     * when the image cannot be applied (out of memory, a check that fails). */
    enum mopay_err (*apply)(void *state, const void *image, char *why, size_t why_cap);
    /* Replay of a removal (an image flagged MOPAY_CODEC_REMOVED, decoded like any other): the
     * record with the image's key leaves memory. NULL when the kind is never removed. */
    enum mopay_err (*remove)(void *state, const void *image, char *why, size_t why_cap);
    /* Every live record, for a snapshot or an upgrade; stops when `fn` returns false. */
    void (*each)(void *state, bool (*fn)(void *ctx, const void *record), void *ctx);
};

/* Every record kind's tag, once and for all: a tag is never reused or renumbered. */
enum mopay_record_tag {
    MOPAY_RECORD_CUSTOMER = 1,
    MOPAY_RECORD_DEVICE = 2,
    MOPAY_RECORD_WALLET = 3,
    MOPAY_RECORD_SOURCE = 4,
    MOPAY_RECORD_MOVEMENT = 5,
    MOPAY_RECORD_SESSION = 6,
    MOPAY_RECORD_MERCHANT = 7,
    MOPAY_RECORD_ORDER = 8,
    MOPAY_RECORD_BILL = 9,
    MOPAY_RECORD_OFFER = 10,
    MOPAY_RECORD_COUPON = 11,
    MOPAY_RECORD_FX_RATE = 12,
    MOPAY_RECORD_QUOTE = 13,
    MOPAY_RECORD_PAYMENT = 14,
    MOPAY_RECORD_REFUND = 15,
    MOPAY_RECORD_NFC_TOKEN = 16,
    MOPAY_RECORD_TAX_FORM = 17,
    MOPAY_RECORD_TAX_REFUND = 18,
    MOPAY_RECORD_RISK_BLOCK = 19,
    MOPAY_RECORD_WEBHOOK_EVENT = 20,
};

/* An image's flags. */
#define MOPAY_CODEC_REMOVED 1u

/* The most bytes an image of this kind takes, its header included. */
size_t mopay_codec_image_max(const struct mopay_record_kind *kind);

/* Encodes `record` as an image into out (cap bytes, at least mopay_codec_image_max). Returns
 * its length, or 0 when a CUSTOM field could not encode. `state` goes to CUSTOM fields. */
size_t mopay_codec_encode(const struct mopay_record_kind *kind, void *state, uint32_t flags, const void *record,
                          uint8_t *out, size_t cap);

/* An image's header. Reads one from in[0..len) and returns the header's length, or 0 when it is
 * damaged (the payload then runs past len). */
struct mopay_codec_header {
    uint32_t tag, version, flags;
    size_t payload_len;
};
size_t mopay_codec_header_read(const uint8_t *in, size_t len, struct mopay_codec_header *out);

/* Decodes a payload of `kind` (its header already read) into `record` (kind->size bytes, which
 * it zeroes first). False when it is damaged: a field that runs past the end, a TEXT too long or
 * holding NUL, a BOOL that is neither 0 nor 1, an integer that does not fit its field, a REF
 * whose id resolves to nothing, a CUSTOM field its decode refuses, bytes after the last field.
 * `why` names the field. */
bool mopay_codec_decode(const struct mopay_record_kind *kind, void *state, const uint8_t *payload, size_t len,
                        void *record, char *why, size_t why_cap);

/* Where each field of a payload lies, without decoding it (tools and tests that look at or
 * change one field of an image). Fills spans[i] for the fields present (at most
 * kind->field_count) and sets *count; false when the payload is damaged. */
struct mopay_codec_span {
    size_t offset, len;
};
bool mopay_codec_spans(const struct mopay_record_kind *kind, const uint8_t *payload, size_t len,
                       struct mopay_codec_span *spans, size_t *count);

/* Copies the table's fields of src into dst and nothing else (links and counters a module
 * keeps beside them stay as they are). */
void mopay_codec_copy(const struct mopay_record_kind *kind, void *dst, const void *src);

/* Checks a table against itself (sizes that fit their types, offsets inside the struct, REF
 * fields with resolvers, CUSTOM ones with their codec): false with the field named in `why`.
 * Every kind is checked when it is registered; a bad table is a programmer error. */
bool mopay_codec_kind_valid(const struct mopay_record_kind *kind, char *why, size_t why_cap);

/* For apply and remove: writes "<what>: <reason>" into why and returns store_failed. */
enum mopay_err mopay_codec_refuse(char *why, size_t why_cap, const char *what, const char *reason);

/* Unsigned LEB128, for callers that frame images. */
size_t mopay_codec_varint_put(uint8_t *out, uint64_t value);
size_t mopay_codec_varint_get(const uint8_t *in, size_t len, uint64_t *out);

#endif
