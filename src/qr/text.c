/* The two byte-level tools of EMV payloads: the CRC and UTF-8, since lengths count characters. */
#include <stdint.h>

#include "internal.h"
#include "mopay/assert.h"

uint16_t mopay_qr_crc16(const void *data, size_t len)
{
    MOPAY_ASSERT(data != NULL || len == 0);
    const uint8_t *p = data;
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static bool is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

bool qr_utf8_next(const char *s, size_t end, size_t *at)
{
    MOPAY_ASSERT(*at < end);
    const unsigned char *p = (const unsigned char *)s + *at;
    size_t left = end - *at;
    size_t n;
    uint32_t cp;
    if (p[0] < 0x80) {
        *at += 1;
        return true;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) { /* leads 0xC0 and 0xC1 only start overlong forms */
        n = 2;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return false;
    }
    if (left < n)
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!is_continuation(p[i]))
            return false;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    *at += n;
    return true;
}

bool qr_utf8_valid(const char *s, size_t len)
{
    size_t at = 0;
    while (at < len) /* each round moves at least one byte */
        if (!qr_utf8_next(s, len, &at))
            return false;
    return true;
}

size_t qr_utf8_count(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += !is_continuation((unsigned char)s[i]);
    return count;
}

bool qr_has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return true;
    return false;
}
