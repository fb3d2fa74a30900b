-- Accounts, orgs, memberships, projects and their variables.

CREATE TABLE users (
    id            IDENTITY_PK,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL UNIQUE,   -- stored lower-case
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    tagline       TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,          -- argon2 PHC string
    api_token     TEXT NOT NULL UNIQUE,   -- the static 40-hex "Token" credential
    is_staff      BIGINT NOT NULL DEFAULT 0,
    is_active     BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- JWTs revoked by logout, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,          -- uuid
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    about       TEXT NOT NULL DEFAULT '',
    ot          TEXT,                      -- org template slug
    is_vendor   BIGINT NOT NULL DEFAULT 0,
    created_on  BIGINT NOT NULL,
    created_by  BIGINT NOT NULL REFERENCES users(id)
);

CREATE TABLE memberships (
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    role         TEXT NOT NULL,             -- a0 owner, a1 admin, m1 member, r1 operator, d1 developer
    permissions  TEXT NOT NULL,             -- JSON map name -> bool, set from the role on creation
    is_active    BIGINT NOT NULL DEFAULT 1,
    is_org_admin BIGINT NOT NULL DEFAULT 0,
    created_on   BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org ON memberships (org_id);

CREATE TABLE projects (
    id               TEXT PRIMARY KEY,      -- uuid, the URL lookup
    gid              BIGINT NOT NULL UNIQUE, -- sequential, the p-- slug number
    name             TEXT NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    about            TEXT NOT NULL DEFAULT '',
    project_template TEXT,
    created_on       BIGINT NOT NULL,
    created_by       BIGINT NOT NULL REFERENCES users(id)
);
CREATE INDEX projects_org ON projects (org_id, name);

CREATE TABLE variables (
    id                    TEXT PRIMARY KEY,  -- uuid
    slug                  TEXT NOT NULL UNIQUE,
    project_id            TEXT REFERENCES projects(id) ON DELETE CASCADE,
    org_id                TEXT REFERENCES orgs(id),
    lid                   BIGINT NOT NULL,
    name                  TEXT NOT NULL,
    about                 TEXT NOT NULL DEFAULT '',
    var_type              TEXT,
    input_unit            TEXT,              -- JSON unit object
    output_unit           TEXT,              -- JSON unit object
    derived_variable      TEXT,
    units                 TEXT NOT NULL DEFAULT '',
    raw_value_format      TEXT NOT NULL DEFAULT '<L',
    multiplication_factor BIGINT NOT NULL DEFAULT 1,
    division_factor       BIGINT NOT NULL DEFAULT 1,
    "offset"              DOUBLE PRECISION NOT NULL DEFAULT 0,
    decimal_places        BIGINT NOT NULL DEFAULT 2,
    mdo_label             TEXT NOT NULL DEFAULT '',
    web_only              BIGINT NOT NULL DEFAULT 0,
    app_only              BIGINT NOT NULL DEFAULT 0,
    created_on            BIGINT NOT NULL,
    created_by            BIGINT REFERENCES users(id),
    UNIQUE (project_id, lid)
);
