#ifndef MOPAY_QR_H
#define MOPAY_QR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/money.h"

/* Merchant-presented QR codes: EMVCo QR Code Specification for Payment Systems, Merchant-Presented
 * Mode (MPM). A payload is a string of objects, each a two-digit ID, a two-digit length and that
 * many characters of value, ending with the CRC object "6304" and four hex digits.
 *
 * mopay_qr_decode reads any scheme's payload (Pix, PromptPay, SGQR, DuitNow, VietQR, ...) into a
 * caller-provided struct without allocating; mopay_qr_encode writes mopay's own; the renderers
 * draw a payload as PNG or SVG. No I/O, no clock. */

/* EMV caps a payload at 512 characters; mopay caps its bytes, so that the struct below has a
 * fixed size whatever the script. Real payloads are under 400 bytes. */
#define MOPAY_QR_PAYLOAD_BYTES_MAX 512
/* Top-level objects. IDs may not repeat, so 100 would be the most possible. */
#define MOPAY_QR_OBJECTS_MAX 99
/* Sub-objects of all templates together: each takes at least 5 bytes ("ID", "LL", one
 * character) of its template's value, and templates do not overlap. */
#define MOPAY_QR_SUBS_MAX (MOPAY_QR_PAYLOAD_BYTES_MAX / 5)
/* Renderers: pixels per module, and the quiet zone in modules (the QR standard asks for 4). */
#define MOPAY_QR_SCALE_MAX 32
#define MOPAY_QR_MARGIN_MAX 16
/* The largest PNG or SVG a renderer writes; a version 40 symbol at the largest scale fits. */
#define MOPAY_QR_IMAGE_BYTES_MAX (8 * 1024 * 1024)

/* Object IDs mopay reads or writes. */
enum mopay_qr_id {
    MOPAY_QR_ID_FORMAT = 0,           /* payload format indicator, "01" ("02" seen in the field) */
    MOPAY_QR_ID_INITIATION = 1,       /* "11" static, "12" dynamic */
    MOPAY_QR_ID_ACCOUNT_FIRST = 26,   /* 26..51: merchant account information templates */
    MOPAY_QR_ID_ACCOUNT_LAST = 51,
    MOPAY_QR_ID_MCC = 52,             /* merchant category code, 4 digits */
    MOPAY_QR_ID_CURRENCY = 53,        /* ISO 4217 numeric */
    MOPAY_QR_ID_AMOUNT = 54,
    MOPAY_QR_ID_TIP_INDICATOR = 55,   /* "01" prompt, "02" fixed fee in 56, "03" percentage in 57 */
    MOPAY_QR_ID_FEE_FIXED = 56,
    MOPAY_QR_ID_FEE_PERCENT = 57,
    MOPAY_QR_ID_COUNTRY = 58,
    MOPAY_QR_ID_MERCHANT_NAME = 59,
    MOPAY_QR_ID_MERCHANT_CITY = 60,
    MOPAY_QR_ID_POSTAL_CODE = 61,
    MOPAY_QR_ID_ADDITIONAL_DATA = 62, /* template */
    MOPAY_QR_ID_CRC = 63,
    MOPAY_QR_ID_LANGUAGE = 64,        /* merchant information in another language, template */
    MOPAY_QR_ID_UNRESERVED_FIRST = 80, /* 80..99: unreserved templates */
    MOPAY_QR_ID_UNRESERVED_LAST = 99,
};

/* Sub-object IDs mopay reads or writes. */
enum mopay_qr_sub_id {
    MOPAY_QR_SUB_GUID = 0,        /* in 26..51 and 80..99: whose template it is */
    MOPAY_QR_SUB_MERCHANT_ID = 1, /* in mopay's template */
    MOPAY_QR_SUB_ORDER_ID = 2,    /* in mopay's template: the order a dynamic code pays */
    MOPAY_QR_SUB_REFERENCE = 5,   /* in 62: reference label (the merchant's, for an order) */
};

/* One object. Its value is mopay_qr_value(); subs_count > 0 exactly when the value was decoded
 * as a template, its sub-objects being subs[subs_first .. subs_first + subs_count). Sub-objects
 * are never templates themselves (EMV nests one level). */
struct mopay_qr_object {
    uint8_t id;          /* 0..99 */
    uint8_t subs_count;
    uint16_t subs_first;
    uint16_t value_at;   /* byte offset of the value in mopay_qr.payload */
    uint16_t value_len;  /* bytes of UTF-8; the length field counted characters */
};

/* A decoded payload. Holds its own copy of the payload and refers to it by offset, so it may be
 * copied and kept. Objects are in payload order. */
struct mopay_qr {
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX];
    size_t payload_len;
    bool lengths_in_bytes; /* decoded with the VietQR deviation, see mopay_qr_decode */
    size_t objects_count;
    struct mopay_qr_object objects[MOPAY_QR_OBJECTS_MAX];
    size_t subs_count;
    struct mopay_qr_object subs[MOPAY_QR_SUBS_MAX];
};

/* CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, not reflected, no final XOR):
 * the payload's checksum, over its UTF-8 bytes up to and including "6304". */
uint16_t mopay_qr_crc16(const void *data, size_t len);

/* Decodes `len` bytes of UTF-8 (need not be NUL-terminated, never read past `len`) into `qr`.
 * Lengths count characters (Unicode code points), not bytes, as EMV says. Templates 26..51, 62
 * and 64 are decoded into sub-objects; 80..99 too when their value is a well-formed string of
 * sub-objects, and kept as a plain value otherwise (DuitNow puts a hex signature in 82).
 *
 * Tolerated, because real payloads do it: payload format indicator "02" as well as "01"; no 52,
 * 59 or 60 (P2P codes); objects in any order; a CRC in lowercase hex (the spec says uppercase,
 * but the check is just as strong); a decimal point with no digits after it in amounts ("10.");
 * a merchant city longer than EMV's 15 characters (KHQR's "Banteay Meanchey"); tip objects 56
 * and 57 that indicator 55 does not select (they are ignored); and one deviation of lengths:
 * when a payload with non-ASCII characters does not decode with lengths in characters, it is
 * decoded once more with lengths in UTF-8 bytes, as VietQR generators write them, and
 * `lengths_in_bytes` says so. A payload that decodes the spec's way is never read the other
 * way, and if neither works the error is the one of the spec's reading.
 *
 * Refuses, checked in this order (framing, then structure, then CRC, then templates, then
 * values), each with its own code:
 *  - invalid_qr_format: empty or longer than MOPAY_QR_PAYLOAD_BYTES_MAX bytes, a value that is
 *    not UTF-8, an ID that is not two digits, more than MOPAY_QR_OBJECTS_MAX objects, a first
 *    object other than 00 with "01" or "02", no CRC object or one that is not the last object,
 *    an ID repeated at the top level or within a template;
 *  - invalid_qr_truncated: the payload (or a template's value) ends inside an ID and length;
 *  - invalid_qr_length: a length that is not two digits, is "00", runs past the end of the
 *    payload (or of its template), or a CRC object whose length is not 04;
 *  - invalid_qr_trailing: bytes after the CRC object that are not whole objects ("...6304A13A\n");
 *  - invalid_qr_crc: the CRC does not match (or is not hex);
 *  - invalid_qr_value: a value its field does not allow: a control character anywhere;
 *    01 not "11"/"12"; 52 not 4 digits; 53 not a currency mopay knows; 54 or 56 not a decimal
 *    of at most 13 characters with at most the currency's decimals, or present without 53;
 *    55 not "01"/"02"/"03", or "02"/"03" without its 56/57; 57 not a percentage from 0.01 to
 *    99.99; 58 not two uppercase letters; 59 longer than 25 characters; in a Pix template
 *    (GUID br.gov.bcb.pix), a location URL (25) with its scheme, which BCB's rules forbid.
 * On failure the contents of `qr` are unspecified. */
enum mopay_err mopay_qr_decode(const char *payload, size_t len, struct mopay_qr *qr);

/* The value of an object of `qr` and its length in bytes; NULL (and *len 0) when o is NULL. */
const char *mopay_qr_value(const struct mopay_qr *qr, const struct mopay_qr_object *o, size_t *len);
/* The top-level object `id`; NULL when absent. */
const struct mopay_qr_object *mopay_qr_find(const struct mopay_qr *qr, unsigned id);
/* Sub-object `id` of template `tmpl`; NULL when absent or when tmpl is NULL or no template. */
const struct mopay_qr_object *mopay_qr_find_sub(const struct mopay_qr *qr, const struct mopay_qr_object *tmpl,
                                                unsigned id);
/* The first template in 26..51 or 80..99, in payload order, whose GUID (sub-object 00) is `guid`,
 * compared ignoring ASCII case as Pix writes "br.gov.bcb.pix" and "BR.GOV.BCB.PIX"; NULL when
 * none. */
const struct mopay_qr_object *mopay_qr_find_template(const struct mopay_qr *qr, const char *guid);

/* Convenience accessors of a decoded payload. The text ones return the value and its length in
 * bytes, or NULL when the object is absent. */
const char *mopay_qr_merchant_name(const struct mopay_qr *qr, size_t *len);
const char *mopay_qr_merchant_city(const struct mopay_qr *qr, size_t *len);
const char *mopay_qr_country(const struct mopay_qr *qr, size_t *len);
const char *mopay_qr_mcc(const struct mopay_qr *qr, size_t *len);
/* NULL when the payload has no currency (53). */
const struct mopay_currency *mopay_qr_currency(const struct mopay_qr *qr);
/* The amount (54) in minor units of mopay_qr_currency(); false when there is none, and the
 * payer enters it. */
bool mopay_qr_amount(const struct mopay_qr *qr, int64_t *amount_minor);

enum mopay_qr_initiation {
    MOPAY_QR_INITIATION_NONE,    /* no 01 */
    MOPAY_QR_INITIATION_STATIC,  /* "11": the same code for many payments */
    MOPAY_QR_INITIATION_DYNAMIC, /* "12": one payment */
};
enum mopay_qr_initiation mopay_qr_initiation(const struct mopay_qr *qr);

/* What indicator 55 asks the payer to add to the amount. */
enum mopay_qr_tip_kind {
    MOPAY_QR_TIP_NONE,    /* no 55 */
    MOPAY_QR_TIP_PROMPT,  /* "01": ask the payer for a tip */
    MOPAY_QR_TIP_FIXED,   /* "02": add fee_minor */
    MOPAY_QR_TIP_PERCENT, /* "03": add fee_bps of the amount */
};
struct mopay_qr_tip {
    enum mopay_qr_tip_kind kind;
    int64_t fee_minor; /* FIXED: minor units of mopay_qr_currency(); 0 otherwise */
    uint16_t fee_bps;  /* PERCENT: hundredths of a percent, 1..9999 ("3.5" is 350); 0 otherwise */
};
void mopay_qr_tip(const struct mopay_qr *qr, struct mopay_qr_tip *out);

/* A mopay merchant's payload: template 26 holds mopay's account information under a
 * reverse-domain GUID (the operator's choice, e.g. "com.mopay") with the merchant id in
 * sub-object 01 and an order's id in 02; the merchant's own reference for the order goes into
 * 62 as sub-object 05 (reference label), which payers' apps show. Strings are NUL-terminated
 * UTF-8; template 26 as a whole has at most 99 characters. */
struct mopay_qr_input {
    const char *guid;
    const char *merchant_id;
    const char *order_id;      /* NULL for none */
    const char *merchant_name; /* 1..25 characters */
    const char *merchant_city; /* 1..15 characters */
    const char *country;       /* ISO 3166-1 alpha-2, "CN" */
    const char *mcc;           /* 4 digits, "5812" */
    const struct mopay_currency *currency;
    bool dynamic;              /* true: initiation 12 with amount_minor; false: 11, no amount */
    struct mopay_qr_tip tip;   /* 55 (and 56 or 57) when kind is not NONE */
    int64_t amount_minor;      /* dynamic only: more than 0 */
    const char *reference;     /* NULL for none; 1..25 characters */
};

/* Writes the payload (objects 00, 01, 26, 52, 53, 54 when dynamic, 55 with 56 or 57 when asked,
 * 58, 59, 60, 62 when there is a reference, 63) and a NUL into `out`, its length in bytes to *out_len. invalid_qr_value when
 * a string is empty, too long for its field (template 26 included), not UTF-8 or has a control
 * character, the country is not an assigned ISO 3166-1 code, the MCC is not 4 digits, a dynamic
 * amount is not positive or does not fit EMV's 13 characters, or the payload would pass
 * MOPAY_QR_PAYLOAD_BYTES_MAX bytes; `out` is then unspecified. mopay_qr_decode reads every field
 * back unchanged. */
enum mopay_err mopay_qr_encode(const struct mopay_qr_input *in, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1],
                               size_t *out_len);

/* Draws `payload` (`len` bytes, 1..MOPAY_QR_PAYLOAD_BYTES_MAX, no NUL) as a QR code at error
 * correction level M, `scale` (1..MOPAY_QR_SCALE_MAX) pixels per module with `margin`
 * (0..MOPAY_QR_MARGIN_MAX) modules of quiet zone. The payload is not decoded: any text draws.
 * On success *out is a malloc'd image the caller frees, *out_len its size. Refuses a payload of
 * the wrong size or with a NUL as invalid_qr_format; `internal` when memory runs out. */
enum mopay_err mopay_qr_render_png(const char *payload, size_t len, unsigned scale, unsigned margin,
                                   unsigned char **out, size_t *out_len);
/* The same as an SVG document (NUL-terminated; *out_len does not count the NUL): a white square
 * and one path of the dark modules, sized `scale` pixels per module. */
enum mopay_err mopay_qr_render_svg(const char *payload, size_t len, unsigned scale, unsigned margin,
                                   char **out, size_t *out_len);

#endif
