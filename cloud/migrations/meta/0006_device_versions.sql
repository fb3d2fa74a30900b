-- A device's OS and app versions as its version streams reported them (0x5C08 os, 0x5C09
-- app; spec 6.4): a record is added when a reading differs from the latest of its type, so
-- the latest record of each type is the device's live version, which OTA selection uses.

CREATE TABLE device_versions (
    id                IDENTITY_PK,
    device_id         BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    type              TEXT NOT NULL,       -- 'os' or 'app'
    tag               BIGINT NOT NULL,
    major             BIGINT NOT NULL,
    minor             BIGINT NOT NULL,
    streamer_local_id BIGINT NOT NULL,
    updated_ts        BIGINT NOT NULL,     -- the reading's time
    created_on        BIGINT NOT NULL
);
CREATE INDEX device_versions_device ON device_versions (device_id, type, id);
