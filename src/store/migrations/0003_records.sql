-- The domain's durable state. The domain is a state machine that holds its state in memory
-- (customers, devices, sessions, wallets, funding sources, top-ups, ...); `records` is the durable
-- image of that state: each record is written in the same batch transaction as the change that
-- made it, and every record of a kind is loaded at start to rebuild the state.
-- A record is one JSON document rather than typed columns per kind because the database never
-- looks inside it: the domain is its only reader and writer, it is only ever read whole, and a new
-- kind or field needs no migration. TEXT rather than a JSON type keeps the SQL portable and gives
-- the bytes back exactly as written.
CREATE TABLE records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at_ns BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

-- Append-only histories, such as a wallet's transactions: immutable once written and read a page
-- at a time, newest first, rather than loaded at start. The primary key's column order is the
-- page query's: WHERE owner = ? AND (at_ns, id) < (?, ?) ORDER BY at_ns DESC, id DESC, so a page
-- is one index range scan however long the history.
CREATE TABLE entries (
    owner TEXT NOT NULL,
    at_ns BIGINT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (owner, at_ns, id)
);
