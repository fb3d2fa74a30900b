-- Exactly-once bookkeeping that lives beside the stream data, so that it commits in the same
-- transaction as the rows even when stream data has a database of its own.

-- The highest reading id stored per streamer: the duplicate filter of ingest.
CREATE TABLE streamer_progress (
    streamer_slug TEXT PRIMARY KEY,
    last_id       BIGINT NOT NULL
);

-- What processing a report stored; a report processed again finds its result here.
CREATE TABLE ingest_log (
    report_id   TEXT PRIMARY KEY,
    first_id    BIGINT NOT NULL,
    last_id     BIGINT NOT NULL,
    new_count   BIGINT NOT NULL,
    dup_count   BIGINT NOT NULL,
    processed   BIGINT NOT NULL
);
