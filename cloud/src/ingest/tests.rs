//! SignedListReport processing: the spec's worked examples and each rule of 5.5 and 5.6.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::Reading;

use super::engine::{NO_REBOOTS_SELECTOR, SYSTEM_SELECTOR};
use super::*;

/// Nothing held yet.
static NOTHING: IdRanges = IdRanges::new();

const USER_SELECTOR: u16 = 0x57FE;

fn at(text: &str) -> i64 {
    crate::time::parse(text, false).unwrap()
}

fn reading(stream: u16, reading_id: u32, raw_time: u32, value: u32) -> Reading {
    Reading {
        stream,
        reading_id,
        raw_time,
        value,
    }
}

fn report(sent_timestamp: u32, report_id: u32, readings: &[Reading]) -> SignedListReport {
    let header = SignedListHeader {
        device_id: 0xd2,
        report_id,
        sent_timestamp,
        streamer: 1,
        selector: USER_SELECTOR,
    };
    SignedListReport::build(header, readings, Signer::Hash).unwrap()
}

fn ctx<'a>(streams: &'a HashMap<String, StreamSettings>, received: &str) -> Context<'a> {
    Context {
        project_gid: 0x77,
        device_id: 0xd2,
        streamer_index: 1,
        selector: USER_SELECTOR,
        held: &NOTHING,
        received: at(received),
        previous: None,
        streams,
        report_id: "r",
    }
}

fn slug(lid: u16) -> String {
    format!("s--0000-0077--0000-0000-0000-00d2--{lid:04x}")
}

/// (stream lid, timestamp, status) of every row but the marker.
fn times(out: &Outcome) -> Vec<(String, String, &str)> {
    out.data
        .iter()
        .filter(|r| !r.stream_slug.ends_with("5a05"))
        .map(|r| {
            (
                r.stream_slug[r.stream_slug.len() - 4..].to_string(),
                crate::time::format_seconds(r.timestamp),
                r.status.as_str(),
            )
        })
        .collect()
}

/// The engine-v2 example of spec 5.6: rows before the reboot at t=10..50, the reboot at t=2,
/// then t=10 and t=20, received at 10:00:00 with sent_timestamp 240.
fn reboot_example() -> SignedListReport {
    let mut rows: Vec<Reading> = (1..=5).map(|i| reading(0x5001, i, i * 10, i)).collect();
    rows.push(reading(0x5C00, 6, 2, 0));
    rows.push(reading(0x5001, 7, 10, 7));
    rows.push(reading(0x5001, 8, 20, 8));
    report(240, 9, &rows)
}

#[test]
fn worked_reboot_example_is_repaired_from_the_previous_report() {
    let streams = HashMap::new();
    let mut c = ctx(&streams, "2016-09-28T10:00:00Z");
    c.selector = SYSTEM_SELECTOR;
    c.previous = Some(PreviousReport {
        sent_timestamp: at("2016-09-28T09:56:00.700Z"),
        device_sent_timestamp: 60,
    });
    let out = process_signed_list(&reboot_example(), &c).unwrap();
    let expected = [
        ("5001", "2016-09-28T09:55:10Z"),
        ("5001", "2016-09-28T09:55:20Z"),
        ("5001", "2016-09-28T09:55:30Z"),
        ("5001", "2016-09-28T09:55:40Z"),
        ("5001", "2016-09-28T09:55:50Z"),
        ("5c00", "2016-09-28T09:56:02Z"),
        ("5001", "2016-09-28T09:56:10Z"),
        ("5001", "2016-09-28T09:56:20Z"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(lid, ts)| (lid.to_string(), ts.to_string(), "cln"))
        .collect();
    assert_eq!(times(&out), expected);
    assert!(out.data.iter().all(|r| !r.dirty_ts));
    assert_eq!(out.last_reboot_ts, Some(at("2016-09-28T09:56:00Z")));
}

#[test]
fn without_a_previous_report_earlier_segments_end_before_the_reboot_and_are_dirty() {
    let streams = HashMap::new();
    let out =
        process_signed_list(&reboot_example(), &ctx(&streams, "2016-09-28T10:00:00Z")).unwrap();
    let got = times(&out);
    // The user streamer drops the reboot row but still uses it for timing.
    assert_eq!(got.len(), 7);
    assert!(got.iter().all(|(lid, _, _)| lid == "5001"));
    let first: Vec<_> = got[..5]
        .iter()
        .map(|(_, ts, st)| (ts.as_str(), *st))
        .collect();
    assert_eq!(
        first,
        [
            ("2016-09-28T09:55:19Z", "drt"),
            ("2016-09-28T09:55:29Z", "drt"),
            ("2016-09-28T09:55:39Z", "drt"),
            ("2016-09-28T09:55:49Z", "drt"),
            ("2016-09-28T09:55:59Z", "drt"),
        ]
    );
    assert_eq!(got[5].1, "2016-09-28T09:56:10Z");
    assert_eq!(got[6].2, "cln");
    assert!(out.data[..5].iter().all(|r| r.dirty_ts));
    assert!(!out.data[5].dirty_ts);
}

#[test]
fn check_9_uptime_and_rtc_readings() {
    let streams = HashMap::new();
    let rtc = 0x8000_0000 | 86_400;
    let r = report(
        4600,
        10,
        &[reading(0x5001, 1, 1000, 5), reading(0x5001, 2, rtc, 6)],
    );
    // A fractional received time is cut to whole seconds.
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00.900Z")).unwrap();
    assert_eq!(out.data[0].timestamp, at("2017-01-10T09:00:00Z"));
    assert_eq!(out.data[0].status, "cln");
    assert_eq!(out.data[1].timestamp, at("2000-01-02T00:00:00Z"));
    assert_eq!(out.data[1].status, "utc");
    assert!(!out.data[1].dirty_ts);
    assert_eq!(out.data[0].device_timestamp, Some(1000));
    assert_eq!(out.data[1].device_timestamp, Some(i64::from(rtc)));
}

#[test]
fn unknown_time_is_placed_next_to_its_neighbour_and_dirty() {
    let streams = HashMap::new();
    let r = report(
        100,
        10,
        &[
            reading(0x5001, 1, 0xFFFF_FFFF, 1),
            reading(0x5001, 2, 40, 2),
        ],
    );
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert_eq!(out.data[0].timestamp, at("2017-01-10T09:59:00Z"));
    assert_eq!(out.data[0].status, "drt");
    assert!(out.data[0].dirty_ts);
    assert_eq!(out.data[1].status, "cln");
}

#[test]
fn rows_carry_canonical_slugs_ids_and_raw_values() {
    let streams = HashMap::new();
    let r = report(10, 10, &[reading(0x5001, 3, 5, 0xFFFF_FFFF)]);
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    let row = &out.data[0];
    assert_eq!(row.stream_slug, slug(0x5001));
    assert_eq!(row.device_slug, "d--0000-0000-0000-00d2");
    assert_eq!(row.streamer_local_id, 3);
    assert_eq!(row.int_value, Some(0xFFFF_FFFF));
    assert_eq!(row.value, Some(4_294_967_295.0));
    assert_eq!(row.kind, "Num");
}

#[test]
fn only_ids_not_held_are_new_and_id_0_never_is() {
    let streams = HashMap::new();
    let rows: Vec<_> = (0..=5).map(|i| reading(0x5001, i, i, i)).collect();
    let r = report(10, 10, &rows);
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let out = process_signed_list(&r, &c).unwrap();
    assert_eq!(out.new_count, 5);
    assert_eq!(out.duplicate_count, 1);
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(1), Some(5))
    );
    assert_eq!((out.original_first_id, out.original_last_id), (1, 5));
    assert!(out.data.iter().all(|row| row.streamer_local_id != 0));

    assert_eq!(out.covers.ranges(), [(1, 5)]);

    let held = IdRanges::from_ranges([(1, 3)]);
    c.held = &held;
    let out = process_signed_list(&r, &c).unwrap();
    let ids: Vec<_> = out.data.iter().map(|row| row.streamer_local_id).collect();
    assert_eq!(ids, [4, 5, 10]);
    assert_eq!((out.new_count, out.duplicate_count), (2, 4));
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(4), Some(5))
    );
    assert_eq!(out.readings_in_file, 6);
}

#[test]
fn an_overlapping_report_stores_only_what_is_past_the_first() {
    let streams = HashMap::new();
    let first = report(
        50,
        6,
        &(1..=5)
            .map(|i| reading(0x5001, i, i, i))
            .collect::<Vec<_>>(),
    );
    let second = report(
        60,
        9,
        &(3..=8)
            .map(|i| reading(0x5001, i, i, i))
            .collect::<Vec<_>>(),
    );
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let a = process_signed_list(&first, &c).unwrap();
    let held = a.covers.clone();
    c.held = &held;
    let b = process_signed_list(&second, &c).unwrap();
    let ids: Vec<_> = b.data.iter().map(|row| row.streamer_local_id).collect();
    assert_eq!(ids, [6, 7, 8, 9]);
    assert_eq!((b.actual_first_id, b.actual_last_id), (Some(6), Some(8)));
}

#[test]
fn nothing_new_gives_no_rows_no_marker_and_no_ids() {
    let streams = HashMap::new();
    let r = report(
        10,
        10,
        &[reading(0x5001, 1, 1, 1), reading(0x5001, 2, 2, 2)],
    );
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let held = IdRanges::from_ranges([(1, 2)]);
    c.held = &held;
    let out = process_signed_list(&r, &c).unwrap();
    assert!(out.data.is_empty() && out.events.is_empty());
    assert_eq!((out.actual_first_id, out.actual_last_id), (None, None));
    assert_eq!((out.new_count, out.duplicate_count), (0, 2));
    assert_eq!(out.last_reboot_ts, None);
    let empty = report(10, 10, &[]);
    let out = process_signed_list(&empty, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert!(out.data.is_empty());
    assert_eq!(out.actual_last_id, None);
}

#[test]
fn marker_row_describes_the_report() {
    let streams = HashMap::new();
    let r = report(300, 77, &[reading(0x5001, 1, 1, 1)]);
    let mut c = ctx(&streams, "2017-01-10T10:00:00.250Z");
    c.streamer_index = 1;
    let out = process_signed_list(&r, &c).unwrap();
    let marker = out.data.last().unwrap();
    assert_eq!(marker.stream_slug, slug(0x5a05));
    assert_eq!(marker.streamer_local_id, 77);
    assert_eq!(marker.device_timestamp, Some(300));
    assert_eq!(marker.timestamp, at("2017-01-10T10:00:00Z"));
    assert_eq!(marker.int_value, Some(1));
    assert_eq!(marker.status, "cln");
    assert!(!marker.dirty_ts);
    // The marker's id is not a reading id.
    assert_eq!(out.actual_last_id, Some(1));
}

#[test]
fn a_report_at_the_size_limit_gets_the_cut_off_marker() {
    let streams = HashMap::new();
    let rows: Vec<_> = (1..=12_286).map(|i| reading(0x5001, i, i, i)).collect();
    let r = report(20_000, 20_000, &rows);
    assert_eq!(r.len(), 196_620);
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert_eq!(out.data.len(), 12_287);
    assert_eq!(out.data.last().unwrap().stream_slug, slug(0x5a06));
}

#[test]
fn reboots_are_stored_only_by_the_system_streamer() {
    let streams = HashMap::new();
    let r = report(
        100,
        10,
        &[
            reading(0x5001, 1, 50, 1),
            reading(0x5C00, 2, 1, 0),
            reading(0x5001, 3, 60, 3),
        ],
    );
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let user = process_signed_list(&r, &c).unwrap();
    let lids: Vec<_> = times(&user).into_iter().map(|t| t.0).collect();
    assert_eq!(lids, ["5001", "5001"]);
    assert_eq!(user.data[0].status, "drt");
    assert_eq!(user.actual_last_id, Some(3));
    c.selector = SYSTEM_SELECTOR;
    let system = process_signed_list(&r, &c).unwrap();
    let lids: Vec<_> = times(&system).into_iter().map(|t| t.0).collect();
    assert_eq!(lids, ["5001", "5c00", "5001"]);
    assert_eq!(system.data[1].timestamp, at("2017-01-10T09:58:21Z"));
}

#[test]
fn disabled_streams_are_dropped_but_their_ids_count() {
    let mut streams = HashMap::new();
    let off = StreamSettings {
        enabled: false,
        ..StreamSettings::default()
    };
    streams.insert(slug(0x5002), off);
    let r = report(
        10,
        10,
        &[reading(0x5001, 1, 1, 1), reading(0x5002, 2, 2, 2)],
    );
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    let lids: Vec<_> = out.data.iter().map(|row| row.stream_slug.clone()).collect();
    assert_eq!(lids, [slug(0x5001), slug(0x5a05)]);
    assert_eq!(out.actual_last_id, Some(2));
    assert_eq!(out.new_count, 2);
}

#[test]
fn values_follow_the_stream_record() {
    let mut streams = HashMap::new();
    let signed = StreamSettings {
        raw_value_format: "<l".into(),
        mdo: Some((1.0, 10.0, Some(0.5))),
        ..StreamSettings::default()
    };
    streams.insert(slug(0x5001), signed);
    let unit = StreamSettings {
        input_unit_mdo: Some((2.0, 1.0, None)),
        ..StreamSettings::default()
    };
    streams.insert(slug(0x5002), unit);
    let r = report(
        10,
        10,
        &[
            reading(0x5001, 1, 1, 0xFFFF_FFEC),
            reading(0x5002, 2, 2, 21),
        ],
    );
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert_eq!(out.data[0].value, Some(-1.5));
    assert_eq!(out.data[0].int_value, Some(0xFFFF_FFEC));
    assert_eq!(out.data[0].kind, "Num");
    assert_eq!(out.data[1].value, Some(42.0));
    assert_eq!(out.data[1].kind, "ITR");
}

#[test]
fn version_readings_are_reported_for_ota() {
    let streams = HashMap::new();
    let r = report(10, 10, &[reading(0x5C08, 4, 10, 0x0400_0802)]);
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    c.selector = SYSTEM_SELECTOR;
    let out = process_signed_list(&r, &c).unwrap();
    assert_eq!(
        out.os_app_versions,
        [(0x5C08, 0x0400_0802, 4, at("2017-01-10T10:00:00Z"))]
    );
}

#[test]
fn trip_rows_take_their_value_as_unix_time() {
    let streams = HashMap::new();
    let start = at("2017-01-01T00:00:00Z") / 1_000_000;
    let r = report(10, 10, &[reading(0x0E00, 1, 5, start as u32)]);
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert_eq!(out.data[0].timestamp, at("2017-01-01T00:00:00Z"));
    assert_eq!(out.data[0].status, "utc");
}

#[test]
fn no_reboots_selector_and_bad_hashes_are_refused() {
    let streams = HashMap::new();
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    c.selector = NO_REBOOTS_SELECTOR;
    let r = report(10, 10, &[reading(0x5001, 1, 1, 1)]);
    assert_eq!(
        process_signed_list(&r, &c).unwrap_err(),
        EngineError::UnsupportedSelector(NO_REBOOTS_SELECTOR)
    );
    let mut bytes = r.encode();
    bytes[30] ^= 1;
    let tampered = SignedListReport::decode(&bytes).unwrap();
    let c = ctx(&streams, "2017-01-10T10:00:00Z");
    assert!(matches!(
        process_signed_list(&tampered, &c),
        Err(EngineError::NotVerified(_))
    ));
}

#[test]
fn a_clean_first_segment_is_not_moved_by_the_previous_report() {
    let streams = HashMap::new();
    let r = report(100, 10, &[reading(0x5001, 1, 40, 1)]);
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    c.previous = Some(PreviousReport {
        sent_timestamp: at("2017-01-10T09:00:00Z"),
        device_sent_timestamp: 5,
    });
    let out = process_signed_list(&r, &c).unwrap();
    assert_eq!(out.data[0].timestamp, at("2017-01-10T09:59:00Z"));
    assert_eq!(out.data[0].status, "cln");
}

#[test]
fn without_an_uptime_anchor_the_newest_reading_is_put_at_the_received_time() {
    let streams = HashMap::new();
    let sent = 0x8000_0000 | 5_000;
    let r = report(
        sent,
        10,
        &[reading(0x5001, 1, 40, 1), reading(0x5001, 2, 70, 2)],
    );
    let out = process_signed_list(&r, &ctx(&streams, "2017-01-10T10:00:00Z")).unwrap();
    assert_eq!(out.data[0].timestamp, at("2017-01-10T09:59:30Z"));
    assert_eq!(out.data[1].timestamp, at("2017-01-10T10:00:00Z"));
    assert!(out.data[..2]
        .iter()
        .all(|row| row.status == "drt" && row.dirty_ts));
    assert_eq!(out.last_reboot_ts, None);
}

#[test]
#[ignore = "throughput measurement; run with --release -- --ignored"]
fn throughput() {
    let streams = HashMap::new();
    let rows: Vec<_> = (1..=12_000)
        .map(|i| reading(0x5001 + (i % 8) as u16, i, i, i))
        .collect();
    let r = report(20_000, 20_000, &rows);
    let c = ctx(&streams, "2017-01-10T10:00:00Z");
    let start = std::time::Instant::now();
    let mut stored = 0;
    for _ in 0..25 {
        stored += process_signed_list(&r, &c).unwrap().data.len();
    }
    let per_s = stored as f64 / start.elapsed().as_secs_f64();
    eprintln!("{per_s:.0} readings/s");
    assert!(per_s > 300_000.0);
}

#[test]
fn a_late_report_below_the_newest_is_stored_and_then_held() {
    let streams = HashMap::new();
    let rows = |ids: std::ops::RangeInclusive<u32>| -> Vec<Reading> {
        ids.map(|i| reading(0x5001, i, i, i)).collect()
    };
    let late = report(100, 11, &rows(1..=10));
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let newer = IdRanges::from_ranges([(11, 20)]);
    c.held = &newer;
    let out = process_signed_list(&late, &c).unwrap();
    assert_eq!((out.new_count, out.duplicate_count), (10, 0));
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(1), Some(10))
    );
    assert_eq!(out.covers.ranges(), [(1, 10)]);
    let mut held = newer.clone();
    held.extend(&out.covers);
    assert_eq!(held.ranges(), [(1, 20)]);
    c.held = &held;
    let again = process_signed_list(&late, &c).unwrap();
    assert_eq!((again.new_count, again.duplicate_count), (0, 10));
    assert!(again.data.is_empty(), "no rows and no marker");
}

#[test]
fn a_signed_list_covers_its_whole_span_but_only_its_gaps_are_new() {
    let streams = HashMap::new();
    // Odd ids belong to other streamers of the device.
    let even: Vec<Reading> = (1..=5).map(|i| reading(0x5001, i * 2, i, i)).collect();
    let r = report(100, 11, &even);
    let mut c = ctx(&streams, "2017-01-10T10:00:00Z");
    let held = IdRanges::from_ranges([(1, 4), (8, 8)]);
    c.held = &held;
    let out = process_signed_list(&r, &c).unwrap();
    let ids: Vec<_> = out
        .data
        .iter()
        .filter(|row| !row.stream_slug.ends_with("5a05"))
        .map(|row| row.streamer_local_id)
        .collect();
    assert_eq!(ids, [6, 10]);
    assert_eq!(
        (out.actual_first_id, out.actual_last_id),
        (Some(6), Some(10))
    );
    assert_eq!(out.covers.ranges(), [(2, 10)]);
}
