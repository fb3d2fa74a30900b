-- Reports received from PODs, kept until the cloud confirms them and the retention passes.
-- AUTOINCREMENT: ids are never reused after a prune, so id order is received order.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id INTEGER NOT NULL,
    streamer INTEGER NOT NULL,
    report_id INTEGER NOT NULL,
    first_reading_id INTEGER NOT NULL,
    last_reading_id INTEGER NOT NULL,
    reading_count INTEGER NOT NULL,
    raw BLOB NOT NULL,
    kind TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    sha256 BLOB NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'synced')),
    synced_at_us INTEGER,
    CHECK ((state = 'synced') = (synced_at_us IS NOT NULL))
);
CREATE INDEX reports_by_state ON reports (state, id);
CREATE INDEX reports_synced_at ON reports (synced_at_us) WHERE state = 'synced';

-- Bytes that did not verify or decode: kept for inspection, never synced.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    raw BLOB NOT NULL,
    reason TEXT NOT NULL,
    received_at_us INTEGER NOT NULL
);

-- Per POD streamer: the highest reading id acknowledged to the POD, and confirmed by the cloud.
CREATE TABLE streamers (
    device_id INTEGER NOT NULL,
    streamer INTEGER NOT NULL,
    acked_to_pod INTEGER,
    cloud_has INTEGER,
    PRIMARY KEY (device_id, streamer)
);
