-- The ledger's durable event log. The ledger is an in-memory state machine; every sequencer batch
-- that changed it appends one record here (the batch's events in binary, with the timestamps the
-- sequencer gave them) in the same transaction as everything else the batch wrote. At start the
-- server replays the log from empty, which rebuilds the same state byte for byte.
-- BYTEA is PostgreSQL's binary type; SQLite accepts the name and keeps the values as BLOBs.
CREATE TABLE ledger_log (
    seq BIGINT PRIMARY KEY,
    data BYTEA NOT NULL
);
