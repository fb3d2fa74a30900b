-- Configuration attributes (spec 3.14): JSON values on a user (`@slug`), an org (`^slug`), a
-- project, a device or a data block, under names staff define. A lookup walks from a device
-- up to its project, its org and the caller until one level has the name.
CREATE TABLE config_names (
    id          IDENTITY_PK,
    name        TEXT NOT NULL UNIQUE,       -- ":report:thresholds": a colon first, no spaces
    description TEXT NOT NULL DEFAULT '',
    tags        TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE config_attrs (
    id         IDENTITY_PK,
    target     TEXT NOT NULL,               -- canonical slug of the level
    name_id    BIGINT NOT NULL REFERENCES config_names(id) ON DELETE CASCADE,
    data       TEXT NOT NULL,               -- any JSON, null included
    updated_on BIGINT NOT NULL,
    updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    UNIQUE (target, name_id)
);
CREATE INDEX config_attrs_name ON config_attrs (name_id);
