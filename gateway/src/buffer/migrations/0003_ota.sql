-- OTA: the cloud's latest deployment feed, scripts downloaded for it, each POD's update
-- progress, and the outcomes still to tell the cloud.

-- One row: the feed as last fetched, kept so a gateway restarted offline still knows it.
CREATE TABLE ota_feed (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    etag        TEXT,
    body        TEXT NOT NULL,
    fetched_us  INTEGER NOT NULL
);

-- Script bytes by slug, with the SHA-256 the feed promised.
CREATE TABLE ota_scripts (
    slug    TEXT PRIMARY KEY,
    sha256  TEXT NOT NULL,
    bytes   BLOB NOT NULL
);

-- One update of one POD by one deployment. `state` moves forward only:
-- sending → triggered → resetting → rebooting → succeeded | failed. Each state is written
-- (synchronous=FULL) before the step that could not be repeated safely.
CREATE TABLE ota_jobs (
    device_id      INTEGER NOT NULL,
    deployment_id  INTEGER NOT NULL,
    script_slug    TEXT NOT NULL,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    log            TEXT NOT NULL DEFAULT '',
    started_us     INTEGER NOT NULL,
    updated_us     INTEGER NOT NULL,
    PRIMARY KEY (device_id, deployment_id)
);

-- Outcomes for `POST gateway/ota/action/`, kept until the cloud has them.
CREATE TABLE ota_actions (
    id             INTEGER PRIMARY KEY,
    deployment_id  INTEGER NOT NULL,
    device_id      INTEGER NOT NULL,
    successful     INTEGER NOT NULL,
    attempt_us     INTEGER NOT NULL,
    log            TEXT NOT NULL,
    posted_us      INTEGER
);
