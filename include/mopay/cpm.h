#ifndef MOPAY_CPM_H
#define MOPAY_CPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/paycode.h"

/* EMV consumer-presented mode QR codes (EMVCo QR Code Specification for Payment Systems,
 * consumer-presented mode), read from any wallet and written for mopay's payment codes. Pure
 * functions: no I/O, no allocation; the parsed tree lives in fixed arrays in the caller's
 * struct mopay_cpm.
 *
 * The QR code's text is base64 (RFC 4648 alphabet, '=' padding optional) of BER-TLV objects:
 *
 *     85 "CPV01"              payload format indicator, first
 *     61 application template one per application offered: 4F AID, 50 label, 5A PAN or token
 *                             or 57 track 2 equivalent, 5F20 name, 9F.., and 63, the application
 *                             specific transparent template (data the terminal passes on unread)
 *     62 common data template data shared by the applications (5A, 5F20, 64, ...)
 *
 * mopay's payload, 39 bytes, 52 base64 characters:
 *
 *     85 05 "CPV01"
 *     61 1E
 *        4F 07 F0 6D 6F 70 61 79 01   AID: F0, "mopay" in ASCII, version 01
 *        50 05 "mopay"                label a terminal may show
 *        63 0C
 *           DF6D 09 <9 bytes>         the 18-digit payment code (paycode.h), two digits a byte
 *
 * - The AID. ISO/IEC 7816-5 leaves AIDs whose first nibble is F to proprietary use, without
 *   registration. An AID starting with A begins with a 5-byte provider identifier (RID) that
 *   the ISO registration authority assigns, so a made-up A000000999.. would squat on a RID
 *   that is, or may become, someone else's. Android's host card emulation follows the same rule
 *   and asks for at least 6 bytes to make collisions unlikely; this AID has 7. A registered RID
 *   can replace it later, with decoders accepting both for a while.
 * - The code's tag, DF6D inside 63. The spec puts what the terminal forwards to the issuer
 *   without reading it in 63 (UnionPay's cryptogram is there), and only mopay can check the
 *   code. DF6D is a primitive tag of the private class (first byte C0 to FF), which neither EMV
 *   nor ISO/IEC 7816-6 allocates, so no terminal mistakes it for a standard element; its number
 *   0x6D ('m') is above 30, so the two-byte form is the canonical one. The value is EMV's
 *   numeric format 'n' (BCD). Not 5A: the code is not a card number, and a terminal that reads
 *   5A as a PAN might route it as a card. Not 9F26: that is an 8-byte binary cryptogram.
 *
 * Limits: text of at most MOPAY_CPM_TEXT_BYTES_MAX characters (hence payload bytes), at most
 * MOPAY_CPM_NODES_MAX objects, templates nested at most MOPAY_CPM_DEPTH_MAX deep (mopay's
 * 61 > 63 > DF6D is 3). Real payloads are a few hundred bytes and 3 deep. */

#define MOPAY_CPM_TEXT_BYTES_MAX 1024
#define MOPAY_CPM_PAYLOAD_BYTES_MAX (MOPAY_CPM_TEXT_BYTES_MAX / 4 * 3)
#define MOPAY_CPM_NODES_MAX 64
#define MOPAY_CPM_DEPTH_MAX 4
#define MOPAY_CPM_TEXT_BYTES 53 /* mopay_cpm_encode's output: 52 characters and NUL */

/* One BER-TLV object of a decoded payload. */
struct mopay_tlv {
    uint32_t tag;     /* its 1 to 3 bytes as written, big-endian: 0x85, 0x5F20, 0xDF6D */
    uint16_t offset;  /* of the value in mopay_cpm.payload */
    uint16_t len;     /* of the value */
    int16_t parent;   /* index of the enclosing template in mopay_cpm.nodes, -1 at the top */
    uint8_t depth;    /* 0 at the top */
    bool constructed; /* bit 0x20 of the first tag byte: the value is objects, which follow */
};

/* A decoded payload: its bytes and every object in the order written, each template before
 * the objects inside it. */
struct mopay_cpm {
    uint8_t payload[MOPAY_CPM_PAYLOAD_BYTES_MAX];
    size_t payload_len;
    struct mopay_tlv nodes[MOPAY_CPM_NODES_MAX];
    size_t nodes_count;
};

/* mopay's payload for `code` (18 ASCII digits; need not be NUL-terminated), as base64 text with
 * padding, NUL-terminated. */
void mopay_cpm_encode(const char code[MOPAY_PAYCODE_DIGITS], char out[MOPAY_CPM_TEXT_BYTES]);

/* Decodes `text` (exactly `len` bytes) into *cpm. When an application template carries mopay's
 * AID, `paycode` gets its 18 digits, NUL-terminated (whether they are a genuine code is for
 * mopay_paycode_verify); otherwise it is the empty string: a payload of another wallet.
 * Well-formed BER is taken as BER allows, in any order after 85, with unknown tags and long-form
 * lengths where the short form would do. cpm_invalid, with *cpm empty and `paycode` "", for:
 *  - text that is empty, too long, or not base64;
 *  - a tag longer than 3 bytes, or whose first byte is 00 or FF (never tags in ISO/IEC 7816);
 *  - an indefinite length (80), a length of more than 2 bytes, or a length past the end of the
 *    payload or of the enclosing template;
 *  - bytes after the last object, in the payload or in a template, that are not an object;
 *  - templates nested too deep, or too many objects;
 *  - a first object other than 85 "CPV01";
 *  - a mopay template without a 63 holding DF6D of 9 BCD bytes, or two mopay templates. */
enum mopay_err mopay_cpm_decode(const char *text, size_t len, struct mopay_cpm *cpm,
                                char paycode[MOPAY_PAYCODE_BYTES]);

/* The index in cpm->nodes of the first object with `tag` directly inside node `parent` (-1 for
 * the top level), or -1 when there is none. */
int mopay_cpm_child(const struct mopay_cpm *cpm, int parent, uint32_t tag);

#endif
