-- The signed-in user and the token the API gave them. One row.
CREATE TABLE session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cloud TEXT NOT NULL,
    email TEXT NOT NULL,
    username TEXT NOT NULL,
    -- NULL once signed out: the offline copy stays, nothing goes up.
    token TEXT,
    -- Unix seconds.
    token_expires INTEGER,
    signed_in_at INTEGER NOT NULL
);

-- The offline copy of what the user may see, replaced whole at each refresh.
CREATE TABLE copy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at INTEGER NOT NULL
);
CREATE TABLE orgs (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    org TEXT NOT NULL
);
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    label TEXT NOT NULL,
    project TEXT,
    org TEXT
);
-- Each org's OTA feed as the cloud sent it (`sync_protocol::ota::OtaFeed` as JSON).
CREATE TABLE feeds (
    org TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- Claims made on site, sent when the network allows. A device has at most one open claim.
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    project TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'refused')),
    -- Why the cloud refused, or why the last attempt did not reach it.
    reason TEXT,
    queued_at INTEGER NOT NULL,
    settled_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX claims_one_open ON claims (device) WHERE state = 'pending';

-- What went up and what failed, newest last; trimmed to the last few thousand entries.
CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL
);
