#ifndef MOPAY_CLOCK_H
#define MOPAY_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* Wall-clock time in nanoseconds since the Unix epoch. Real time by default; tests (and a
 * server started with a test clock) set it by hand. The domain never reads the clock: the
 * sequencer reads it once per batch and hands the time down. */
int64_t mopay_clock_now_ns(void);

/* Switches to a manual clock that stands at `now_ns` until set or advanced again. */
void mopay_clock_set_ns(int64_t now_ns);
/* Moves a manual clock forward; asserts the clock is manual and `delta_ns` >= 0. */
void mopay_clock_advance_ns(int64_t delta_ns);
void mopay_clock_use_real(void);
bool mopay_clock_is_manual(void);

/* Monotonic nanoseconds, for measuring durations only. */
int64_t mopay_clock_monotonic_ns(void);

/* "2026-11-21T08:30:00.123Z": RFC 3339 UTC with milliseconds. Returns the length. */
#define MOPAY_TIME_TEXT_BYTES 32
size_t mopay_time_format(int64_t ns, char buf[MOPAY_TIME_TEXT_BYTES]);
/* Parses RFC 3339 with 'Z' or a numeric offset and up to 9 fractional digits. */
enum mopay_err mopay_time_parse(const char *s, size_t len, int64_t *out_ns);

#endif
