#ifndef MOPAY_ASSERT_H
#define MOPAY_ASSERT_H

/* Programmer errors. Stays on in release builds: a broken invariant in a payment system must
 * stop the process rather than move money wrongly. */
_Noreturn void mopay_assert_fail(const char *expr, const char *file, int line, const char *func);

#define MOPAY_ASSERT(expr) \
    ((expr) ? (void)0 : mopay_assert_fail(#expr, __FILE__, __LINE__, __func__))

#define MOPAY_UNREACHABLE() mopay_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
