-- OTA (spec 3.12 and 6): release keys, device scripts, deployment requests with their
-- frozen targets and rollout waves, and the actions agents report.

-- An org's ed25519 release keys (public halves only). A revoked key verifies nothing.
CREATE TABLE release_keys (
    id          IDENTITY_PK,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key_id      TEXT NOT NULL,                  -- rk--<public key hex>
    label       TEXT NOT NULL DEFAULT '',
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id),
    revoked_on  BIGINT,
    UNIQUE (org_id, key_id)
);

-- Whether the org lets scripts without a release signature be released (off by default).
CREATE TABLE org_ota_settings (
    org_id          TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    allow_unsigned  BIGINT NOT NULL DEFAULT 0,
    updated_on      BIGINT NOT NULL
);

-- A device script (`.trub`). Its id is the number inside its z-- slug. The file lives in
-- the object store under `file_key`; `signature` is the detached release signature (JSON).
CREATE TABLE device_scripts (
    id           BIGINT PRIMARY KEY,           -- sequential; z--xxxx-xxxx
    slug         TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    major        BIGINT NOT NULL,
    minor        BIGINT NOT NULL,
    patch        BIGINT NOT NULL,
    released     BIGINT NOT NULL DEFAULT 0,
    released_on  BIGINT,
    file_key     TEXT,
    file_name    TEXT,
    file_size    BIGINT,
    file_sha256  TEXT,
    signature    TEXT,
    created_on   BIGINT NOT NULL,
    created_by   BIGINT REFERENCES users(id),
    UNIQUE (org_id, name, major, minor, patch)
);

-- Two-step uploads (`uploadurl`, then `uploadsuccess`): where the file was put.
CREATE TABLE script_uploads (
    uuid        TEXT PRIMARY KEY,
    script_id   BIGINT NOT NULL REFERENCES device_scripts(id) ON DELETE CASCADE,
    file_key    TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id),
    done_on     BIGINT
);

-- A deployment of a script to a fleet, or to the whole org when `fleet_id` is null.
-- `rollout` is the staged plan (JSON: waves and failure threshold); `state` is draft,
-- running, halted or completed, with `state_reason` saying why it halted or completed.
-- `current_wave` is the last open wave (1-based; 0 while a draft), `resumed_on` the last time
-- it was resumed after a halt: failures reported before it no longer count towards halting.
CREATE TABLE deployment_requests (
    id                 IDENTITY_PK,
    script_id          BIGINT NOT NULL REFERENCES device_scripts(id),
    org_id             TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    fleet_id           BIGINT REFERENCES fleets(id) ON DELETE SET NULL,
    selection_criteria TEXT NOT NULL DEFAULT '[]',
    released_on        BIGINT,
    completed_on       BIGINT,
    rollout            TEXT,
    state              TEXT NOT NULL DEFAULT 'draft',
    state_reason       TEXT NOT NULL DEFAULT '',
    current_wave       BIGINT NOT NULL DEFAULT 0,
    resumed_on         BIGINT,
    created_on         BIGINT NOT NULL,
    created_by         BIGINT REFERENCES users(id)
);
CREATE INDEX deployment_requests_org ON deployment_requests (org_id, released_on);

-- The devices a deployment targeted when it was released, each in its rollout wave.
-- Completion counts these: a device that joins the fleet later does not hold it open.
CREATE TABLE deployment_targets (
    deployment_id  BIGINT NOT NULL REFERENCES deployment_requests(id) ON DELETE CASCADE,
    device_id      BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    wave           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment_id, device_id)
);
CREATE INDEX deployment_targets_device ON deployment_targets (device_id);

-- What an agent (gateway, coretools, desktop app) reported for one device, and whether the
-- device's own version streams confirmed it.
CREATE TABLE deployment_actions (
    id                   IDENTITY_PK,
    deployment_id        BIGINT NOT NULL REFERENCES deployment_requests(id) ON DELETE CASCADE,
    device_id            BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_on           BIGINT NOT NULL,
    last_attempt_on      BIGINT,
    attempt_successful   BIGINT NOT NULL DEFAULT 0,
    device_confirmation  BIGINT NOT NULL DEFAULT 0,
    log                  TEXT
);
CREATE INDEX deployment_actions_device ON deployment_actions (device_id, last_attempt_on);
CREATE INDEX deployment_actions_deployment ON deployment_actions (deployment_id);
