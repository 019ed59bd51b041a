/* EMV consumer-presented QR (cpm.h): base64 BER-TLV, parsed into a bounded tree. */
#include "mopay/cpm.h"

#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"

#define TAG_BYTES_MAX 3
#define LENGTH_BYTES_MAX 2 /* 81 xx or 82 xx xx: payloads are far below 64 KiB */
#define TAG_FORMAT 0x85
#define TAG_APP_TEMPLATE 0x61
#define TAG_AID 0x4F
#define TAG_APP_TRANSPARENT 0x63
#define TAG_PAYCODE 0xDF6D
#define PAYCODE_BCD_BYTES (MOPAY_PAYCODE_DIGITS / 2)

static const uint8_t FORMAT_CPV01[] = {'C', 'P', 'V', '0', '1'};
static const uint8_t MOPAY_AID[] = {0xF0, 'm', 'o', 'p', 'a', 'y', 0x01};

/* mopay's payload up to the payment code's 9 BCD bytes, as drawn in cpm.h. */
static const uint8_t MOPAY_PAYLOAD_HEAD[] = {
    0x85, 0x05, 'C', 'P', 'V', '0', '1',
    0x61, 0x1E,
    0x4F, 0x07, 0xF0, 'm', 'o', 'p', 'a', 'y', 0x01,
    0x50, 0x05, 'm', 'o', 'p', 'a', 'y',
    0x63, 0x0C,
    0xDF, 0x6D, 0x09,
};
#define MOPAY_PAYLOAD_BYTES (sizeof(MOPAY_PAYLOAD_HEAD) + PAYCODE_BCD_BYTES)

_Static_assert(MOPAY_CPM_PAYLOAD_BYTES_MAX <= UINT16_MAX, "offsets fit struct mopay_tlv");
_Static_assert(MOPAY_CPM_NODES_MAX <= INT16_MAX, "parents fit struct mopay_tlv");
_Static_assert(MOPAY_PAYLOAD_BYTES == 2 + 0x05 + 2 + 0x1E, "61's length covers the rest");
_Static_assert(sodium_base64_ENCODED_LEN(MOPAY_PAYLOAD_BYTES, sodium_base64_VARIANT_ORIGINAL) == MOPAY_CPM_TEXT_BYTES,
               "the text fits MOPAY_CPM_TEXT_BYTES");

/* ---- decoding ---- */

/* Reads a tag at *at, below `end`, and whether it is a template (bit 0x20 of its first byte);
 * false when it runs past `end` or is longer than mopay reads. */
static bool read_tag(const uint8_t *p, size_t end, size_t *at, uint32_t *tag, bool *constructed)
{
    /* 00 and FF are padding or unallocated in ISO/IEC 7816, never the first byte of a tag. */
    if (*at >= end || p[*at] == 0x00 || p[*at] == 0xFF)
        return false;
    uint8_t byte = p[(*at)++];
    uint32_t value = byte;
    *constructed = byte & 0x20;
    /* Low five bits all set: the tag number follows, 7 bits a byte, the top bit set on all but
     * the last byte. */
    if ((byte & 0x1F) == 0x1F) {
        size_t n = 1;
        do {
            if (n == TAG_BYTES_MAX || *at >= end)
                return false;
            byte = p[(*at)++];
            value = value << 8 | byte;
            n++;
        } while (byte & 0x80);
    }
    *tag = value;
    return true;
}

/* Reads a definite length at *at whose value fits below `end`. */
static bool read_length(const uint8_t *p, size_t end, size_t *at, size_t *len)
{
    if (*at >= end)
        return false;
    uint8_t first = p[(*at)++];
    size_t value = first;
    if (first & 0x80) {
        size_t n = first & 0x7F;
        if (n == 0 || n > LENGTH_BYTES_MAX || end - *at < n)
            return false;
        value = 0;
        for (size_t i = 0; i < n; i++)
            value = value << 8 | p[(*at)++];
    }
    if (value > end - *at)
        return false;
    *len = value;
    return true;
}

/* Parses the objects that exactly fill [start, end) at `depth`, inside node `parent`, appending
 * them to cpm->nodes; false on any malformed or excess object. Recursion is bounded by
 * MOPAY_CPM_DEPTH_MAX and the loop by the bytes, as each object takes at least two. */
static bool parse_objects(struct mopay_cpm *cpm, size_t start, size_t end, int depth, int parent)
{
    size_t at = start;
    while (at < end) {
        uint32_t tag;
        bool constructed;
        size_t len;
        if (!read_tag(cpm->payload, end, &at, &tag, &constructed) || !read_length(cpm->payload, end, &at, &len))
            return false;
        if (cpm->nodes_count == MOPAY_CPM_NODES_MAX)
            return false;
        int index = (int)cpm->nodes_count++;
        struct mopay_tlv *node = &cpm->nodes[index];
        *node = (struct mopay_tlv){.tag = tag, .offset = (uint16_t)at, .len = (uint16_t)len,
                                   .parent = (int16_t)parent, .depth = (uint8_t)depth,
                                   .constructed = constructed};
        if (constructed && (depth + 1 == MOPAY_CPM_DEPTH_MAX || !parse_objects(cpm, at, at + len, depth + 1, index)))
            return false;
        at += len;
    }
    return true;
}

static bool value_is(const struct mopay_cpm *cpm, int index, const uint8_t *bytes, size_t len)
{
    const struct mopay_tlv *node = &cpm->nodes[index];
    return node->len == len && memcmp(cpm->payload + node->offset, bytes, len) == 0;
}

/* The 18 digits of a mopay template's DF6D into `out`; false unless it holds 9 BCD bytes. */
static bool template_paycode(const struct mopay_cpm *cpm, int template, char out[MOPAY_PAYCODE_BYTES])
{
    int transparent = mopay_cpm_child(cpm, template, TAG_APP_TRANSPARENT);
    int code = transparent < 0 ? -1 : mopay_cpm_child(cpm, transparent, TAG_PAYCODE);
    if (code < 0 || cpm->nodes[code].len != PAYCODE_BCD_BYTES)
        return false;
    const uint8_t *bcd = cpm->payload + cpm->nodes[code].offset;
    for (size_t i = 0; i < PAYCODE_BCD_BYTES; i++) {
        if ((bcd[i] >> 4) > 9 || (bcd[i] & 0x0F) > 9)
            return false;
        out[2 * i] = (char)('0' + (bcd[i] >> 4));
        out[2 * i + 1] = (char)('0' + (bcd[i] & 0x0F));
    }
    out[MOPAY_PAYCODE_DIGITS] = '\0';
    return true;
}

/* Checks the format indicator and finds mopay's template, if any. */
static bool cpm_decode_content(const struct mopay_cpm *cpm, char paycode[MOPAY_PAYCODE_BYTES])
{
    if (cpm->nodes_count == 0 || cpm->nodes[0].tag != TAG_FORMAT || !value_is(cpm, 0, FORMAT_CPV01, sizeof(FORMAT_CPV01)))
        return false;
    bool found = false;
    for (size_t i = 1; i < cpm->nodes_count; i++) {
        if (cpm->nodes[i].parent != -1 || cpm->nodes[i].tag != TAG_APP_TEMPLATE)
            continue;
        int aid = mopay_cpm_child(cpm, (int)i, TAG_AID);
        if (aid < 0 || !value_is(cpm, aid, MOPAY_AID, sizeof(MOPAY_AID)))
            continue;
        if (found || !template_paycode(cpm, (int)i, paycode))
            return false;
        found = true;
    }
    return true;
}

enum mopay_err mopay_cpm_decode(const char *text, size_t len, struct mopay_cpm *cpm,
                                char paycode[MOPAY_PAYCODE_BYTES])
{
    MOPAY_ASSERT(text != NULL || len == 0);
    MOPAY_ASSERT(cpm != NULL && paycode != NULL);
    cpm->payload_len = 0;
    cpm->nodes_count = 0;
    paycode[0] = '\0';
    if (len == 0 || len > MOPAY_CPM_TEXT_BYTES_MAX)
        return MOPAY_ERR_cpm_invalid;
    /* With '=' padding a text is a whole number of 4-character groups; without, it need not be. */
    int variant = len % 4 == 0 ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    size_t payload_len = 0;
    if (sodium_base642bin(cpm->payload, sizeof(cpm->payload), text, len, NULL, &payload_len, NULL, variant) != 0)
        return MOPAY_ERR_cpm_invalid;
    cpm->payload_len = payload_len;
    if (!parse_objects(cpm, 0, payload_len, 0, -1) || !cpm_decode_content(cpm, paycode)) {
        cpm->payload_len = 0;
        cpm->nodes_count = 0;
        paycode[0] = '\0';
        return MOPAY_ERR_cpm_invalid;
    }
    return MOPAY_OK;
}

int mopay_cpm_child(const struct mopay_cpm *cpm, int parent, uint32_t tag)
{
    MOPAY_ASSERT(cpm != NULL && cpm->nodes_count <= MOPAY_CPM_NODES_MAX);
    MOPAY_ASSERT(parent >= -1 && parent < (int)cpm->nodes_count);
    for (size_t i = (size_t)(parent + 1); i < cpm->nodes_count; i++) {
        if (cpm->nodes[i].parent == parent && cpm->nodes[i].tag == tag)
            return (int)i;
    }
    return -1;
}

/* ---- encoding ---- */

void mopay_cpm_encode(const char code[MOPAY_PAYCODE_DIGITS], char out[MOPAY_CPM_TEXT_BYTES])
{
    MOPAY_ASSERT(code != NULL && out != NULL);
    uint8_t payload[MOPAY_PAYLOAD_BYTES];
    memcpy(payload, MOPAY_PAYLOAD_HEAD, sizeof(MOPAY_PAYLOAD_HEAD));
    uint8_t *bcd = payload + sizeof(MOPAY_PAYLOAD_HEAD);
    for (size_t i = 0; i < PAYCODE_BCD_BYTES; i++) {
        char high = code[2 * i], low = code[2 * i + 1];
        MOPAY_ASSERT(high >= '0' && high <= '9' && low >= '0' && low <= '9');
        bcd[i] = (uint8_t)((high - '0') << 4 | (low - '0'));
    }
    sodium_bin2base64(out, MOPAY_CPM_TEXT_BYTES, payload, sizeof(payload), sodium_base64_VARIANT_ORIGINAL);
}
