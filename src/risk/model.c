/* The model: logistic regression over standardised features. Scoring is on the payment path
 * (no allocation); training is offline (it allocates a standardised copy of the samples) and
 * deterministic: plain loops in a fixed order, no threads, no randomness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/risk.h"

#define F MOPAY_RISK_FEATURE_COUNT
#define D (F + 1)  /* the weights, then the bias */
#define LBFGS_M 8  /* correction pairs L-BFGS keeps */
#define LINE_SEARCH_STEPS_MAX 40

void mopay_risk_train_options_default(struct mopay_risk_train_options *options)
{
    MOPAY_ASSERT(options != NULL);
    options->l2 = 1e-4;
    options->positive_weight = 10;
    options->iterations_max = 300;
    options->tolerance = 1e-7;
    options->confirm_fpr = 0.004;
    options->decline_fpr = 0.0005;
}

static double sigmoid(double z)
{
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* log(1 + e^z) without overflow. */
static double softplus(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

double mopay_risk_model_score(const struct mopay_risk_model *model, const double features[F])
{
    MOPAY_ASSERT(model != NULL && features != NULL);
    double z = model->bias;
    for (size_t i = 0; i < F; i++)
        z += model->weight[i] * (features[i] - model->mean[i]) / model->scale[i];
    return sigmoid(z);
}

bool mopay_risk_model_valid(const struct mopay_risk_model *model)
{
    for (size_t i = 0; i < F; i++)
        if (!isfinite(model->mean[i]) || !isfinite(model->weight[i]) || !isfinite(model->scale[i]) ||
            !(model->scale[i] > 0))
            return false;
    return isfinite(model->bias) && model->confirm_at >= 0 && model->confirm_at <= model->decline_at &&
           model->decline_at <= 1;
}

/* The training set, standardised: x is n rows of F. */
struct train {
    const double *x;
    const uint8_t *y;
    size_t n;
    double positive_weight;
    double weight_total;
    double l2;
};

/* The weighted mean log loss plus the L2 penalty at w, and its gradient in g. */
static double loss_gradient(const struct train *t, const double w[D], double g[D])
{
    memset(g, 0, D * sizeof(double));
    double loss = 0;
    for (size_t i = 0; i < t->n; i++) {
        const double *x = &t->x[i * F];
        double z = w[F];
        for (size_t j = 0; j < F; j++)
            z += w[j] * x[j];
        double c = t->y[i] ? t->positive_weight : 1.0;
        loss += c * softplus(t->y[i] ? -z : z);
        double r = c * (sigmoid(z) - (double)t->y[i]);
        for (size_t j = 0; j < F; j++)
            g[j] += r * x[j];
        g[F] += r;
    }
    loss /= t->weight_total;
    for (size_t j = 0; j < D; j++)
        g[j] /= t->weight_total;
    for (size_t j = 0; j < F; j++) {
        loss += 0.5 * t->l2 * w[j] * w[j];
        g[j] += t->l2 * w[j];
    }
    return loss;
}

static double dot(const double *a, const double *b)
{
    double s = 0;
    for (size_t j = 0; j < D; j++)
        s += a[j] * b[j];
    return s;
}

struct lbfgs {
    double s[LBFGS_M][D], y[LBFGS_M][D], rho[LBFGS_M];
    size_t count, head; /* pairs kept; the next slot written */
};

/* The search direction -H g by the two-loop recursion over the kept pairs. */
static void lbfgs_direction(const struct lbfgs *m, const double g[D], double d[D])
{
    double alpha[LBFGS_M];
    for (size_t j = 0; j < D; j++)
        d[j] = -g[j];
    for (size_t k = 0; k < m->count; k++) {
        size_t i = (m->head + LBFGS_M - 1 - k) % LBFGS_M;
        alpha[i] = m->rho[i] * dot(m->s[i], d);
        for (size_t j = 0; j < D; j++)
            d[j] -= alpha[i] * m->y[i][j];
    }
    if (m->count > 0) {
        size_t last = (m->head + LBFGS_M - 1) % LBFGS_M;
        double gamma = dot(m->s[last], m->y[last]) / dot(m->y[last], m->y[last]);
        for (size_t j = 0; j < D; j++)
            d[j] *= gamma;
    }
    for (size_t k = m->count; k-- > 0;) {
        size_t i = (m->head + LBFGS_M - 1 - k) % LBFGS_M;
        double beta = m->rho[i] * dot(m->y[i], d);
        for (size_t j = 0; j < D; j++)
            d[j] += (alpha[i] - beta) * m->s[i][j];
    }
}

static void lbfgs_remember(struct lbfgs *m, const double w_old[D], const double w[D], const double g_old[D],
                           const double g[D])
{
    double s[D], y[D];
    for (size_t j = 0; j < D; j++) {
        s[j] = w[j] - w_old[j];
        y[j] = g[j] - g_old[j];
    }
    double sy = dot(s, y);
    if (sy <= 1e-12) /* not a descent curvature: keep the old pairs */
        return;
    memcpy(m->s[m->head], s, sizeof(s));
    memcpy(m->y[m->head], y, sizeof(y));
    m->rho[m->head] = 1 / sy;
    m->head = (m->head + 1) % LBFGS_M;
    if (m->count < LBFGS_M)
        m->count++;
}

/* Backtracking until the Armijo condition holds; false when no step along d decreases the loss.
 * On success w, g and *loss are the new point's. */
static bool line_search(const struct train *t, double w[D], double g[D], double *loss, const double d[D], double step)
{
    double w_new[D], g_new[D];
    double slope = dot(g, d);
    for (int k = 0; k < LINE_SEARCH_STEPS_MAX; k++, step *= 0.5) {
        for (size_t j = 0; j < D; j++)
            w_new[j] = w[j] + step * d[j];
        double loss_new = loss_gradient(t, w_new, g_new);
        if (loss_new <= *loss + 1e-4 * step * slope) {
            memcpy(w, w_new, sizeof(w_new));
            memcpy(g, g_new, sizeof(g_new));
            *loss = loss_new;
            return true;
        }
    }
    return false;
}

static double norm_inf(const double g[D])
{
    double m = 0;
    for (size_t j = 0; j < D; j++)
        m = fmax(m, fabs(g[j]));
    return m;
}

/* Minimises the loss from w = 0; returns the iterations taken. */
static uint32_t lbfgs_minimise(const struct train *t, const struct mopay_risk_train_options *o, double w[D],
                               double *loss)
{
    struct lbfgs memory; /* about 3.6 KiB */
    memset(&memory, 0, sizeof(memory));
    double g[D], d[D], w_old[D], g_old[D];
    memset(w, 0, D * sizeof(double));
    *loss = loss_gradient(t, w, g);
    uint32_t it = 0;
    for (; it < o->iterations_max && norm_inf(g) > o->tolerance; it++) {
        lbfgs_direction(&memory, g, d);
        if (dot(g, d) >= 0) { /* lost descent: start over from the gradient */
            memory.count = 0;
            for (size_t j = 0; j < D; j++)
                d[j] = -g[j];
        }
        double step = memory.count == 0 ? 1 / fmax(1.0, sqrt(dot(d, d))) : 1.0;
        memcpy(w_old, w, D * sizeof(double));
        memcpy(g_old, g, D * sizeof(double));
        double loss_old = *loss;
        if (!line_search(t, w, g, loss, d, step))
            break;
        lbfgs_remember(&memory, w_old, w, g_old, g);
        if (loss_old - *loss < 1e-12 * fmax(1.0, fabs(*loss)))
            break;
    }
    return it;
}

/* Means and scales (standard deviations; 1 for a constant feature), then a standardised copy. */
static double *standardise(const double *samples, size_t n, struct mopay_risk_model *model)
{
    double *x = malloc(n * F * sizeof(double));
    if (x == NULL)
        return NULL;
    for (size_t j = 0; j < F; j++) {
        double mean = 0, m2 = 0;
        for (size_t i = 0; i < n; i++) {
            double delta = samples[i * F + j] - mean;
            mean += delta / (double)(i + 1);
            m2 += delta * (samples[i * F + j] - mean);
        }
        double sd = sqrt(m2 / (double)n);
        model->mean[j] = mean;
        model->scale[j] = sd > 1e-9 ? sd : 1.0;
        for (size_t i = 0; i < n; i++)
            x[i * F + j] = (samples[i * F + j] - mean) / model->scale[j];
    }
    return x;
}

static int double_descending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The lowest threshold above all but floor(fpr * negatives) of the negative scores. */
static double threshold_at(const double *negatives, size_t count, double fpr)
{
    size_t allowed = (size_t)(fpr * (double)count);
    if (allowed >= count)
        return 0;
    return nextafter(negatives[allowed], 2.0);
}

bool mopay_risk_model_set_thresholds(struct mopay_risk_model *model, const double *scores, const uint8_t *labels,
                                     size_t n, double confirm_fpr, double decline_fpr)
{
    MOPAY_ASSERT(model != NULL && scores != NULL && labels != NULL);
    MOPAY_ASSERT(confirm_fpr >= decline_fpr && decline_fpr >= 0 && confirm_fpr <= 1);
    double *negatives = malloc((n ? n : 1) * sizeof(double));
    if (negatives == NULL)
        return false;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!labels[i])
            negatives[count++] = scores[i];
    if (count == 0) {
        free(negatives);
        return false;
    }
    qsort(negatives, count, sizeof(double), double_descending);
    model->confirm_at = fmin(1.0, threshold_at(negatives, count, confirm_fpr));
    model->decline_at = fmin(1.0, fmax(model->confirm_at, threshold_at(negatives, count, decline_fpr)));
    free(negatives);
    return true;
}

/* The thresholds from the model's own scores of its training samples. */
static bool training_thresholds(struct mopay_risk_model *model, const double *samples, const uint8_t *labels,
                                size_t n, const struct mopay_risk_train_options *options)
{
    double *scores = malloc(n * sizeof(double));
    if (scores == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        scores[i] = mopay_risk_model_score(model, &samples[i * F]);
    bool ok = mopay_risk_model_set_thresholds(model, scores, labels, n, options->confirm_fpr, options->decline_fpr);
    free(scores);
    return ok;
}

bool mopay_risk_model_train(const double *samples, const uint8_t *labels, size_t n,
                            const struct mopay_risk_train_options *options, struct mopay_risk_model *model)
{
    MOPAY_ASSERT(samples != NULL && labels != NULL && options != NULL && model != NULL);
    MOPAY_ASSERT(options->l2 >= 0 && options->positive_weight >= 0);
    size_t positives = 0;
    for (size_t i = 0; i < n; i++)
        positives += labels[i] != 0;
    if (positives == 0 || positives == n)
        return false;
    memset(model, 0, sizeof(*model));
    double *x = standardise(samples, n, model);
    if (x == NULL)
        return false;
    struct train t = {x, labels, n, options->positive_weight, 0, options->l2};
    if (t.positive_weight == 0)
        t.positive_weight = (double)(n - positives) / (double)positives;
    t.weight_total = (double)(n - positives) + t.positive_weight * (double)positives;
    double w[D], loss;
    uint32_t iterations = lbfgs_minimise(&t, options, w, &loss);
    free(x);
    memcpy(model->weight, w, F * sizeof(double));
    model->bias = w[F];
    model->trained = (struct mopay_risk_model_trained){
        .samples = n, .positives = positives, .l2 = options->l2, .positive_weight = t.positive_weight,
        .iterations = iterations, .loss = loss};
    return training_thresholds(model, samples, labels, n, options);
}

