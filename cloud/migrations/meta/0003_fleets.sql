-- Fleets: named sets of one org's devices, the targets of OTA deployments and the gateway
-- whitelists coretools reads. A fleet's id is the number inside its g-- slug.

CREATE TABLE fleets (
    id          BIGINT PRIMARY KEY,          -- sequential; g--xxxx-xxxx-xxxx
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    is_network  BIGINT NOT NULL DEFAULT 0,
    created_on  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users(id),
    UNIQUE (org_id, name)
);

CREATE TABLE fleet_members (
    fleet_id        BIGINT NOT NULL REFERENCES fleets(id) ON DELETE CASCADE,
    device_id       BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    always_on       BIGINT NOT NULL DEFAULT 0,
    is_access_point BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (fleet_id, device_id)
);
CREATE INDEX fleet_members_device ON fleet_members (device_id);
