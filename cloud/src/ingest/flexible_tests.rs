//! FlexibleDictionaryReport processing (spec 5.7, check 11).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use sync_protocol::report::FlexibleDictionaryReport;

use super::*;

/// Just enough msgpack to write reports the way coretools and old packers do.
enum M {
    Map(Vec<(&'static str, M)>),
    List(Vec<M>),
    Text(String),
    Int(u64),
    Nil,
}

impl M {
    fn text(s: &str) -> M {
        M::Text(s.to_string())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            M::Map(entries) => {
                out.push(0x80 | entries.len() as u8);
                for (key, value) in entries {
                    M::text(key).encode(out);
                    value.encode(out);
                }
            }
            M::List(items) => {
                out.push(0x90 | items.len() as u8);
                items.iter().for_each(|item| item.encode(out));
            }
            M::Text(s) => {
                out.push(0xa0 | s.len() as u8);
                out.extend_from_slice(s.as_bytes());
            }
            M::Int(n) if *n < 128 => out.push(*n as u8),
            M::Int(n) => {
                out.push(0xcf);
                out.extend_from_slice(&n.to_be_bytes());
            }
            M::Nil => out.push(0xc0),
        }
    }
}

fn data(stream: M, id: u64, raw_time: u64, timestamp: M, value: u64) -> M {
    M::Map(vec![
        ("stream", stream),
        ("device_timestamp", M::Int(raw_time)),
        ("streamer_local_id", M::Int(id)),
        ("timestamp", timestamp),
        ("value", M::Int(value)),
    ])
}

fn event(stream: u64, id: u64, raw_time: u64, raw: M) -> M {
    M::Map(vec![
        ("stream", M::Int(stream)),
        ("device_timestamp", M::Int(raw_time)),
        ("streamer_local_id", M::Int(id)),
        ("timestamp", M::Nil),
        ("extra_data", M::Map(vec![("axis", M::text("z"))])),
        ("data", raw),
    ])
}

fn report(events: Vec<M>, data: Vec<M>) -> FlexibleDictionaryReport {
    let doc = M::Map(vec![
        ("format", M::text("v100")),
        ("device", M::Int(0xd2)),
        ("streamer_index", M::Int(256)),
        ("streamer_selector", M::Int(0xFFFF)),
        ("incremental_id", M::Int(20)),
        ("lowest_id", M::Int(2)),
        ("highest_id", M::Int(9)),
        ("device_sent_timestamp", M::Int(100)),
        ("events", M::List(events)),
        ("data", M::List(data)),
    ]);
    let mut bytes = Vec::new();
    doc.encode(&mut bytes);
    FlexibleDictionaryReport::decode(&bytes).unwrap()
}

fn at(text: &str) -> i64 {
    crate::time::parse(text, false).unwrap()
}

/// Nothing held yet.
static NOTHING: IdRanges = IdRanges::new();

fn ctx(streams: &HashMap<String, StreamSettings>) -> Context<'_> {
    Context {
        project_gid: 0x77,
        device_id: 0xd2,
        streamer_index: 256,
        selector: 0xFFFF,
        held: &NOTHING,
        received: at("2017-01-10T10:00:00.500Z"),
        previous: None,
        streams,
        report_id: "r",
    }
}

fn sample() -> FlexibleDictionaryReport {
    report(
        vec![
            event(
                0x5020,
                3,
                0x8000_0000 | 60,
                M::Map(vec![("x", M::List(vec![M::Int(1)]))]),
            ),
            event(0x5020, 4, 20, M::Nil),
        ],
        vec![
            data(M::Int(20512), 2, 10, M::text("2017-01-09T08:00:00"), 300),
            data(M::text("5020"), 9, 30, M::Nil, 7),
        ],
    )
}

#[test]
fn int_and_hex_streams_share_a_slug_and_times_are_placed() {
    let streams = HashMap::new();
    let out = process_flexible(&sample(), &ctx(&streams)).unwrap();
    let slug = "s--0000-0077--0000-0000-0000-00d2--5020";
    assert!(out.data.iter().all(|r| r.stream_slug == slug));
    assert!(out.events.iter().all(|e| e.stream_slug == slug));
    assert_eq!(out.data.len(), 2);
    // A zone-less item time is UTC; no time falls back to received − sent + device time.
    assert_eq!(out.data[0].timestamp, at("2017-01-09T08:00:00Z"));
    assert_eq!(out.data[1].timestamp, at("2017-01-10T09:58:50Z"));
    assert!(out.data.iter().all(|r| r.status == "unk" && !r.dirty_ts));
    assert_eq!(out.data[0].int_value, Some(300));
    assert_eq!(out.data[0].value, Some(300.0));
    assert_eq!(out.data[0].device_slug, "d--0000-0000-0000-00d2");
    // An RTC event takes its clock time.
    assert_eq!(out.events[0].timestamp, at("2000-01-01T00:01:00Z"));
    assert_eq!(out.events[1].timestamp, at("2017-01-10T09:58:40Z"));
}

#[test]
fn events_keep_their_summary_and_raw_document() {
    let streams = HashMap::new();
    let out = process_flexible(&sample(), &ctx(&streams)).unwrap();
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.events[0].extra_data, r#"{"axis":"z"}"#);
    let key = out.events[0].raw_key.clone().unwrap();
    assert!(
        key.starts_with("events/s--0000-0077--0000-0000-0000-00d2--"),
        "{key}"
    );
    assert!(key.ends_with("/r/0.json"), "{key}");
    assert_eq!(out.events[1].raw_key, None);
    assert_eq!(
        event_documents(&sample(), &ctx(&streams)),
        vec![(key, r#"{"x":[1]}"#.to_string())]
    );
    assert_eq!(out.events[0].streamer_local_id, 3);
    assert_eq!(out.events[1].device_timestamp, Some(20));
}

#[test]
fn ids_are_the_extremes_of_the_file_and_counts_cover_events_and_data() {
    let streams = HashMap::new();
    let mut c = ctx(&streams);
    let out = process_flexible(&sample(), &c).unwrap();
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(2), Some(9))
    );
    assert_eq!((out.original_first_id, out.original_last_id), (2, 9));
    assert_eq!((out.readings_in_file, out.new_count), (4, 4));
    assert_eq!(out.last_reboot_ts, None);

    assert_eq!(out.covers.ranges(), [(2, 4), (9, 9)], "its own ids only");

    let held = IdRanges::from_ranges([(1, 3)]);
    c.held = &held;
    let out = process_flexible(&sample(), &c).unwrap();
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.data.len(), 1);
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(2), Some(9))
    );
    assert_eq!((out.new_count, out.duplicate_count), (2, 2));
}

#[test]
fn uploading_again_stores_nothing() {
    let streams = HashMap::new();
    let mut c = ctx(&streams);
    let first = process_flexible(&sample(), &c).unwrap();
    let held = first.covers.clone();
    c.held = &held;
    let again = process_flexible(&sample(), &c).unwrap();
    assert!(again.data.is_empty() && again.events.is_empty());
    assert_eq!((again.actual_first_id, again.actual_last_id), (None, None));
    assert_eq!(again.duplicate_count, 4);
    assert_eq!(again.readings_in_file, 4);
}

#[test]
fn stream_records_convert_and_disable_data() {
    let mut streams = HashMap::new();
    let slug = "s--0000-0077--0000-0000-0000-00d2--5020".to_string();
    let scaled = StreamSettings {
        mdo: Some((1.0, 100.0, None)),
        ..StreamSettings::default()
    };
    streams.insert(slug.clone(), scaled);
    let out = process_flexible(&sample(), &ctx(&streams)).unwrap();
    assert_eq!(out.data[0].value, Some(3.0));
    assert_eq!(out.data[0].int_value, Some(300));
    streams.insert(
        slug,
        StreamSettings {
            enabled: false,
            ..StreamSettings::default()
        },
    );
    let out = process_flexible(&sample(), &ctx(&streams)).unwrap();
    assert!(out.data.is_empty());
    assert_eq!(out.actual_last_id, Some(9));
}
