-- The version readings (0x5C08, 0x5C09) a report stored, as JSON
-- `[[stream, value, reading id, timestamp µs], …]`: an attempt that finds the report in the
-- log records the device's versions from here, having no engine run of its own.

ALTER TABLE ingest_log ADD COLUMN versions TEXT NOT NULL DEFAULT '[]';
