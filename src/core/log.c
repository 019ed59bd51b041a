#include "mopay/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mopay/clock.h"
#include "mopay/limits.h"

static _Atomic int log_level = MOPAY_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mopay_log_set_level(enum mopay_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool mopay_log_level_parse(const char *name, enum mopay_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum mopay_log_level)i;
            return true;
        }
    }
    return false;
}

bool mopay_log_enabled(enum mopay_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void mopay_log(enum mopay_log_level level, const char *msg, const char *fields, ...)
{
    if (!mopay_log_enabled(level))
        return;
    char line[MOPAY_LOG_LINE_BYTES_MAX];
    char ts[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(mopay_clock_now_ns(), ts);
    int n = snprintf(line, sizeof(line), "ts=%s level=%s msg=\"%s\"", ts, level_names[level], msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (fields[0] != '\0' && len + 2 < sizeof(line)) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + len, sizeof(line) - len, fields, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
    }
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2; /* truncated: still end the line */
    line[len++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, len);
    (void)unused;
}
