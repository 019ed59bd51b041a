/* POST /v1/test-clock/advance {"seconds": N}: moves a manual clock forward, so that tests can
 * reach expiries, lock-outs and tomorrow's limits without waiting. Only a server started with
 * --test-clock has a manual clock; any other answers 404 as if the endpoint did not exist. It
 * goes through the sequencer so that it lands between batches, never inside one. */
#include "internal.h"
#include "mopay/clock.h"

struct advance_cmd {
    struct mopay_http_command base;
    int64_t seconds;
};

static enum mopay_err advance_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    struct advance_cmd *a = (struct advance_cmd *)cmd;
    mopay_clock_advance_ns(a->seconds * 1000000000);
    return MOPAY_OK;
}

static json_t *advance_render(struct mopay_http_command *cmd, int *status)
{
    (void)cmd;
    *status = 200;
    return json_pack("{s:o}", "now", api_time_json(mopay_clock_now_ns()));
}

const struct mopay_json_field api_clock_advance_fields[] = {
    {.name = "seconds", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = offsetof(struct advance_cmd, seconds),
     .min = 1, .max = 400LL * 86400},
    {0},
};

void api_test_clock_advance(struct mopay_http_request *req)
{
    if (!mopay_clock_is_manual()) {
        mopay_http_reply_error(req, MOPAY_ERR_route_not_found, NULL, "no endpoint at this path");
        return;
    }
    struct advance_cmd *a = mopay_http_command_new(req, sizeof(*a), advance_apply, advance_render);
    if (a == NULL) {
        api_reply_oom(req);
        return;
    }
    if (mopay_http_json_read(req, mopay_http_body(req), api_clock_advance_fields, a))
        mopay_http_submit(req, &a->base);
}
