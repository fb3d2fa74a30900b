-- Streamer-report ingest: the upload's books and the durable job queue.

-- What an upload stored: where the raw file is, its digest (a second upload of the same
-- bytes is recognised), what kind of report it is, and how processing ended.
ALTER TABLE streamer_reports ADD COLUMN raw_key TEXT;
ALTER TABLE streamer_reports ADD COLUMN sha256 TEXT;
ALTER TABLE streamer_reports ADD COLUMN ext TEXT NOT NULL DEFAULT 'bin';
ALTER TABLE streamer_reports ADD COLUMN reading_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE streamer_reports ADD COLUMN status TEXT NOT NULL DEFAULT 'scheduled'; -- scheduled, processed, failed
ALTER TABLE streamer_reports ADD COLUMN new_count BIGINT;
ALTER TABLE streamer_reports ADD COLUMN duplicate_count BIGINT;
ALTER TABLE streamer_reports ADD COLUMN error TEXT;
ALTER TABLE streamer_reports ADD COLUMN processed_on BIGINT;
CREATE INDEX streamer_reports_digest ON streamer_reports (streamer_id, sha256);

-- Device heartbeat and the highest reading id the cloud holds (spec 5.4, 5.5).
CREATE TABLE device_status (
    device_id      BIGINT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    last_report_ts BIGINT,
    last_known_id  BIGINT NOT NULL DEFAULT 0
);

-- The job queue. A worker takes a job by setting state 'running' with a lease; while it
-- works it extends the lease (heartbeat). A job whose lease ran out is taken again by any
-- worker. Failures wait an exponential backoff; after max_attempts the job is 'dead' and
-- stays visible through the API. Jobs with the same key (a streamer) run one at a time, in
-- the order they were queued.
CREATE TABLE jobs (
    id           IDENTITY_PK,
    kind         TEXT NOT NULL,              -- e.g. 'process_report'
    job_key      TEXT NOT NULL,              -- serialisation key (streamer slug)
    payload      TEXT NOT NULL,              -- JSON
    state        TEXT NOT NULL DEFAULT 'queued', -- queued, running, done, dead
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 8,
    run_after    BIGINT NOT NULL,
    lease_until  BIGINT,
    worker       TEXT,
    last_error   TEXT,
    created_on   BIGINT NOT NULL,
    finished_on  BIGINT
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
CREATE INDEX jobs_key ON jobs (job_key, id);
