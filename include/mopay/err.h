#ifndef MOPAY_ERR_H
#define MOPAY_ERR_H

#include <stddef.h>

/* Operating errors are values of this enum, generated from errors.def. */
enum mopay_err {
    MOPAY_OK = 0,
#define MOPAY_ERROR(number, name, status, title) MOPAY_ERR_##name = number,
#include "mopay/errors.def"
#undef MOPAY_ERROR
};

/* The stable snake_case code, "ok" for MOPAY_OK, "unknown" for a number not in the registry. */
const char *mopay_err_code(enum mopay_err err);
/* The HTTP status the API answers with; 200 for MOPAY_OK, 500 for an unknown number. */
int mopay_err_status(enum mopay_err err);
const char *mopay_err_title(enum mopay_err err);
/* Looks a code up by its stable name; MOPAY_OK when unknown. */
enum mopay_err mopay_err_by_code(const char *code);

/* Every registered error in registry order, for documentation and tests. */
size_t mopay_err_count(void);
enum mopay_err mopay_err_at(size_t index);

#endif
