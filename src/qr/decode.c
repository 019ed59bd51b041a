/* EMV MPM payload -> objects: framing, structure, CRC and templates. The values' own rules are
 * in fields.c. Nothing here allocates: objects refer to the payload copy inside struct mopay_qr.
 *
 * The stages run in the order mopay_qr_decode documents, so that each malformed payload gets
 * the one error code that names what is wrong with it first: a payload whose lengths do not add
 * up has no CRC object to check, and a CRC that does not match makes every value suspect. */
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

/* A cursor over the objects of the payload or of one template's value. */
struct walk {
    const char *s;
    size_t at, end;
    bool bytes; /* lengths count UTF-8 bytes: the VietQR deviation */
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static unsigned two_digits(const char *s)
{
    return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* Reads the object at w->at into *o (no sub-objects yet), its length field into *declared, and
 * moves past it. On failure w and *o are untouched. */
static enum mopay_err walk_next(struct walk *w, struct mopay_qr_object *o, unsigned *declared)
{
    MOPAY_ASSERT(w->at < w->end);
    if (w->end - w->at < 4)
        return MOPAY_ERR_invalid_qr_truncated;
    const char *header = w->s + w->at;
    if (!is_digit(header[0]) || !is_digit(header[1]))
        return MOPAY_ERR_invalid_qr_format;
    if (!is_digit(header[2]) || !is_digit(header[3]))
        return MOPAY_ERR_invalid_qr_length;
    unsigned n = two_digits(header + 2);
    if (n == 0) /* EMV lengths run from 01 to 99: an absent value is an absent object */
        return MOPAY_ERR_invalid_qr_length;

    size_t value_at = w->at + 4, value_end = value_at;
    if (w->bytes) {
        if (w->end - value_at < n)
            return MOPAY_ERR_invalid_qr_length;
        value_end = value_at + n;
        if (!qr_utf8_valid(w->s + value_at, n)) /* a byte count may split a character */
            return MOPAY_ERR_invalid_qr_format;
    } else {
        for (unsigned i = 0; i < n; i++) {
            if (value_end == w->end)
                return MOPAY_ERR_invalid_qr_length;
            if (!qr_utf8_next(w->s, w->end, &value_end))
                return MOPAY_ERR_invalid_qr_format;
        }
    }
    MOPAY_ASSERT(value_end <= w->end && value_end <= MOPAY_QR_PAYLOAD_BYTES_MAX);
    *o = (struct mopay_qr_object){
        .id = (uint8_t)two_digits(header),
        .value_at = (uint16_t)value_at,
        .value_len = (uint16_t)(value_end - value_at),
    };
    *declared = n;
    w->at = value_end;
    return MOPAY_OK;
}

/* Splits the payload into top-level objects. After the CRC object there may be nothing: whole
 * objects there mean the CRC is not last (invalid_qr_format), anything else is trailing junk. */
static enum mopay_err frame_objects(struct mopay_qr *qr)
{
    struct walk w = {.s = qr->payload, .at = 0, .end = qr->payload_len, .bytes = qr->lengths_in_bytes};
    bool crc_seen = false;
    qr->objects_count = 0;
    while (w.at < w.end) { /* each round consumes at least 5 bytes */
        struct mopay_qr_object o;
        unsigned declared;
        enum mopay_err err = walk_next(&w, &o, &declared);
        if (err != MOPAY_OK)
            return crc_seen ? MOPAY_ERR_invalid_qr_trailing : err;
        if (crc_seen || qr->objects_count == MOPAY_QR_OBJECTS_MAX)
            return MOPAY_ERR_invalid_qr_format;
        if (o.id == MOPAY_QR_ID_CRC && declared != 4)
            return MOPAY_ERR_invalid_qr_length;
        crc_seen = o.id == MOPAY_QR_ID_CRC;
        qr->objects[qr->objects_count++] = o;
    }
    return MOPAY_OK;
}

/* Object 00 first with a format EMV defines, the CRC object last, no ID twice. */
static enum mopay_err check_structure(const struct mopay_qr *qr)
{
    if (qr->objects_count == 0 || qr->objects[0].id != MOPAY_QR_ID_FORMAT)
        return MOPAY_ERR_invalid_qr_format;
    size_t len;
    const char *format = mopay_qr_value(qr, &qr->objects[0], &len);
    if (len != 2 || (memcmp(format, "01", 2) != 0 && memcmp(format, "02", 2) != 0))
        return MOPAY_ERR_invalid_qr_format;
    if (qr->objects[qr->objects_count - 1].id != MOPAY_QR_ID_CRC)
        return MOPAY_ERR_invalid_qr_format;
    bool seen[100] = {false};
    for (size_t i = 0; i < qr->objects_count; i++) {
        if (seen[qr->objects[i].id])
            return MOPAY_ERR_invalid_qr_format;
        seen[qr->objects[i].id] = true;
    }
    return MOPAY_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') /* tolerated: see mopay_qr_decode */
        return c - 'a' + 10;
    return -1;
}

/* The CRC covers everything up to and including the CRC object's "6304". */
static enum mopay_err check_crc(const struct mopay_qr *qr)
{
    const struct mopay_qr_object *crc = &qr->objects[qr->objects_count - 1];
    MOPAY_ASSERT(crc->id == MOPAY_QR_ID_CRC);
    if (crc->value_len != 4)
        return MOPAY_ERR_invalid_qr_crc; /* four characters, not all of them hex digits */
    unsigned stated = 0;
    for (size_t i = 0; i < 4; i++) {
        int digit = hex_value(qr->payload[crc->value_at + i]);
        if (digit < 0)
            return MOPAY_ERR_invalid_qr_crc;
        stated = stated << 4 | (unsigned)digit;
    }
    return stated == mopay_qr_crc16(qr->payload, crc->value_at) ? MOPAY_OK : MOPAY_ERR_invalid_qr_crc;
}

static bool is_template_id(unsigned id)
{
    return (id >= MOPAY_QR_ID_ACCOUNT_FIRST && id <= MOPAY_QR_ID_ACCOUNT_LAST) ||
           id == MOPAY_QR_ID_ADDITIONAL_DATA || id == MOPAY_QR_ID_LANGUAGE ||
           (id >= MOPAY_QR_ID_UNRESERVED_FIRST && id <= MOPAY_QR_ID_UNRESERVED_LAST);
}

/* Splits template `o` into sub-objects appended to qr->subs. On failure nothing is appended. */
static enum mopay_err frame_template(struct mopay_qr *qr, struct mopay_qr_object *o)
{
    struct walk w = {
        .s = qr->payload, .at = o->value_at, .end = (size_t)o->value_at + o->value_len,
        .bytes = qr->lengths_in_bytes,
    };
    size_t first = qr->subs_count;
    bool seen[100] = {false};
    while (w.at < w.end) { /* each round consumes at least 5 bytes */
        struct mopay_qr_object sub;
        unsigned declared;
        enum mopay_err err = walk_next(&w, &sub, &declared);
        if (err == MOPAY_OK && seen[sub.id])
            err = MOPAY_ERR_invalid_qr_format;
        if (err != MOPAY_OK) {
            qr->subs_count = first;
            return err;
        }
        seen[sub.id] = true;
        /* Templates do not overlap and each sub-object takes 5 bytes or more of one. */
        MOPAY_ASSERT(qr->subs_count < MOPAY_QR_SUBS_MAX);
        qr->subs[qr->subs_count++] = sub;
    }
    MOPAY_ASSERT(qr->subs_count - first <= UINT8_MAX);
    o->subs_first = (uint16_t)first;
    o->subs_count = (uint8_t)(qr->subs_count - first);
    return MOPAY_OK;
}

/* Templates 26..51, 62 and 64 must be well-formed; 80..99 are templates only when they are. */
static enum mopay_err frame_templates(struct mopay_qr *qr)
{
    qr->subs_count = 0;
    for (size_t i = 0; i < qr->objects_count; i++) {
        struct mopay_qr_object *o = &qr->objects[i];
        if (!is_template_id(o->id))
            continue;
        enum mopay_err err = frame_template(qr, o);
        bool unreserved = o->id >= MOPAY_QR_ID_UNRESERVED_FIRST;
        if (err != MOPAY_OK && !unreserved)
            return err;
    }
    return MOPAY_OK;
}

/* All stages with one way of counting lengths. */
static enum mopay_err decode_as(struct mopay_qr *qr, bool lengths_in_bytes)
{
    qr->lengths_in_bytes = lengths_in_bytes;
    qr->subs_count = 0;
    enum mopay_err err = frame_objects(qr);
    if (err == MOPAY_OK)
        err = check_structure(qr);
    if (err == MOPAY_OK)
        err = check_crc(qr);
    if (err == MOPAY_OK)
        err = frame_templates(qr);
    if (err == MOPAY_OK)
        err = qr_check_values(qr);
    return err;
}

static bool has_non_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

enum mopay_err mopay_qr_decode(const char *payload, size_t len, struct mopay_qr *qr)
{
    MOPAY_ASSERT(payload != NULL || len == 0);
    MOPAY_ASSERT(qr != NULL);
    if (len == 0 || len > MOPAY_QR_PAYLOAD_BYTES_MAX)
        return MOPAY_ERR_invalid_qr_format;
    memcpy(qr->payload, payload, len);
    qr->payload_len = len;
    enum mopay_err err = decode_as(qr, false);
    /* With ASCII only both readings are the same; otherwise the spec's reading wins whenever it
     * works, so the deviation can never change what a conforming payload says. */
    if (err != MOPAY_OK && has_non_ascii(payload, len) && decode_as(qr, true) == MOPAY_OK)
        return MOPAY_OK;
    return err;
}
