#ifndef MOPAY_LIMITS_H
#define MOPAY_LIMITS_H

/* Every limit mopay enforces, in one place. Each loop has a bound and each buffer a cap. */

/* HTTP */
#define MOPAY_HTTP_BODY_BYTES_MAX (64 * 1024)          /* ordinary JSON endpoints */
#define MOPAY_HTTP_BODY_BULK_BYTES_MAX (4 * 1024 * 1024) /* ledger batches of 8,190 transfers */
#define MOPAY_HTTP_ENTITY_BYTES_MAX (MOPAY_HTTP_BODY_BULK_BYTES_MAX + 1)   /* h2o's own cap */
#define MOPAY_HTTP_HEADER_BYTES_MAX (8 * 1024)         /* names + values of all request headers */
#define MOPAY_HTTP_HEADERS_COUNT_MAX 64
#define MOPAY_HTTP_LOOP_THREADS_MAX 64
#define MOPAY_HTTP_IDLE_TIMEOUT_MS 30000
#define MOPAY_HTTP_DRAIN_TIMEOUT_MS 10000             /* graceful shutdown waits at most this */
#define MOPAY_HTTP_PATH_BYTES_MAX 1024
#define MOPAY_HTTP_WORKERS 2                          /* threads for slow work (PIN hashing) */
#define MOPAY_HTTP_WORK_QUEUE_MAX 1024                /* queued slow jobs; more = 503 overloaded */
#define MOPAY_HTTP_PATH_PARAMS_MAX 4
#define MOPAY_JSON_DEPTH_MAX 16
#define MOPAY_JSON_FIELDS_MAX 64                     /* fields in one object spec */
#define MOPAY_JSON_POINTER_BYTES_MAX 256
#define MOPAY_IDEMPOTENCY_KEY_BYTES_MAX 255
#define MOPAY_IDEMPOTENCY_TTL_S (24 * 3600)
#define MOPAY_ACCESS_LOG_BUFFER_BYTES (64 * 1024)

/* Request arena */
#define MOPAY_ARENA_CHUNK_BYTES (16 * 1024)
#define MOPAY_ARENA_BYTES_MAX (32 * 1024 * 1024)       /* one request may not use more; a full bulk body parses in it */

/* Writer (the single thread that applies commands and group-commits them) */
#define MOPAY_WRITER_QUEUE_DEPTH 65536                 /* full queue = 503 overloaded */
#define MOPAY_WRITER_BATCH_COMMANDS_MAX 8192
#define MOPAY_WRITER_BATCH_EVENTS_MAX 65536            /* ledger events per group commit */

/* Store */
#define MOPAY_STORE_URL_BYTES_MAX 1024
#define MOPAY_STORE_MIGRATIONS_MAX 256

/* Configuration */
#define MOPAY_CONFIG_FILE_BYTES_MAX (64 * 1024)
#define MOPAY_CONFIG_VALUE_BYTES_MAX 1024

/* Logging */
#define MOPAY_LOG_LINE_BYTES_MAX 2048

/* Keys */
#define MOPAY_ADMIN_KEY_NAME_BYTES_MAX 64
#define MOPAY_ADMIN_KEYS_MAX 1024

/* Connector (banks and card networks) */
#define MOPAY_CONNECTOR_PENDING_MAX 4096               /* requests awaiting a late answer; more = declined "timeout" */

#endif
