-- What each gateway still holds for the cloud, as its latest sync batch told it
-- (`sync_protocol::gateway::Backlog`). `backlog_at` is NULL while no batch has told it (a
-- gateway whose version does not send it, or that never synced); the other columns are then
-- NULL too.
ALTER TABLE gateways ADD COLUMN backlog_at BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_reports BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_bytes BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_readings BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_oldest BIGINT;   -- the oldest report's receive time
ALTER TABLE gateways ADD COLUMN backlog_quarantined BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_ota_outcomes BIGINT;
ALTER TABLE gateways ADD COLUMN backlog_full BIGINT;     -- 0/1: collection stopped, buffer full
