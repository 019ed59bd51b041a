/* GET /healthz (public) and GET /metrics (the operator's key, or none on --metrics-listen's
 * address), answered from memory. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/clock.h"

void api_healthz(struct mopay_http_request *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    mopay_http_reply_raw(req, 200, "application/json", body, sizeof(body) - 1);
}

/* The sequencer's figures: queue depth, batch sizes, commands, commit time. */
static size_t seq_metrics(struct mopay_seq *seq, char *out, size_t cap)
{
    struct mopay_seq_stats st;
    mopay_seq_stats(seq, &st);
    size_t n = (size_t)snprintf(
        out, cap,
        "# HELP mopay_seq_queue_depth Commands waiting for the sequencer.\n"
        "# TYPE mopay_seq_queue_depth gauge\nmopay_seq_queue_depth %llu\n"
        "# HELP mopay_seq_queue_capacity Commands the sequencer queue holds before refusing.\n"
        "# TYPE mopay_seq_queue_capacity gauge\nmopay_seq_queue_capacity %llu\n"
        "# HELP mopay_seq_commands_total Commands applied and committed.\n"
        "# TYPE mopay_seq_commands_total counter\nmopay_seq_commands_total %llu\n"
        "# HELP mopay_seq_rejected_total Commands refused because the queue was full.\n"
        "# TYPE mopay_seq_rejected_total counter\nmopay_seq_rejected_total %llu\n"
        "# HELP mopay_seq_commit_seconds_total Time spent applying and committing batches.\n"
        "# TYPE mopay_seq_commit_seconds_total counter\nmopay_seq_commit_seconds_total %.9f\n"
        "# HELP mopay_seq_batch_size Commands per group-committed batch.\n"
        "# TYPE mopay_seq_batch_size histogram\n",
        (unsigned long long)st.queue_depth, (unsigned long long)st.queue_capacity,
        (unsigned long long)st.commands, (unsigned long long)st.rejected_full, (double)st.commit_ns_total / 1e9);
    uint64_t cumulative = 0;
    for (int b = 0; b < 14 && n < cap; b++) {
        cumulative += st.batch_size_buckets[b];
        n += (size_t)snprintf(out + n, cap - n, "mopay_seq_batch_size_bucket{le=\"%d\"} %llu\n", 1 << b,
                              (unsigned long long)cumulative);
    }
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n,
                              "mopay_seq_batch_size_bucket{le=\"+Inf\"} %llu\nmopay_seq_batch_size_sum %llu\n"
                              "mopay_seq_batch_size_count %llu\n",
                              (unsigned long long)cumulative, (unsigned long long)st.commands,
                              (unsigned long long)st.batches);
    return n < cap ? n : cap - 1;
}

/* Payments by method and outcome, refunds, and the webhook outbox. */
static size_t commerce_metrics(struct mopay_api *api, char *out, size_t cap)
{
    struct mopay_pay_stats ps;
    struct mopay_outbox_stats os;
    mopay_pay_stats(api->pay, &ps);
    mopay_outbox_stats(api->outbox, &os);
    size_t n = (size_t)snprintf(out, cap, "# HELP mopay_payments_total Payment outcomes, by method.\n"
                                          "# TYPE mopay_payments_total counter\n");
    for (int m = 0; m < MOPAY_PAY_METHODS && n < cap; m++)
        for (int s = 0; s < MOPAY_PAY_STATUSES && n < cap; s++)
            n += (size_t)snprintf(out + n, cap - n, "mopay_payments_total{method=\"%s\",outcome=\"%s\"} %llu\n",
                                  mopay_payment_method_name((enum mopay_payment_method)m),
                                  mopay_payment_status_name((enum mopay_payment_status)s),
                                  (unsigned long long)ps.payments[m][s]);
    if (n < cap)
        n += (size_t)snprintf(
            out + n, cap - n,
            "# HELP mopay_refunds_total Refunds made.\n# TYPE mopay_refunds_total counter\nmopay_refunds_total %llu\n"
            "# HELP mopay_webhooks_delivered_total Webhook events delivered.\n"
            "# TYPE mopay_webhooks_delivered_total counter\nmopay_webhooks_delivered_total %llu\n"
            "# HELP mopay_webhooks_failed_attempts_total Webhook attempts without a 2xx answer.\n"
            "# TYPE mopay_webhooks_failed_attempts_total counter\nmopay_webhooks_failed_attempts_total %llu\n"
            "# HELP mopay_webhooks_dead Webhook events given up on.\n"
            "# TYPE mopay_webhooks_dead gauge\nmopay_webhooks_dead %llu\n"
            "# HELP mopay_webhooks_pending Webhook events waiting or in flight.\n"
            "# TYPE mopay_webhooks_pending gauge\nmopay_webhooks_pending %llu\n",
            (unsigned long long)ps.refunds, (unsigned long long)os.delivered, (unsigned long long)os.failed_attempts,
            (unsigned long long)os.dead, (unsigned long long)os.pending);
    return n < cap ? n : cap - 1;
}

/* Wrong payment codes and cryptograms, and the terminals throttled for them (mopay/risk.h). */
static size_t guessing_metrics(struct mopay_api *api, char *out, size_t cap)
{
    struct mopay_risk_guess_stats g;
    mopay_risk_guessing_stats(mopay_pay_guessing(api->pay), &g);
    int n = snprintf(out, cap,
                     "# HELP mopay_wrong_codes_total Payment codes and NFC cryptograms judged wrong, by instrument.\n"
                     "# TYPE mopay_wrong_codes_total counter\n"
                     "mopay_wrong_codes_total{instrument=\"payment_code\"} %llu\n"
                     "mopay_wrong_codes_total{instrument=\"nfc\"} %llu\n"
                     "# HELP mopay_wrong_codes_refused_total Requests refused (429) by a terminal's wrong-code throttle.\n"
                     "# TYPE mopay_wrong_codes_refused_total counter\nmopay_wrong_codes_refused_total %llu\n"
                     "# HELP mopay_wrong_codes_alerts_total Terminals reported for guessing (GET /v1/risk/guessing).\n"
                     "# TYPE mopay_wrong_codes_alerts_total counter\nmopay_wrong_codes_alerts_total %llu\n",
                     (unsigned long long)g.wrong[MOPAY_RISK_GUESS_PAYMENT_CODE],
                     (unsigned long long)g.wrong[MOPAY_RISK_GUESS_NFC], (unsigned long long)g.refused,
                     (unsigned long long)g.alerts);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Admission control: requests refused for want of room, and the tick's work put off for it. */
static size_t capacity_metrics(struct mopay_api *api, char *out, size_t cap)
{
    struct mopay_pay_stats ps;
    mopay_pay_stats(api->pay, &ps);
    struct mopay_seq_stats st = {0};
    if (api->seq != NULL)
        mopay_seq_stats(api->seq, &st);
    int n = snprintf(
        out, cap,
        "# HELP mopay_capacity_exhausted_total Commands refused with capacity_exhausted (a bounded resource full).\n"
        "# TYPE mopay_capacity_exhausted_total counter\nmopay_capacity_exhausted_total %llu\n"
        "# HELP mopay_order_expiries_deferred_total Order expiries the tick put off: no room for their webhook.\n"
        "# TYPE mopay_order_expiries_deferred_total counter\nmopay_order_expiries_deferred_total %llu\n"
        "# HELP mopay_payment_timeouts_deferred_total Confirmation timeouts the tick put off: no room for their "
        "webhook.\n"
        "# TYPE mopay_payment_timeouts_deferred_total counter\nmopay_payment_timeouts_deferred_total %llu\n"
        "# HELP mopay_seq_tick_errors_total Ticks that ended on an operating error (tried again next tick).\n"
        "# TYPE mopay_seq_tick_errors_total counter\nmopay_seq_tick_errors_total %llu\n",
        (unsigned long long)atomic_load(&api->capacity_refused),
        (unsigned long long)mopay_merchant_expiries_deferred(api->merchant), (unsigned long long)ps.timeouts_deferred,
        (unsigned long long)st.tick_errors);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

void api_metrics(struct mopay_http_request *req)
{
    struct mopay_api *api = mopay_http_app(req);
    struct mopay_arena *arena = mopay_http_arena(req);
    char *http_text;
    size_t http_len;
    mopay_http_metrics_render(mopay_http_server_of(req), arena, &http_text, &http_len);
    size_t cap = http_len + 12288;
    char *body = mopay_arena_alloc(arena, cap);
    if (body == NULL || http_text == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory rendering metrics");
        return;
    }
    memcpy(body, http_text, http_len);
    size_t n = http_len;
    n += (size_t)snprintf(body + n, cap - n,
                          "# HELP mopay_build_info The running build.\n# TYPE mopay_build_info gauge\n"
                          "mopay_build_info{version=\"%s\",store=\"%s\"} 1\n",
                          MOPAY_VERSION, api->backend);
    if (api->seq != NULL && n < cap)
        n += seq_metrics(api->seq, body + n, cap - n);
    if (n < cap)
        n += commerce_metrics(api, body + n, cap - n);
    if (n < cap)
        n += guessing_metrics(api, body + n, cap - n);
    if (n < cap)
        n += capacity_metrics(api, body + n, cap - n);
    mopay_http_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, n < cap ? n : cap - 1);
}
