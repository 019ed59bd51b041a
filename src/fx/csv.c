/* The rates file of `mopay fx import` (fx.h): pair,rate,source,time.
 *
 * Two walks over the same text, the first with no callback: rows reach the caller only once the
 * whole file is known good, so the import is all or nothing without the parser holding rows. A
 * walk keeps nothing but a cursor, so both see the same lines and the second cannot fail where
 * the first passed. */
#include "mopay/fx.h"

#include <string.h>

#include "mopay/assert.h"
#include "mopay/clock.h"

#define CSV_HEADER "pair,rate,source,time"
#define CSV_FIELDS 4
#define CSV_PAIR_BYTES 7 /* "USD/CNY" */

typedef enum mopay_err (*csv_each_fn)(void *ctx, const struct mopay_fx_csv_row *row);

struct csv_cursor {
    const char *text;
    size_t len;
    size_t at;   /* the next line's first byte */
    size_t line; /* the number of the line last returned */
};

/* The next line without its LF or CRLF; false at the end of the text. Text after the last LF
 * is a line of its own, so a file need not end in a newline. A lone CR stays in the line, where
 * the field checks refuse it. */
static bool csv_next_line(struct csv_cursor *c, const char **line, size_t *line_len)
{
    if (c->at >= c->len)
        return false;
    const char *start = c->text + c->at;
    const char *lf = memchr(start, '\n', c->len - c->at);
    size_t n = lf != NULL ? (size_t)(lf - start) : c->len - c->at;
    c->at += n + (lf != NULL);
    if (lf != NULL && n > 0 && start[n - 1] == '\r')
        n--;
    c->line++;
    *line = start;
    *line_len = n;
    return true;
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* "USD/CNY": two different active codes. `*field` is set by the caller. */
static enum mopay_err csv_pair_parse(const char *s, size_t len, struct mopay_fx_csv_row *row)
{
    if (len != CSV_PAIR_BYTES || s[3] != '/')
        return MOPAY_ERR_fx_csv_invalid;
    for (size_t i = 0; i < CSV_PAIR_BYTES; i++)
        if (i != 3 && !is_upper(s[i]))
            return MOPAY_ERR_fx_csv_invalid;
    row->base = mopay_currency_by_alpha(s, 3);
    row->quote = mopay_currency_by_alpha(s + 4, 3);
    if (row->base == NULL || row->quote == NULL)
        return MOPAY_ERR_currency_unknown;
    if (row->base == row->quote) /* a rate of one currency to itself is 1, never a feed's */
        return MOPAY_ERR_fx_csv_invalid;
    return MOPAY_OK;
}

/* 1..64 printable ASCII bytes without '"': quoting is unsupported, and a quote here would be a
 * file written for a CSV reader that honours it, whose fields mopay would then read wrongly. */
static bool csv_source_valid(const char *s, size_t len)
{
    if (len == 0 || len > MOPAY_FX_SOURCE_BYTES_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7E || s[i] == '"')
            return false;
    return true;
}

/* Splits a line at its commas into exactly CSV_FIELDS fields; false for any other count. */
static bool csv_split(const char *line, size_t len, const char *field[CSV_FIELDS], size_t field_len[CSV_FIELDS])
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ',')
            continue;
        if (count == CSV_FIELDS)
            return false;
        field[count] = line + start;
        field_len[count] = i - start;
        count++;
        start = i + 1;
    }
    return count == CSV_FIELDS;
}

/* One rate line into *row. On failure *field names the column at fault (NULL: the line). */
static enum mopay_err csv_row_parse(const char *line, size_t len, struct mopay_fx_csv_row *row,
                                    const char **field)
{
    const char *f[CSV_FIELDS];
    size_t n[CSV_FIELDS];
    *field = NULL;
    if (!csv_split(line, len, f, n))
        return MOPAY_ERR_fx_csv_invalid;

    *field = "pair";
    enum mopay_err err = csv_pair_parse(f[0], n[0], row);
    if (err != MOPAY_OK)
        return err;
    *field = "rate";
    if (mopay_fx_rate_parse(f[1], n[1], &row->rate) != MOPAY_OK)
        return MOPAY_ERR_fx_rate_invalid;
    *field = "source";
    if (!csv_source_valid(f[2], n[2]))
        return MOPAY_ERR_fx_csv_invalid;
    row->source = f[2];
    row->source_len = n[2];
    *field = "time";
    if (mopay_time_parse(f[3], n[3], &row->time_ns) != MOPAY_OK)
        return MOPAY_ERR_fx_csv_invalid;
    *field = NULL;
    return MOPAY_OK;
}

/* One walk over the file, handing rows to `each` when it is not NULL. On failure *error names
 * the line; rows before it have been handed over. */
static enum mopay_err csv_walk(const char *text, size_t len, csv_each_fn each, void *ctx,
                               struct mopay_fx_csv_error *error)
{
    struct csv_cursor c = {.text = text, .len = len};
    const char *line;
    size_t line_len;
    error->line = 1;
    error->field = NULL;
    if (!csv_next_line(&c, &line, &line_len) || line_len != sizeof(CSV_HEADER) - 1 ||
        memcmp(line, CSV_HEADER, line_len) != 0)
        return MOPAY_ERR_fx_csv_invalid;

    size_t rows = 0, blank_line = 0; /* the first blank line, while only blank lines follow */
    while (csv_next_line(&c, &line, &line_len)) {
        error->line = c.line;
        error->field = NULL;
        if (line_len > MOPAY_FX_CSV_LINE_BYTES_MAX)
            return MOPAY_ERR_fx_csv_invalid;
        if (line_len == 0) {
            blank_line = blank_line != 0 ? blank_line : c.line;
            continue;
        }
        if (blank_line != 0) {
            error->line = blank_line;
            return MOPAY_ERR_fx_csv_invalid;
        }
        if (++rows > MOPAY_FX_CSV_ROWS_MAX)
            return MOPAY_ERR_fx_csv_invalid;
        struct mopay_fx_csv_row row = {.line = c.line};
        enum mopay_err err = csv_row_parse(line, line_len, &row, &error->field);
        if (err == MOPAY_OK && each != NULL)
            err = each(ctx, &row);
        if (err != MOPAY_OK)
            return err;
    }
    error->line = 0;
    error->field = NULL;
    return MOPAY_OK;
}

enum mopay_err mopay_fx_csv_parse(const char *text, size_t len,
                                  enum mopay_err (*each)(void *ctx, const struct mopay_fx_csv_row *row),
                                  void *ctx, struct mopay_fx_csv_error *error)
{
    MOPAY_ASSERT(text != NULL || len == 0);
    MOPAY_ASSERT(each != NULL);
    MOPAY_ASSERT(error != NULL);
    if (len > MOPAY_FX_CSV_BYTES_MAX) {
        *error = (struct mopay_fx_csv_error){.line = 0, .field = NULL};
        return MOPAY_ERR_fx_csv_invalid;
    }
    enum mopay_err err = csv_walk(text, len, NULL, NULL, error);
    if (err != MOPAY_OK)
        return err;
    return csv_walk(text, len, each, ctx, error);
}
