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

/* Rate limits (mopay/ratelimit.h; the limits themselves are options, 0 = off) */
#define MOPAY_RATELIMIT_KEYS_MAX 65536                /* keys each limiter remembers (16 bytes each) */
#define MOPAY_HTTP_TRUSTED_PROXIES_MAX 32             /* CIDR blocks in --trusted-proxies */
#define MOPAY_RATE_ANONYMOUS_PER_MIN 600              /* defaults of the options: see README */
#define MOPAY_RATE_BAD_TOKEN_PER_MIN 600
#define MOPAY_RATE_PRINCIPAL_PER_MIN 60000
#define MOPAY_SIGNUP_ADDRESS_PER_HOUR 1000
#define MOPAY_SIGNUP_PREFIX_PER_HOUR 500
#define MOPAY_SIGNUP_PREFIX_DIGITS_DROPPED 4          /* a phone's prefix: the number less its last 4 digits */
#define MOPAY_WRONG_CODES_MAX 100                     /* wrong payment codes or cryptograms per terminal... */
#define MOPAY_WRONG_CODES_WINDOW_S 600                /* ...in this many seconds */
#define MOPAY_WRONG_CODES_MERCHANT_FACTOR 10          /* a merchant's terminals together: this many times that */
#define MOPAY_WRONG_CODES_ALERTS_MAX 256              /* throttled terminals the risk report keeps */

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

/* Webhooks (the durable outbox and its delivery thread) */
#define MOPAY_OUTBOX_PENDING_MAX 100000                /* --outbox-events-max default; more: 503 */
#define MOPAY_WEBHOOK_RETRY_FIRST_S 1                  /* then 2 s, 4 s, ... */
#define MOPAY_WEBHOOK_RETRY_MAX_S 3600                 /* the longest wait between attempts */
#define MOPAY_WEBHOOK_ATTEMPTS_MAX 15                  /* failed attempts before an event is dead */
#define MOPAY_WEBHOOK_TIMEOUT_MS 5000                  /* one POST, connecting included */
#define MOPAY_WEBHOOK_DELIVERY_BATCH_MAX 64            /* events POSTed per delivery round */
#define MOPAY_WEBHOOK_IDLE_WAIT_MS 200                 /* the delivery thread's nap when nothing is due */
#define MOPAY_WEBHOOK_BODY_BYTES_MAX (64 * 1024)
#define MOPAY_WEBHOOK_URL_BYTES_MAX 512
#define MOPAY_WEBHOOK_TYPE_BYTES_MAX 64                /* "payment.succeeded" */

/* Admission control: what the server has room for. Each is checked when a request is admitted,
 * before anything changes; a full one answers 503 capacity_exhausted. Defaults of the
 * --*-max options (src/core/config.c). */
#define MOPAY_CUSTOMERS_MAX_DEFAULT 1000000
#define MOPAY_WALLETS_MAX_DEFAULT 1000000
#define MOPAY_MERCHANTS_MAX_DEFAULT 100000
#define MOPAY_ORDERS_MAX_DEFAULT 1000000               /* orders in memory, open or not */
#define MOPAY_QUOTES_MAX_DEFAULT 1000000               /* FX quotes in memory */
#define MOPAY_PAYMENTS_MAX_DEFAULT 5000000             /* payments in memory */
#define MOPAY_OUTBOX_EVENTS_MAX_DEFAULT MOPAY_OUTBOX_PENDING_MAX
#define MOPAY_OUTBOX_EVENTS_PER_MERCHANT_MAX_DEFAULT 10000 /* one merchant's undelivered events */
#define MOPAY_HTTP_CONNECTIONS_MAX_DEFAULT 10000       /* open client connections; more are closed */
/* open connections from one IPv4 address or IPv6 /64 (a carrier's NAT serves many phones) */
#define MOPAY_HTTP_CONNECTIONS_PER_ADDRESS_MAX_DEFAULT 1000
#define MOPAY_IDEMPOTENCY_RECORDS_MAX_DEFAULT 10000000 /* stored Idempotency-Key answers (kept 24 h) */
/* One customer's share of the quotes and payments kept in memory: without it, one customer
 * making quotes, or payments declined for want of money, would fill --quotes-max or
 * --payments-max for everyone. */
#define MOPAY_QUOTES_PER_CUSTOMER_PER_HOUR 120
#define MOPAY_DECLINES_PER_CUSTOMER_PER_HOUR 60
#define MOPAY_IDEMPOTENCY_RECORDS_PER_PRINCIPAL_MAX_DEFAULT 100000 /* new ones a day, one merchant key or customer */
#define MOPAY_HTTP_FDS_RESERVED 64                     /* descriptors kept besides connections */

/* Payments */
#define MOPAY_PAYMENT_CONFIRM_TTL_S (10 * 60)     /* a payment waits this long for its PIN */
#define MOPAY_NFC_KEYS_PER_BATCH_MAX 20
#define MOPAY_NFC_TAPS_PER_KEY_MAX 10
#define MOPAY_NFC_TTL_S_MAX (30 * 86400)
#define MOPAY_QR_GUID "com.mopay"                 /* mopay's template in merchant QR codes */

#endif
