#ifndef MOPAY_LOG_H
#define MOPAY_LOG_H

#include <stdbool.h>

/* Structured logging: one logfmt line per event on stderr, written with a single write(2) so
 * lines from different threads never interleave:
 *   ts=2026-11-21T08:30:00.123Z level=info msg="listening" listen=127.0.0.1:8080 */
enum mopay_log_level {
    MOPAY_LOG_DEBUG,
    MOPAY_LOG_INFO,
    MOPAY_LOG_WARN,
    MOPAY_LOG_ERROR,
};

void mopay_log_set_level(enum mopay_log_level level);
/* false when `name` is not one of debug, info, warn, error. */
bool mopay_log_level_parse(const char *name, enum mopay_log_level *out);
bool mopay_log_enabled(enum mopay_log_level level);

/* `fields` is a printf format for the key=value pairs after msg; may be "". */
void mopay_log(enum mopay_log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define MOPAY_LOG_DEBUG(msg, ...) \
    (mopay_log_enabled(MOPAY_LOG_DEBUG) ? mopay_log(MOPAY_LOG_DEBUG, msg, __VA_ARGS__) : (void)0)
#define MOPAY_LOG_INFO(msg, ...) mopay_log(MOPAY_LOG_INFO, msg, __VA_ARGS__)
#define MOPAY_LOG_WARN(msg, ...) mopay_log(MOPAY_LOG_WARN, msg, __VA_ARGS__)
#define MOPAY_LOG_ERROR(msg, ...) mopay_log(MOPAY_LOG_ERROR, msg, __VA_ARGS__)

#endif
