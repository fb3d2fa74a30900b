-- What the buffer holds of each POD streamer, asked before every visit.
CREATE INDEX reports_by_streamer ON reports (device_id, streamer, last_reading_id);
