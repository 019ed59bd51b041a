#include "mopay/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mopay/assert.h"

static _Atomic int64_t manual_ns = -1; /* -1: real time */

int64_t mopay_clock_now_ns(void)
{
    int64_t manual = atomic_load_explicit(&manual_ns, memory_order_relaxed);
    if (manual >= 0)
        return manual;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mopay_clock_set_ns(int64_t now_ns)
{
    MOPAY_ASSERT(now_ns >= 0);
    atomic_store(&manual_ns, now_ns);
}

void mopay_clock_advance_ns(int64_t delta_ns)
{
    MOPAY_ASSERT(delta_ns >= 0);
    MOPAY_ASSERT(mopay_clock_is_manual());
    atomic_fetch_add(&manual_ns, delta_ns);
}

void mopay_clock_use_real(void)
{
    atomic_store(&manual_ns, -1);
}

bool mopay_clock_is_manual(void)
{
    return atomic_load(&manual_ns) >= 0;
}

int64_t mopay_clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t mopay_time_format(int64_t ns, char buf[MOPAY_TIME_TEXT_BYTES])
{
    MOPAY_ASSERT(ns >= 0);
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(buf, MOPAY_TIME_TEXT_BYTES, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000000 % 1000));
    MOPAY_ASSERT(n > 0 && n < MOPAY_TIME_TEXT_BYTES);
    return (size_t)n;
}

/* Reads exactly `count` digits at s[*at]. */
static bool read_digits(const char *s, size_t len, size_t *at, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++, (*at)++) {
        if (*at >= len || s[*at] < '0' || s[*at] > '9')
            return false;
        v = v * 10 + (s[*at] - '0');
    }
    *out = v;
    return true;
}

static bool expect_char(const char *s, size_t len, size_t *at, char c)
{
    if (*at >= len || s[*at] != c)
        return false;
    (*at)++;
    return true;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static bool parse_offset(const char *s, size_t len, size_t *at, int64_t *offset_s)
{
    if (*at < len && (s[*at] == 'Z' || s[*at] == 'z')) {
        (*at)++;
        *offset_s = 0;
        return true;
    }
    if (*at >= len || (s[*at] != '+' && s[*at] != '-'))
        return false;
    int sign = s[(*at)++] == '-' ? -1 : 1, oh, om;
    if (!read_digits(s, len, at, 2, &oh) || !expect_char(s, len, at, ':') || !read_digits(s, len, at, 2, &om) ||
        oh > 23 || om > 59)
        return false;
    *offset_s = sign * (oh * 3600 + om * 60);
    return true;
}

enum mopay_err mopay_time_parse(const char *s, size_t len, int64_t *out_ns)
{
    size_t at = 0;
    int y, mo, d, h, mi, se;
    if (!read_digits(s, len, &at, 4, &y) || !expect_char(s, len, &at, '-') || !read_digits(s, len, &at, 2, &mo) ||
        !expect_char(s, len, &at, '-') || !read_digits(s, len, &at, 2, &d))
        return MOPAY_ERR_field_invalid;
    if (at >= len || (s[at] != 'T' && s[at] != 't'))
        return MOPAY_ERR_field_invalid;
    at++;
    if (!read_digits(s, len, &at, 2, &h) || !expect_char(s, len, &at, ':') || !read_digits(s, len, &at, 2, &mi) ||
        !expect_char(s, len, &at, ':') || !read_digits(s, len, &at, 2, &se))
        return MOPAY_ERR_field_invalid;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return MOPAY_ERR_field_invalid;
    int64_t frac_ns = 0;
    if (at < len && s[at] == '.') {
        at++;
        int digits = 0;
        for (; at < len && s[at] >= '0' && s[at] <= '9'; at++, digits++)
            if (digits < 9)
                frac_ns = frac_ns * 10 + (s[at] - '0');
        if (digits == 0 || digits > 9)
            return MOPAY_ERR_field_invalid;
        for (; digits < 9; digits++)
            frac_ns *= 10;
    }
    int64_t offset_s;
    if (!parse_offset(s, len, &at, &offset_s) || at != len)
        return MOPAY_ERR_field_invalid;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    /* int64 nanoseconds end at 2262-04-11T23:47:16.854775807Z: later times are refused, not wrapped. */
    if (secs < 0 || secs > (INT64_MAX - frac_ns) / 1000000000)
        return MOPAY_ERR_field_invalid;
    *out_ns = secs * 1000000000 + frac_ns;
    return MOPAY_OK;
}
