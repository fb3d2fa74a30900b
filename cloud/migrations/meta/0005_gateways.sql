-- Gateways: Raspberry Pis on site that sync reports with a signed ed25519 identity.

-- A one-time code an org admin makes so that a gateway can bind its public key to the org.
-- Only the code's SHA-256 is kept.
CREATE TABLE gateway_codes (
    id          IDENTITY_PK,
    code_sha256 TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_by  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_on  BIGINT NOT NULL,
    expires_on  BIGINT NOT NULL,
    used_on     BIGINT
);

-- A registered gateway. It acts for the org with the rights of the admin who made its code;
-- a revoked gateway is refused on every request.
CREATE TABLE gateways (
    id          IDENTITY_PK,
    key_id      TEXT NOT NULL UNIQUE,           -- gw--<public key hex>
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL DEFAULT '',
    created_by  BIGINT NOT NULL REFERENCES users(id),
    created_on  BIGINT NOT NULL,
    revoked_on  BIGINT,
    last_seen   BIGINT
);

-- Nonces of signed requests seen within the accepted clock skew: a nonce seen twice is a
-- replay. Rows older than the window are pruned.
CREATE TABLE gateway_nonces (
    key_id TEXT NOT NULL,
    nonce  TEXT NOT NULL,
    seen   BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX gateway_nonces_seen ON gateway_nonces (seen);
