-- The first schema. Portable SQL for both SQLite and PostgreSQL: TEXT, BIGINT and INTEGER only,
-- hashes as lowercase hex TEXT, times as BIGINT nanoseconds since the Unix epoch.
-- Migrations are applied in version order, each in its own transaction, and never edited once
-- released: change the schema with a new NNNN_name.sql file.

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_ns BIGINT NOT NULL
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- revoked_at_ns is 0 while the key is live.
CREATE TABLE admin_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at_ns BIGINT NOT NULL,
    revoked_at_ns BIGINT NOT NULL DEFAULT 0
);

-- The stored first answer to each idempotent request, kept for MOPAY_IDEMPOTENCY_TTL_S.
CREATE TABLE idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at_ns BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE INDEX idempotency_created_at_ns ON idempotency (created_at_ns);
