-- Per-stream summaries of stream_data in epoch-aligned buckets of 60 s, 15 min, 4 h and 1 day
-- (tier, in seconds), so that a chart over any range reads a few thousand rows. Written in the
-- same transaction as every insert and delete of stream_data rows; rows without a value are
-- not counted. first/last: the earliest and latest reading by (timestamp, id). Keyed for
-- range reads by stream and tier (on SQLite the table is the key's B-tree).
CREATE TABLE stream_rollups (
    stream_slug  TEXT NOT NULL,
    tier         BIGINT NOT NULL,
    bucket_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    min_value    DOUBLE PRECISION NOT NULL,
    max_value    DOUBLE PRECISION NOT NULL,
    sum_value    DOUBLE PRECISION NOT NULL,
    first_ts     BIGINT NOT NULL,
    first_value  DOUBLE PRECISION NOT NULL,
    last_ts      BIGINT NOT NULL,
    last_value   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (stream_slug, tier, bucket_start)
) WITHOUT_ROWID;

-- Backfill: the minute tier from the rows, each coarser tier from the one below. Bucket
-- starts round down, also before 1970 (`%` truncates toward zero).
INSERT INTO stream_rollups (stream_slug, tier, bucket_start, count, min_value, max_value,
                            sum_value, first_ts, first_value, last_ts, last_value)
SELECT stream_slug, 60, timestamp - ((timestamp % 60000000) + 60000000) % 60000000 AS b,
       COUNT(*), MIN(value), MAX(value), SUM(value), MIN(timestamp), 0, MAX(timestamp), 0
FROM stream_data WHERE value IS NOT NULL GROUP BY stream_slug, b;

UPDATE stream_rollups SET
    first_value = (SELECT d.value FROM stream_data d
                   WHERE d.stream_slug = stream_rollups.stream_slug
                     AND d.timestamp = stream_rollups.first_ts AND d.value IS NOT NULL
                   ORDER BY d.id LIMIT 1),
    last_value = (SELECT d.value FROM stream_data d
                  WHERE d.stream_slug = stream_rollups.stream_slug
                    AND d.timestamp = stream_rollups.last_ts AND d.value IS NOT NULL
                  ORDER BY d.id DESC LIMIT 1)
WHERE tier = 60;

INSERT INTO stream_rollups (stream_slug, tier, bucket_start, count, min_value, max_value,
                            sum_value, first_ts, first_value, last_ts, last_value)
SELECT stream_slug, 900, bucket_start - ((bucket_start % 900000000) + 900000000) % 900000000 AS b,
       SUM(count), MIN(min_value), MAX(max_value), SUM(sum_value), MIN(first_ts), 0,
       MAX(last_ts), 0
FROM stream_rollups WHERE tier = 60 GROUP BY stream_slug, b;

INSERT INTO stream_rollups (stream_slug, tier, bucket_start, count, min_value, max_value,
                            sum_value, first_ts, first_value, last_ts, last_value)
SELECT stream_slug, 14400,
       bucket_start - ((bucket_start % 14400000000) + 14400000000) % 14400000000 AS b,
       SUM(count), MIN(min_value), MAX(max_value), SUM(sum_value), MIN(first_ts), 0,
       MAX(last_ts), 0
FROM stream_rollups WHERE tier = 900 GROUP BY stream_slug, b;

INSERT INTO stream_rollups (stream_slug, tier, bucket_start, count, min_value, max_value,
                            sum_value, first_ts, first_value, last_ts, last_value)
SELECT stream_slug, 86400,
       bucket_start - ((bucket_start % 86400000000) + 86400000000) % 86400000000 AS b,
       SUM(count), MIN(min_value), MAX(max_value), SUM(sum_value), MIN(first_ts), 0,
       MAX(last_ts), 0
FROM stream_rollups WHERE tier = 14400 GROUP BY stream_slug, b;

-- A coarser bucket's first and last readings are those of its earliest and latest minute.
UPDATE stream_rollups SET
    first_value = (SELECT f.first_value FROM stream_rollups f
                   WHERE f.stream_slug = stream_rollups.stream_slug AND f.tier = 60
                     AND f.bucket_start >= stream_rollups.bucket_start
                     AND f.bucket_start < stream_rollups.bucket_start + stream_rollups.tier * 1000000
                   ORDER BY f.bucket_start LIMIT 1),
    last_value = (SELECT f.last_value FROM stream_rollups f
                  WHERE f.stream_slug = stream_rollups.stream_slug AND f.tier = 60
                    AND f.bucket_start >= stream_rollups.bucket_start
                    AND f.bucket_start < stream_rollups.bucket_start + stream_rollups.tier * 1000000
                  ORDER BY f.bucket_start DESC LIMIT 1)
WHERE tier > 60;
