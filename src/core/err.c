#include "mopay/err.h"

#include <string.h>

struct err_entry {
    enum mopay_err err;
    int status;
    const char *code;
    const char *title;
};

static const struct err_entry err_table[] = {
#define MOPAY_ERROR(number, name, http_status, title) {MOPAY_ERR_##name, http_status, #name, title},
#include "mopay/errors.def"
#undef MOPAY_ERROR
};

#define ERR_TABLE_COUNT (sizeof(err_table) / sizeof(err_table[0]))

static const struct err_entry *err_find(enum mopay_err err)
{
    for (size_t i = 0; i < ERR_TABLE_COUNT; i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return NULL;
}

const char *mopay_err_code(enum mopay_err err)
{
    if (err == MOPAY_OK)
        return "ok";
    const struct err_entry *e = err_find(err);
    return e ? e->code : "unknown";
}

int mopay_err_status(enum mopay_err err)
{
    if (err == MOPAY_OK)
        return 200;
    const struct err_entry *e = err_find(err);
    return e ? e->status : 500;
}

const char *mopay_err_title(enum mopay_err err)
{
    if (err == MOPAY_OK)
        return "OK";
    const struct err_entry *e = err_find(err);
    return e ? e->title : "Unknown error";
}

enum mopay_err mopay_err_by_code(const char *code)
{
    for (size_t i = 0; i < ERR_TABLE_COUNT; i++)
        if (strcmp(err_table[i].code, code) == 0)
            return err_table[i].err;
    return MOPAY_OK;
}

size_t mopay_err_count(void)
{
    return ERR_TABLE_COUNT;
}

enum mopay_err mopay_err_at(size_t index)
{
    return index < ERR_TABLE_COUNT ? err_table[index].err : MOPAY_OK;
}
