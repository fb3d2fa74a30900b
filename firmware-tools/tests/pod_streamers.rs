//! The virtual POD model against the gateway's streamer behaviours (device-protocols §8
//! items 4–7): reading and report ids, acknowledgements, streamer control and signatures.

use firmware_tools::pod::{PodConfig, PodModel, ResetCause};
use sync_protocol::auth::RootKey;
use sync_protocol::report::SignedListReport;
use sync_protocol::rpc::codes;
use sync_protocol::script::{Record, StreamerDescriptor, StreamerTrigger, Tile};
use sync_protocol::stream::StreamSelector;
use sync_protocol::{Reading, Verification};

mod pod_common;
use pod_common::*;

// ----- §8.5 ids ---------------------------------------------------------------------------

#[test]
fn reading_ids_strictly_increase_across_streamers_resets_and_clears() {
    let mut pod = quiet(0x101);
    let mut seen = ids(&pod.readings().copied().collect::<Vec<_>>());
    let mut check_new = |pod: &PodModel| {
        let high = seen.iter().copied().max().unwrap_or(0);
        let all: Vec<Reading> = pod.readings().copied().collect();
        let new: Vec<u32> = all
            .iter()
            .map(|r| r.reading_id)
            .filter(|id| !seen.contains(id))
            .collect();
        assert!(
            new.iter().all(|id| *id > high),
            "new ids {new:?} must be above {high}"
        );
        assert!(!new.is_empty());
        seen.extend(new);
    };
    for value in 0..5 {
        push(&mut pod, 0x5001, value);
        push(&mut pod, 0x0E00, value);
        push(&mut pod, 0x5C0A, value);
    }
    check_new(&pod);
    pod.reset(ResetCause::Software);
    check_new(&pod);
    assert_eq!(code(&mut pod, 0x200C, &[]), 0);
    let after_clear: Vec<Reading> = pod.readings().copied().collect();
    assert_eq!(after_clear.len(), 1, "only the data-cleared marker");
    assert_eq!((after_clear[0].stream, after_clear[0].value), (0x5C03, 1));
    check_new(&pod);
    push(&mut pod, 0x5001, 9);
    check_new(&pod);
    assert_eq!(
        word(&call(&mut pod, 0x2011, &[]), 4),
        pod.readings().map(|r| r.reading_id).max().unwrap_or(0)
    );
}

#[test]
fn report_ids_footers_and_the_shared_counter() {
    let mut pod = quiet(0x102);
    for value in 0..7 {
        push(&mut pod, 0x5001, value);
    }
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    let reports = send(&mut pod);
    assert_eq!(
        reports.len(),
        2,
        "streamer 0 and streamer 1 (with streamer 0)"
    );
    let mut last_report_id = 0;
    for report in &reports {
        let readings = report.readings(None).expect("verified");
        let low = readings
            .iter()
            .map(|r| r.reading_id)
            .min()
            .expect("readings");
        let high = readings
            .iter()
            .map(|r| r.reading_id)
            .max()
            .expect("readings");
        assert_eq!((report.lowest_id, report.highest_id), (low, high));
        assert!(report.header.report_id > high);
        assert!(report.header.report_id > last_report_id);
        last_report_id = report.header.report_id;
        assert_eq!(report.header.device_id, 0x102);
        assert_eq!(report.header.sent_timestamp, pod.uptime());
    }
    assert_eq!(reports[0].header.selector, 0xD7FF);
    assert_eq!(reports[1].header.selector, 0x5FFF);
    // Streamer 0: the reset break stream and the user outputs; streamer 1: system outputs.
    let streams0: Vec<u16> = reports[0]
        .readings(None)
        .expect("ok")
        .iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(streams0[0], 0x5C00);
    assert!(streams0[1..].iter().all(|s| *s == 0x5001));
    let streams1: Vec<u16> = reports[1]
        .readings(None)
        .expect("ok")
        .iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(streams1, vec![0x5C00, 0x5C08, 0x5C09, 0x5C01]);
    // A reading made after the reports has an id above both report ids.
    assert!(push(&mut pod, 0x5001, 0).reading_id > last_report_id);
}

#[test]
fn readings_and_ids_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pod.json");
    let mut pod = quiet(0x103);
    let second = (0..3)
        .map(|v| push(&mut pod, 0x5001, v).reading_id)
        .nth(1)
        .expect("id");
    assert_eq!(ack(&mut pod, 0, 0, second), 0);
    pod.save(&path).expect("saved");
    let before: Vec<Reading> = pod.readings().copied().collect();
    let high = pod.last_allocated_id();
    let mut restarted = PodModel::load(&path).expect("loaded");
    let after: Vec<Reading> = restarted.readings().copied().collect();
    assert_eq!(&after[..before.len()], &before[..], "old readings kept");
    let boot: Vec<(u16, bool)> = after[before.len()..]
        .iter()
        .map(|r| (r.stream, r.reading_id > high))
        .collect();
    assert_eq!(boot, vec![(0x5C00, true), (0x5C08, true), (0x5C09, true)]);
    assert_eq!(restarted.ack(0), second);
    assert_eq!(restarted.reboot_count(), 2);
    assert!(push(&mut restarted, 0x5001, 7).reading_id > high + 3);
    assert!(PodModel::from_bytes(b"{\"format\":\"other\",\"version\":1}").is_err());
    assert!(PodModel::from_bytes(b"not json").is_err());
}

// ----- §8.6 acknowledgements --------------------------------------------------------------

#[test]
fn acknowledgements_decide_what_is_sent() {
    let mut pod = quiet(0x104);
    let pushed: Vec<u32> = (0..6)
        .map(|v| push(&mut pod, 0x5001, v).reading_id)
        .collect();
    // Nothing acknowledged: everything selected is sent, and sent again (at-least-once).
    let first = collect(&mut pod, 0);
    assert_eq!(ids(&first)[1..], pushed[..]);
    assert_eq!(ids(&collect(&mut pod, 0)), ids(&first));

    let x = pushed[2];
    assert_eq!(ack(&mut pod, 0, 0, x), 0);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[3..].to_vec());
    // A lower ack is refused and changes nothing.
    assert_eq!(ack(&mut pod, 0, 0, x - 1), codes::OLD_ACKNOWLEDGE_UPDATE);
    assert_eq!(ack(&mut pod, 0, 0, x), codes::OLD_ACKNOWLEDGE_UPDATE);
    assert_eq!(pod.ack(0), x);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[3..].to_vec());
    // Forced, it rolls back.
    assert_eq!(ack(&mut pod, 0, 1, pushed[0]), 0);
    assert_eq!(ids(&collect(&mut pod, 0)), pushed[1..].to_vec());
    // Acks survive a reset; the reset reading is new data for streamer 0.
    assert_eq!(ack(&mut pod, 0, 0, pushed[4]), 0);
    pod.reset(ResetCause::Software);
    assert_eq!(pod.ack(0), pushed[4]);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(word(&status, 12), pushed[4]);
    let after_reset = collect(&mut pod, 0);
    assert_eq!(after_reset[0].reading_id, pushed[5]);
    assert_eq!(after_reset[1].stream, 0x5C00);
    assert!(after_reset.iter().all(|r| r.reading_id > pushed[4]));
}

#[test]
fn acknowledgement_seek_codes() {
    let mut pod = quiet(0x105);
    let a = push(&mut pod, 0x5001, 1).reading_id;
    let b = push(&mut pod, 0x5C0A, 2).reading_id;
    // An id the streamer does not select.
    let system = push(&mut pod, 0x5C0B, 3).reading_id;
    assert_eq!(ack(&mut pod, 0, 0, a), 0);
    assert_eq!(
        ack(&mut pod, 0, 0, system),
        codes::ID_FOUND_FOR_ANOTHER_STREAM
    );
    assert_eq!(ack(&mut pod, 1, 0, b), 0);
    // Past everything stored.
    assert_eq!(ack(&mut pod, 0, 0, 1000), codes::NO_MORE_READINGS);
    assert!(collect(&mut pod, 0).is_empty());
    // id 0 only re-seeks.
    assert_eq!(ack(&mut pod, 0, 0, 0), codes::NO_MORE_READINGS);
    assert_eq!(pod.ack(0), 1000);
    assert_eq!(ack(&mut pod, 9, 0, 1), codes::STREAMER_NOT_ALLOCATED);
}

#[test]
fn buffer_is_freed_only_after_acknowledgement() {
    // Fill-stop on the streaming area, configured by a script and latched by its reset.
    let config = PodConfig {
        streaming_capacity: 400,
        ..quiet_config(0x106)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let set_fill_stop = script(vec![
        Record::set_config(Tile::Controller, 0x2005, &[1]).expect("record"),
        Record::reset_device(),
    ]);
    assert_eq!(run_script(&mut pod, &set_fill_stop, Channel::Rpc2101), 0);
    let mut last = 0;
    while let Ok(Some(reading)) = pod.push_reading(0x5001, 0) {
        last = reading.reading_id;
    }
    assert_eq!(pod.reading_counts().1, 400);
    assert_eq!(pod.push_reading(0x5001, 0), Err(codes::RING_BUFFER_FULL));
    // Sending frees nothing.
    let sent = collect(&mut pod, 0);
    assert_eq!(sent.last().map(|r| r.reading_id), Some(last));
    assert_eq!(pod.push_reading(0x5001, 0), Err(codes::RING_BUFFER_FULL));
    // Streamer 1 has not acknowledged the system readings: acknowledging streamer 0 frees
    // the user readings only.
    assert_eq!(ack(&mut pod, 0, 0, last), 0);
    assert!(pod.push_reading(0x5001, 0).is_ok());
    let left: Vec<u16> = pod.readings().map(|r| r.stream).collect();
    assert!(left
        .iter()
        .filter(|s| **s != 0x5001)
        .all(|s| (0x5C00..=0x5C09).contains(s)));
    assert_eq!(pod.lost_readings(), 0);

    // The ring (default) erases the oldest 256 when nothing is acknowledged.
    let config = PodConfig {
        streaming_capacity: 400,
        ..quiet_config(0x107)
    };
    let mut ring = PodModel::new(&config).expect("valid");
    while ring.reading_counts().1 < 400 {
        push(&mut ring, 0x5001, 0);
    }
    push(&mut ring, 0x5001, 1);
    assert_eq!(ring.reading_counts().1, 400 - 256 + 1);
    assert_eq!(ring.lost_readings(), 256);
}

// ----- §8.7 streamer control --------------------------------------------------------------

#[test]
fn trigger_and_status() {
    let mut pod = quiet(0x108);
    assert_eq!(trigger(&mut pod, 0), 0, "the boot readings");
    let _ = send(&mut pod);
    let high = pod.last_allocated_id();
    assert_eq!(ack(&mut pod, 0, 0, 1), 0);
    assert_eq!(ack(&mut pod, 1, 0, 3), 0);
    let _ = high;
    // 0x5C01 (streaming opened) is new for streamer 1; acknowledge it too.
    let opened = pod.stream_readings(0x5C01)[0].reading_id;
    assert_eq!(ack(&mut pod, 1, 0, opened), 0);
    assert_eq!(trigger(&mut pod, 0), codes::STREAMER_HAS_NO_NEW_DATA);
    assert_eq!(trigger(&mut pod, 8), codes::STREAMER_NOT_ALLOCATED);

    push(&mut pod, 0x5001, 5);
    assert_eq!(trigger(&mut pod, 0), 0);
    assert_eq!(trigger(&mut pod, 0), codes::STREAM_ALREADY_IN_PROGRESS);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(status.len(), 20);
    assert_ne!(status[18], 0, "comm status while sending");
    assert_eq!(word(&status, 12), 1, "the stored ack");
    let report = pod.next_report().expect("a report");
    assert_ne!(call(&mut pod, 0x200A, &0u16.to_le_bytes())[18], 0);
    pod.report_delivered(report.token);
    let status = call(&mut pod, 0x200A, &0u16.to_le_bytes());
    assert_eq!(status[18], 0, "comm status back to 0 after the last report");
    assert_eq!(status[16], 0, "last status: success");
    // An unallocated index answers 4 bytes.
    assert_eq!(
        call(&mut pod, 0x200A, &2u16.to_le_bytes()),
        codes::STREAMER_NOT_ALLOCATED.to_le_bytes().to_vec()
    );
    // 0x2017 describes streamer 0.
    let described = call(&mut pod, 0x2017, &0u16.to_le_bytes());
    assert_eq!(described.len(), 20);
    let descriptor = StreamerDescriptor::decode(&described[4..18]).expect("descriptor");
    assert_eq!(descriptor.selector(), StreamSelector::ALL_OUTPUTS);
    assert_eq!(descriptor.trigger(), StreamerTrigger::Manual);
}

// ----- §8.4 signatures --------------------------------------------------------------------

#[test]
fn reports_verify_hash_only_and_with_the_user_key() {
    let mut pod = quiet(0x10F);
    push(&mut pod, 0x5001, 42);
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    let report = &pod.collect_reports()[0];
    let decoded = SignedListReport::decode(&report.bytes).expect("report");
    assert_eq!(decoded.header.streamer, 0);
    assert_eq!(
        decoded
            .readings(None)
            .expect("hash only")
            .last()
            .map(|r| r.value),
        Some(42)
    );

    let key_hex = "ac1de4832c8ba4a07ce457c1b51ff995057ae53562a1d5f32c65b73a193f55f9";
    let config = PodConfig {
        user_key: Some(key_hex.to_string()),
        ..quiet_config(0x110)
    };
    let mut pod = PodModel::new(&config).expect("valid");
    let key = RootKey::from_hex(key_hex).expect("key");
    push(&mut pod, 0x5001, 43);
    pod.advance(17);
    pod.open_streaming();
    assert_eq!(trigger(&mut pod, 0), 0);
    for report in pod.collect_reports() {
        let decoded = SignedListReport::decode(&report.bytes).expect("report");
        assert_eq!(decoded.header.sent_timestamp, 17);
        assert_eq!(decoded.verify(None), Verification::NoKey);
        assert_eq!(
            decoded.readings(Some(&RootKey::new([1; 32]))),
            Err(Verification::Failed)
        );
        let readings = decoded
            .readings(Some(&key))
            .expect("verifies with the user key");
        assert!(!readings.is_empty());
        if decoded.header.streamer == 0 {
            assert_eq!(readings.last().map(|r| r.value), Some(43));
        }
    }
}
