-- Catalogue (var types, sensor graphs, device templates), devices, streams, streamers.

-- Read-mostly catalogue records keep their full API object as JSON; only the columns used
-- for lookups are broken out.
CREATE TABLE var_types (
    slug       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE sensor_graphs (
    id         IDENTITY_PK,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    active     BIGINT NOT NULL DEFAULT 1,
    app_tag    BIGINT,
    body       TEXT NOT NULL
);

CREATE TABLE device_templates (
    id         TEXT PRIMARY KEY,             -- uuid
    slug       TEXT NOT NULL UNIQUE,
    active     BIGINT NOT NULL DEFAULT 1,
    os_tag     BIGINT,
    body       TEXT NOT NULL
);

CREATE TABLE devices (
    id          BIGINT PRIMARY KEY,          -- the factory serial number
    slug        TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL DEFAULT '',
    active      BIGINT NOT NULL DEFAULT 1,
    external_id TEXT NOT NULL DEFAULT '',
    sg          TEXT REFERENCES sensor_graphs(slug),
    template    TEXT REFERENCES device_templates(slug),
    org_id      TEXT REFERENCES orgs(id),
    project_id  TEXT REFERENCES projects(id),
    lat         TEXT,                        -- decimal string
    lon         TEXT,
    state       TEXT NOT NULL DEFAULT 'N1',
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id),
    claimed_by  BIGINT REFERENCES users(id),
    claimed_on  BIGINT
);
CREATE INDEX devices_org ON devices (org_id);
CREATE INDEX devices_project ON devices (project_id);

-- Per-device secrets: the a-jwt signing key, and downloadable keys of other types.
CREATE TABLE device_keys (
    device_id    BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    secret       TEXT NOT NULL,
    downloadable BIGINT NOT NULL DEFAULT 0,
    created_on   BIGINT NOT NULL,
    PRIMARY KEY (device_id, type)
);

CREATE TABLE streams (
    id                    TEXT PRIMARY KEY,  -- uuid
    slug                  TEXT NOT NULL UNIQUE,
    project_id            TEXT REFERENCES projects(id) ON DELETE CASCADE,
    org_id                TEXT REFERENCES orgs(id),
    device_id             BIGINT REFERENCES devices(id),
    block                 BIGINT,
    variable_id           TEXT REFERENCES variables(id),
    data_label            TEXT NOT NULL DEFAULT '',
    var_type              TEXT,
    data_type             TEXT NOT NULL DEFAULT 'D0',
    var_name              TEXT NOT NULL DEFAULT '',
    var_lid               BIGINT NOT NULL,
    input_unit            TEXT,
    output_unit           TEXT,
    derived_stream        TEXT,
    raw_value_format      TEXT NOT NULL DEFAULT '<L',
    mdo_type              TEXT NOT NULL DEFAULT 'S',
    mdo_label             TEXT NOT NULL DEFAULT '',
    multiplication_factor BIGINT,
    division_factor       BIGINT,
    "offset"              DOUBLE PRECISION,
    enabled               BIGINT NOT NULL DEFAULT 1,
    created_on            BIGINT NOT NULL,
    created_by            BIGINT REFERENCES users(id)
);
CREATE INDEX streams_project ON streams (project_id);
CREATE INDEX streams_device ON streams (device_id);

CREATE TABLE streamers (
    id                 IDENTITY_PK,
    slug               TEXT NOT NULL UNIQUE,
    device_id          BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    idx                BIGINT NOT NULL,
    selector           BIGINT,
    process_engine_ver BIGINT NOT NULL DEFAULT 2,
    last_id            BIGINT NOT NULL DEFAULT 0,
    last_reboot_ts     BIGINT,
    created_on         BIGINT NOT NULL,
    UNIQUE (device_id, idx)
);

CREATE TABLE streamer_reports (
    id                    TEXT PRIMARY KEY,  -- uuid
    streamer_id           BIGINT NOT NULL REFERENCES streamers(id) ON DELETE CASCADE,
    original_first_id     BIGINT,
    original_last_id      BIGINT,
    actual_first_id       BIGINT,
    actual_last_id        BIGINT,
    sent_timestamp        BIGINT NOT NULL,
    device_sent_timestamp BIGINT,
    incremental_id        BIGINT,
    time_epsilon          DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    created_on            BIGINT NOT NULL,
    created_by            BIGINT REFERENCES users(id)
);
CREATE INDEX streamer_reports_streamer ON streamer_reports (streamer_id, created_on);

-- Properties, notes and locations attach to any target slug (d--, p--, b--, s--, ...).
CREATE TABLE properties (
    id         IDENTITY_PK,
    target     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    type       TEXT NOT NULL,               -- int, str, bool
    is_system  BIGINT NOT NULL DEFAULT 0,
    created_on BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    UNIQUE (target, name)
);

CREATE TABLE notes (
    id         IDENTITY_PK,
    target     TEXT NOT NULL,
    timestamp  BIGINT NOT NULL,
    note       TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT 'ui',
    user_id    BIGINT REFERENCES users(id),
    created_on BIGINT NOT NULL
);
CREATE INDEX notes_target ON notes (target, timestamp);

CREATE TABLE locations (
    id         IDENTITY_PK,
    target     TEXT NOT NULL,
    timestamp  BIGINT NOT NULL,
    lat        TEXT NOT NULL,
    lon        TEXT NOT NULL,
    user_id    BIGINT REFERENCES users(id)
);
CREATE INDEX locations_target ON locations (target, timestamp);
