/* Request bodies: depth and syntax checks, then declarative field specs. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

bool http_body_parse(struct mopay_http_request *req, const char *body, size_t len)
{
    if (!mopay_json_depth_ok(body, len)) { /* jansson has no depth option */
        mopay_http_reply_error(req, MOPAY_ERR_json_too_deep, NULL, "JSON may nest at most %d levels",
                               MOPAY_JSON_DEPTH_MAX);
        return false;
    }
    json_error_t error;
    mopay_arena_json_use(&req->arena);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    mopay_arena_json_use(NULL);
    if (root == NULL && req->arena.refused) {
        mopay_http_reply_error(req, MOPAY_ERR_body_too_large, NULL, "the body's JSON needs more than %d MiB to hold",
                               MOPAY_ARENA_BYTES_MAX / (1024 * 1024));
        return false;
    }
    if (root == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_json_malformed, NULL, "line %d, column %d: %s", error.line,
                               error.column, error.text);
        return false;
    }
    if (!json_is_object(root)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_wrong_type, "", "the body must be a JSON object");
        return false;
    }
    req->body = root;
    return true;
}

bool mopay_http_json_read(struct mopay_http_request *req, json_t *object, const struct mopay_json_field *spec,
                          void *out)
{
    if (object == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_body_required, NULL, "send a JSON object");
        return false;
    }
    struct mopay_json_error error;
    if (mopay_json_read(object, spec, out, &error))
        return true;
    mopay_http_reply_error(req, error.code, error.pointer, "%s", error.detail);
    return false;
}
