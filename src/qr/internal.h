#ifndef MOPAY_QR_INTERNAL_H
#define MOPAY_QR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "mopay/qr.h"

/* Moves *at past the one UTF-8 character that starts there. False, *at untouched, when the
 * bytes from *at to `end` do not start with a well-formed character (a stray continuation byte,
 * a sequence cut short by `end`, an overlong form, a surrogate, above U+10FFFF). */
bool qr_utf8_next(const char *s, size_t end, size_t *at);
/* True when the `len` bytes are well-formed UTF-8. */
bool qr_utf8_valid(const char *s, size_t len);
/* Characters in `len` bytes of well-formed UTF-8. */
size_t qr_utf8_count(const char *s, size_t len);
/* True when the bytes hold a C0 control character or DEL, which no EMV character set has. */
bool qr_has_control(const char *s, size_t len);

/* The checks of mopay_qr_decode's last stage, once framing, CRC and templates are known good:
 * invalid_qr_value on the first value its field does not allow, in payload order. */
enum mopay_err qr_check_values(const struct mopay_qr *qr);

#endif
