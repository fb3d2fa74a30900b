-- Stream data and events: append-mostly, read by stream and time or by stream and reading id.
-- Project, device and variable slugs of a row are derived from stream_slug on output
-- (spec 4.4); device_slug is kept for the device-wide filter.

CREATE TABLE stream_data (
    id                IDENTITY_PK,
    stream_slug       TEXT NOT NULL,
    device_slug       TEXT NOT NULL,
    device_timestamp  BIGINT,
    timestamp         BIGINT NOT NULL,     -- microseconds since the epoch, UTC
    streamer_local_id BIGINT NOT NULL DEFAULT 0,
    dirty_ts          BIGINT NOT NULL DEFAULT 0,
    status            TEXT NOT NULL DEFAULT 'unk',
    type              TEXT NOT NULL DEFAULT 'Num',
    value             DOUBLE PRECISION,
    int_value         BIGINT
);
CREATE INDEX stream_data_stream_time ON stream_data (stream_slug, timestamp);
CREATE INDEX stream_data_stream_reading ON stream_data (stream_slug, streamer_local_id);
CREATE INDEX stream_data_device_time ON stream_data (device_slug, timestamp);

CREATE TABLE stream_events (
    id                IDENTITY_PK,
    uuid              TEXT NOT NULL UNIQUE,
    stream_slug       TEXT NOT NULL,
    device_slug       TEXT NOT NULL,
    device_timestamp  BIGINT,
    timestamp         BIGINT NOT NULL,
    streamer_local_id BIGINT NOT NULL DEFAULT 0,
    dirty_ts          BIGINT NOT NULL DEFAULT 0,
    status            TEXT NOT NULL DEFAULT 'unk',
    ext               TEXT NOT NULL DEFAULT 'json',
    extra_data        TEXT NOT NULL DEFAULT '{}',
    format_version    BIGINT NOT NULL DEFAULT 2,
    raw_data          TEXT                 -- the event's raw JSON document, when it has one
);
CREATE INDEX stream_events_stream_time ON stream_events (stream_slug, timestamp);
CREATE INDEX stream_events_stream_reading ON stream_events (stream_slug, streamer_local_id);
CREATE INDEX stream_events_device_time ON stream_events (device_slug, timestamp);
