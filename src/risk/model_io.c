/* The model file, "mopay-risk-model v1": text, one value per line, doubles written with 17
 * significant digits so that a model reads back bit for bit. Used at start-up and by the CLI,
 * never on the scoring path. Example:
 *
 *   mopay-risk-model v1
 *   # score = 1 / (1 + exp(-(bias + sum of weight * (x - mean) / scale)))
 *   features 27
 *   # name mean scale weight
 *   feature log_amount 3.0912 1.1017 0.4521
 *   ...
 *   bias -6.2
 *   confirm_at 0.87
 *   decline_at 0.995
 *   trained seed 1 customers 3000 days 30 samples 300123 positives 2987 l2 0.0001 ...
 *   end
 *
 * Lines starting with '#' and blank lines are comments. The loader checks every line in order
 * and refuses a file whose features (names, count, order) are not this engine's: a model's
 * weights mean nothing against other features. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/risk.h"

#define MODEL_MAGIC "mopay-risk-model"
#define MODEL_VERSION 1
#define LINE_BYTES_MAX 512
#define LINES_MAX 1000 /* comments included: a bound on what a loader reads */

static bool fail(char *err, size_t err_size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(err, err_size, format, ap);
    va_end(ap);
    return false;
}

static void model_write(FILE *f, const struct mopay_risk_model *m)
{
    fprintf(f, MODEL_MAGIC " v%d\n", MODEL_VERSION);
    fprintf(f, "# Logistic regression over standardised features:\n");
    fprintf(f, "#   score = 1 / (1 + exp(-(bias + sum of weight * (x - mean) / scale)))\n");
    fprintf(f, "# score >= decline_at: decline; score >= confirm_at: confirm (PIN step-up).\n");
    fprintf(f, "features %d\n# name mean scale weight\n", MOPAY_RISK_FEATURE_COUNT);
    for (size_t i = 0; i < MOPAY_RISK_FEATURE_COUNT; i++)
        fprintf(f, "feature %s %.17g %.17g %.17g\n", mopay_risk_feature_name(i), m->mean[i], m->scale[i],
                m->weight[i]);
    fprintf(f, "bias %.17g\nconfirm_at %.17g\ndecline_at %.17g\n", m->bias, m->confirm_at, m->decline_at);
    const struct mopay_risk_model_trained *t = &m->trained;
    fprintf(f,
            "trained seed %" PRIu64 " customers %" PRIu32 " days %" PRIu32 " samples %" PRIu64
            " positives %" PRIu64 " l2 %.17g positive_weight %.17g iterations %" PRIu32 " loss %.17g\n",
            t->seed, t->customers, t->days, t->samples, t->positives, t->l2, t->positive_weight, t->iterations,
            t->loss);
    fprintf(f, "end\n");
}

bool mopay_risk_model_save(const struct mopay_risk_model *model, const char *path, char *err, size_t err_size)
{
    MOPAY_ASSERT(model != NULL && path != NULL && err != NULL);
    MOPAY_ASSERT(mopay_risk_model_valid(model)); /* check before writing */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return fail(err, err_size, "the path is too long");
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return fail(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
    model_write(f, model);
    bool written = fflush(f) == 0 && !ferror(f);
    int saved_errno = errno;
    if (fclose(f) != 0 || !written) {
        remove(tmp);
        return fail(err, err_size, "cannot write %s: %s", tmp, strerror(written ? errno : saved_errno));
    }
    if (rename(tmp, path) != 0) {
        saved_errno = errno;
        remove(tmp);
        return fail(err, err_size, "cannot rename %s to %s: %s", tmp, path, strerror(saved_errno));
    }
    return true;
}

struct reader {
    FILE *f;
    char line[LINE_BYTES_MAX];
    unsigned number; /* of the line in `line` */
    char *err;
    size_t err_size;
};

/* The next line that is not a comment, without its newline; false with a reason at the end of
 * the file, on a line too long, or past LINES_MAX. */
static bool next_line(struct reader *r)
{
    while (r->number < LINES_MAX) {
        if (fgets(r->line, sizeof(r->line), r->f) == NULL)
            return fail(r->err, r->err_size, "the file ends early, after line %u", r->number);
        r->number++;
        size_t len = strlen(r->line);
        if (len > 0 && r->line[len - 1] == '\n')
            r->line[--len] = '\0';
        else if (!feof(r->f))
            return fail(r->err, r->err_size, "line %u is too long", r->number);
        if (len > 0 && r->line[0] != '#')
            return true;
    }
    return fail(r->err, r->err_size, "more than %d lines", LINES_MAX);
}

/* A finite number at *s, which moves past it; false if there is none. */
static bool read_number(char **s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(*s, &end);
    if (end == *s || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    *s = end;
    return true;
}

static bool read_unsigned(char **s, uint64_t *out)
{
    while (**s == ' ')
        (*s)++;
    if (**s < '0' || **s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*s, &end, 10);
    if (errno != 0)
        return false;
    *out = v;
    *s = end;
    return true;
}

/* "KEY NUMBER" on the next line. */
static bool read_keyed(struct reader *r, const char *key, double *out)
{
    if (!next_line(r))
        return false;
    size_t len = strlen(key);
    char *s = r->line + len;
    if (strncmp(r->line, key, len) != 0 || *s != ' ' || !read_number(&s, out) || *s != '\0')
        return fail(r->err, r->err_size, "line %u: expected \"%s NUMBER\"", r->number, key);
    return true;
}

static bool read_header(struct reader *r)
{
    if (!next_line(r))
        return false;
    int version;
    char rest;
    if (sscanf(r->line, MODEL_MAGIC " v%d%c", &version, &rest) != 1)
        return fail(r->err, r->err_size, "not a mopay risk model (the first line is not \"" MODEL_MAGIC " v1\")");
    if (version != MODEL_VERSION)
        return fail(r->err, r->err_size, "model format v%d; this mopay reads v%d", version, MODEL_VERSION);
    double count;
    if (!read_keyed(r, "features", &count))
        return false;
    if (count != MOPAY_RISK_FEATURE_COUNT)
        return fail(r->err, r->err_size, "the model has %g features, this engine computes %d", count,
                    MOPAY_RISK_FEATURE_COUNT);
    return true;
}

/* "feature NAME MEAN SCALE WEIGHT" for feature i, whose name must be this engine's. */
static bool read_feature(struct reader *r, size_t i, struct mopay_risk_model *m)
{
    if (!next_line(r))
        return false;
    const char *name = mopay_risk_feature_name(i);
    size_t len = strlen(name);
    if (strncmp(r->line, "feature ", 8) != 0)
        return fail(r->err, r->err_size, "line %u: expected feature %zu (%s)", r->number, i + 1, name);
    char *s = r->line + 8;
    if (strncmp(s, name, len) != 0 || s[len] != ' ') {
        size_t got = strcspn(s, " ");
        return fail(r->err, r->err_size, "line %u: feature %zu is \"%.*s\"; this engine's is \"%s\"", r->number,
                    i + 1, (int)(got < 64 ? got : 64), s, name);
    }
    s += len;
    if (!read_number(&s, &m->mean[i]) || !read_number(&s, &m->scale[i]) || !read_number(&s, &m->weight[i]) ||
        *s != '\0')
        return fail(r->err, r->err_size, "line %u: expected \"feature %s MEAN SCALE WEIGHT\"", r->number, name);
    if (!(m->scale[i] > 0))
        return fail(r->err, r->err_size, "line %u: the scale of %s must be positive", r->number, name);
    return true;
}

static bool read_trained(struct reader *r, struct mopay_risk_model_trained *t)
{
    if (!next_line(r))
        return false;
    uint64_t seed, customers, days, samples, positives, iterations;
    char *s = r->line;
    bool ok = strncmp(s, "trained seed", 12) == 0 && (s += 12) && read_unsigned(&s, &seed) &&
              strncmp(s, " customers", 10) == 0 && (s += 10) && read_unsigned(&s, &customers) &&
              strncmp(s, " days", 5) == 0 && (s += 5) && read_unsigned(&s, &days) &&
              strncmp(s, " samples", 8) == 0 && (s += 8) && read_unsigned(&s, &samples) &&
              strncmp(s, " positives", 10) == 0 && (s += 10) && read_unsigned(&s, &positives) &&
              strncmp(s, " l2", 3) == 0 && (s += 3) && read_number(&s, &t->l2) &&
              strncmp(s, " positive_weight", 16) == 0 && (s += 16) && read_number(&s, &t->positive_weight) &&
              strncmp(s, " iterations", 11) == 0 && (s += 11) && read_unsigned(&s, &iterations) &&
              strncmp(s, " loss", 5) == 0 && (s += 5) && read_number(&s, &t->loss) && *s == '\0';
    if (!ok || customers > UINT32_MAX || days > UINT32_MAX || iterations > UINT32_MAX)
        return fail(r->err, r->err_size, "line %u: the \"trained ...\" line is malformed", r->number);
    t->seed = seed;
    t->customers = (uint32_t)customers;
    t->days = (uint32_t)days;
    t->samples = samples;
    t->positives = positives;
    t->iterations = (uint32_t)iterations;
    return true;
}

static bool read_model(struct reader *r, struct mopay_risk_model *m)
{
    if (!read_header(r))
        return false;
    for (size_t i = 0; i < MOPAY_RISK_FEATURE_COUNT; i++)
        if (!read_feature(r, i, m))
            return false;
    if (!read_keyed(r, "bias", &m->bias) || !read_keyed(r, "confirm_at", &m->confirm_at) ||
        !read_keyed(r, "decline_at", &m->decline_at) || !read_trained(r, &m->trained) || !next_line(r))
        return false;
    if (strcmp(r->line, "end") != 0)
        return fail(r->err, r->err_size, "line %u: expected \"end\"", r->number);
    if (!(m->confirm_at >= 0 && m->confirm_at <= m->decline_at && m->decline_at <= 1))
        return fail(r->err, r->err_size, "the thresholds must satisfy 0 <= confirm_at <= decline_at <= 1");
    return true;
}

bool mopay_risk_model_load(struct mopay_risk_model *model, const char *path, char *err, size_t err_size)
{
    MOPAY_ASSERT(model != NULL && path != NULL && err != NULL);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fail(err, err_size, "cannot open %s: %s", path, strerror(errno));
    struct reader r = {.f = f, .err = err, .err_size = err_size};
    struct mopay_risk_model m;
    memset(&m, 0, sizeof(m));
    bool ok = read_model(&r, &m);
    fclose(f);
    if (!ok)
        return false;
    MOPAY_ASSERT(mopay_risk_model_valid(&m)); /* check after reading: read_model checked each value */
    *model = m;
    return true;
}
