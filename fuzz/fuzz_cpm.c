/* libFuzzer harness for the EMV consumer-presented QR decoder (cpm.h).
 *
 * The input is decoded twice: as the QR code's text, and, base64-encoded first, as the BER-TLV
 * payload itself, so that the fuzzer reaches the TLV parser without having to find base64.
 * A refusal must be cpm_invalid with an empty tree and no payment code. An accepted payload
 * must be a well-formed tree: 85 "CPV01" first, every object inside its template and the
 * objects of each template (and of the payload) filling it exactly, in order, within the depth
 * and count limits. A payment code found must be 18 digits, and mopay_cpm_encode of it must
 * decode to it again. Any broken property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mopay/cpm.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The end of node i's value: where the objects inside it, or after it, must stop. */
static size_t node_end(const struct mopay_cpm *cpm, size_t i)
{
    return (size_t)cpm->nodes[i].offset + cpm->nodes[i].len;
}

/* Each object starts after the one before it at its level ends and ends within its parent; the
 * last object at each level ends exactly where its parent (or the payload) ends. */
static void check_tree(const struct mopay_cpm *cpm)
{
    check(cpm->nodes_count >= 1 && cpm->nodes_count <= MOPAY_CPM_NODES_MAX);
    check(cpm->payload_len <= MOPAY_CPM_PAYLOAD_BYTES_MAX);
    check(cpm->nodes[0].tag == 0x85 && cpm->nodes[0].len == 5);
    check(memcmp(cpm->payload + cpm->nodes[0].offset, "CPV01", 5) == 0);
    for (size_t i = 0; i < cpm->nodes_count; i++) {
        const struct mopay_tlv *node = &cpm->nodes[i];
        check(node_end(cpm, i) <= cpm->payload_len && node->depth < MOPAY_CPM_DEPTH_MAX);
        size_t limit = cpm->payload_len;
        if (node->parent >= 0) {
            const struct mopay_tlv *parent = &cpm->nodes[node->parent];
            check((size_t)node->parent < i && parent->constructed && node->depth == parent->depth + 1);
            check(node->offset > parent->offset && node_end(cpm, i) <= node_end(cpm, (size_t)node->parent));
            limit = node_end(cpm, (size_t)node->parent);
        } else {
            check(node->parent == -1 && node->depth == 0);
        }
        /* The next object at the same level, if any, starts after this one; else this one ends
         * its level. */
        size_t next = i + 1;
        while (next < cpm->nodes_count && cpm->nodes[next].depth > node->depth)
            next++;
        if (next < cpm->nodes_count && cpm->nodes[next].parent == node->parent)
            check(cpm->nodes[next].offset > node_end(cpm, i));
        else
            check(node_end(cpm, i) == limit);
    }
}

static void check_paycode(const char *paycode)
{
    size_t len = strlen(paycode);
    if (len == 0)
        return;
    check(len == MOPAY_PAYCODE_DIGITS && strspn(paycode, "0123456789") == len);
    char text[MOPAY_CPM_TEXT_BYTES];
    mopay_cpm_encode(paycode, text);
    struct mopay_cpm again;
    char code_again[MOPAY_PAYCODE_BYTES];
    check(mopay_cpm_decode(text, strlen(text), &again, code_again) == MOPAY_OK);
    check(strcmp(code_again, paycode) == 0);
}

static void fuzz_text(const char *text, size_t len, struct mopay_cpm *cpm)
{
    char paycode[MOPAY_PAYCODE_BYTES];
    memset(paycode, 'x', sizeof(paycode));
    enum mopay_err err = mopay_cpm_decode(text, len, cpm, paycode);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_cpm_invalid && paycode[0] == '\0');
        check(cpm->nodes_count == 0 && cpm->payload_len == 0);
        return;
    }
    check_tree(cpm);
    check_paycode(paycode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Heap copies of exactly the bytes given, so ASan catches any read past the length. */
    char *text = malloc(size > 0 ? size : 1);
    struct mopay_cpm *cpm = malloc(sizeof(*cpm));
    if (text == NULL || cpm == NULL)
        goto done;
    memcpy(text, data, size);
    fuzz_text(text, size, cpm);

    if (size <= MOPAY_CPM_PAYLOAD_BYTES_MAX) {
        size_t encoded_len = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
        char *encoded = malloc(encoded_len);
        if (encoded == NULL)
            goto done;
        sodium_bin2base64(encoded, encoded_len, data, size, sodium_base64_VARIANT_ORIGINAL);
        fuzz_text(encoded, encoded_len - 1, cpm);
        /* An accepted payload is the input, byte for byte. */
        check(cpm->nodes_count == 0 || (cpm->payload_len == size && memcmp(cpm->payload, data, size) == 0));
        free(encoded);
    }
done:
    free(text);
    free(cpm);
    return 0;
}
