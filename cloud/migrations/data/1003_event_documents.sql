-- An event's raw JSON document lives in object storage; raw_key is its object key. Rows
-- written before keep their document in raw_data, which is still read when raw_key is NULL;
-- new rows set only raw_key.

ALTER TABLE stream_events ADD COLUMN raw_key TEXT;
