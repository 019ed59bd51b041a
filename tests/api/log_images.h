#ifndef MOPAY_TEST_LOG_IMAGES_H
#define MOPAY_TEST_LOG_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The log read and extended as docs/log.md describes it, the way a tool outside mopay would:
 * scenario tests look at a record's image, or append a changed one, between two starts. */

/* Calls fn for every record image in the log, in order; returns the last record's seq. */
typedef void (*log_image_fn)(void *ctx, int64_t seq, uint32_t tag, const uint8_t *payload, size_t len);
int64_t log_scan(const char *db, log_image_fn fn, void *ctx);

/* Appends one record holding `images` (whole images, headers included) as record seq. */
void log_append(const char *db, int64_t seq, const uint8_t *images, size_t len);

/* Deletes log record seq (a test undoing what it appended). */
void log_delete(const char *db, int64_t seq);

/* An image of `tag` (version 1, no flags) around `payload`; returns its length. */
size_t log_image(uint32_t tag, const uint8_t *payload, size_t len, uint8_t *out);

#endif
