-- The reading ids the cloud holds per streamer, as disjoint intervals [first_id, last_id] that
-- never touch (merged on insert): ingest stores a reading whose id no interval holds, so a
-- report that arrives after a newer one (another gateway was offline) is kept, not dropped.
-- Written in the same transaction as the stream data rows. A signed list report holds its
-- whole span (a streamer puts every reading it selects in that span into the report); a
-- dictionary report holds only its own ids. streamer_progress.last_id stays the highest id
-- held, the value clients read as the acknowledgement.
CREATE TABLE streamer_held (
    streamer_slug TEXT NOT NULL,
    first_id      BIGINT NOT NULL,
    last_id       BIGINT NOT NULL,
    PRIMARY KEY (streamer_slug, first_id)
);

-- Until now a reading was new only above last_id, so everything from 1 to last_id counts as
-- held: a reading at or below it was either stored or would have been dropped, and cannot
-- be told apart from a duplicate now. Deriving intervals from stream_data instead would
-- re-store readings dropped on purpose (disabled streams, reboots) and break on marker rows,
-- whose streamer_local_id is a report id, and rows do not record their streamer.
INSERT INTO streamer_held (streamer_slug, first_id, last_id)
SELECT streamer_slug, 1, last_id FROM streamer_progress WHERE last_id > 0;
