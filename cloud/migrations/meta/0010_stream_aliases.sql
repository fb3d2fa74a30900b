-- Stream aliases (spec 3.22): a virtual stream `a--<id>` stitched from physical streams by
-- taps. A tap points at a stream from its timestamp until the next tap's, so a reading of
-- the alias is a reading of the stream the tap in force at its time points at.
CREATE TABLE stream_aliases (
    id         IDENTITY_PK,                 -- the slug's number
    name       TEXT NOT NULL,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_on BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX stream_aliases_org ON stream_aliases (org_id);

CREATE TABLE stream_alias_taps (
    id          IDENTITY_PK,
    alias_id    BIGINT NOT NULL REFERENCES stream_aliases(id) ON DELETE CASCADE,
    timestamp   BIGINT NOT NULL,
    stream_slug TEXT NOT NULL,
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX stream_alias_taps_alias ON stream_alias_taps (alias_id, timestamp);
