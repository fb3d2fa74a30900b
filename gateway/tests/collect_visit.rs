//! A whole visit end to end: the BLED112 transport on the virtual dongle's pty, a virtual
//! POD, and a real buffer file; reports are acknowledged only once they are on disk.

use std::sync::{Arc, Mutex};

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use gateway::buffer::{Budget, Buffer};
use gateway::collect::{
    into_buffer, known_acks, visit, visit_watched, CollectError, Progress, VisitOptions,
};
use gateway::config::AckPolicy;
use gateway::transport::bled112::Bled112;
use gateway::transport::{Transport, TransportError};
use sync_protocol::report::SignedListReport;

const DEVICE_ID: u64 = 0x0077_0001;

/// A POD whose only readings are the ones the test pushes.
fn quiet_pod() -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(DEVICE_ID)
    };
    VirtualPod::new(config).expect("the POD starts")
}

fn push(pod: &VirtualPod, count: u32) {
    pod.with_model(|model| {
        for value in 0..count {
            model.push_reading(0x5001, value).expect("room");
        }
    });
}

/// Streamer 0's highest acknowledged id, as the POD keeps it.
fn pod_ack(pod: &VirtualPod) -> u32 {
    pod.with_model(|model| {
        let status = model.rpc(8, 0x200A, &0u16.to_le_bytes());
        u32::from_le_bytes(status.payload()[12..16].try_into().expect("4 bytes"))
    })
}

/// The POD alone behind a virtual dongle, the gateway's transport on it, and an empty
/// buffer in a fresh directory.
async fn rig(
    pod: &VirtualPod,
) -> (
    VirtualBled112,
    Bled112,
    tempfile::TempDir,
    Arc<Mutex<Buffer>>,
) {
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).expect("pty");
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let dir = tempfile::tempdir().expect("tempdir");
    let buffer = open_buffer(&dir);
    (dongle, transport, dir, buffer)
}

/// Visits that take the POD's silence for the end after 300 ms, not 2 s.
fn quick() -> VisitOptions {
    VisitOptions {
        idle: std::time::Duration::from_millis(300),
        ..VisitOptions::default()
    }
}

fn open_buffer(dir: &tempfile::TempDir) -> Arc<Mutex<Buffer>> {
    let budget = Budget {
        max_bytes: 64 << 20,
    };
    let (buffer, _) = Buffer::open(&dir.path().join("buffer.sqlite"), budget).expect("opens");
    Arc::new(Mutex::new(buffer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_stores_verified_reports_before_acknowledging_them() {
    let pod = quiet_pod();
    push(&pod, 25);
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let address = pod.address();
    let options = quick();

    // The POD walks away mid-report: nothing stored, nothing acknowledged.
    pod.set_effects(RadioEffects {
        disconnect_after_notifications: Some(4),
        ..RadioEffects::default()
    });
    let cut = visit(&transport, address, &options, into_buffer(buffer.clone())).await;
    assert!(
        matches!(
            cut,
            Err(CollectError::Transport(TransportError::Disconnected))
        ),
        "{cut:?}"
    );
    assert_eq!(
        buffer
            .lock()
            .expect("lock")
            .stats()
            .expect("stats")
            .pending_reports,
        0
    );
    assert_eq!(pod_ack(&pod), 0, "nothing was acknowledged");

    // A clean visit keeps every reading, then acknowledges up to the last one stored.
    pod.set_effects(RadioEffects::default());
    let summary = visit(&transport, address, &options, into_buffer(buffer.clone()))
        .await
        .expect("the visit succeeds");
    assert!(summary.stored >= 1 && summary.rejected == 0, "{summary:?}");
    assert!(summary.readings >= 25, "{summary:?}");
    let acked = summary
        .acknowledged
        .get(&0)
        .copied()
        .expect("streamer 0 acked");
    assert_eq!(pod_ack(&pod), acked, "the POD holds the gateway's ack");

    let pending = {
        let buffer = buffer.lock().expect("lock");
        assert_eq!(
            buffer.stats().expect("stats").pending_reports,
            summary.stored as u64
        );
        buffer.pending(100, 1 << 20).expect("pending")
    };
    let highest = pending
        .iter()
        .map(|p| {
            let report = SignedListReport::decode(&p.report.raw).expect("decodes");
            assert!(report.readings(None).is_ok(), "stored reports verify");
            assert_eq!(u64::from(report.header.device_id), DEVICE_ID);
            (p.report.streamer == 0).then_some(p.report.last_reading_id)
        })
        .max()
        .flatten()
        .expect("a stored report");
    assert_eq!(highest, acked, "the ack is the last id on disk");

    // Nothing new for streamer 0: the next visit stores none of its readings again (the
    // POD's own system streams, streamer 1, may log this connection).
    let user_readings = |buffer: &Arc<Mutex<Buffer>>| -> u32 {
        let buffer = buffer.lock().expect("lock");
        let pending = buffer.pending(100, 1 << 20).expect("pending");
        pending
            .iter()
            .filter(|p| p.report.streamer == 0)
            .map(|p| p.report.reading_count)
            .sum()
    };
    let before = user_readings(&buffer);
    assert!(before >= 25);
    let again = visit(&transport, address, &options, into_buffer(buffer.clone()))
        .await
        .expect("the visit succeeds");
    assert_eq!(user_readings(&buffer), before, "{again:?}");
    assert!(again.acknowledged.get(&0).is_none_or(|&id| id == acked));
    assert!(!pod.is_connected());
    assert_eq!(transport.max_connections(), 3);
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_arrives_whole_in_one_visit() {
    const READINGS: u32 = 2_000;
    let pod = quiet_pod();
    push(&pod, READINGS);
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let options = quick();
    let started = std::time::Instant::now();
    let summary = visit(
        &transport,
        pod.address(),
        &options,
        into_buffer(buffer.clone()),
    )
    .await
    .expect("the visit succeeds");
    let elapsed = started.elapsed();
    let user: u32 = {
        let buffer = buffer.lock().expect("lock");
        let pending = buffer.pending(1_000, 64 << 20).expect("pending");
        pending
            .iter()
            .filter(|p| p.report.streamer == 0)
            .map(|p| p.report.reading_count)
            .sum()
    };
    assert!(user >= READINGS, "{user} of {READINGS} readings stored");
    assert_eq!(pod_ack(&pod), summary.acknowledged[&0]);
    println!(
        "{READINGS} readings in {} reports over the virtual BLED112: {elapsed:?} ({:.0} readings/s)",
        summary.stored,
        f64::from(READINGS) / elapsed.as_secs_f64()
    );
    dongle.stop().await;
}

/// What a watcher of a visit was told: each `arriving` with the bytes stored by then.
#[derive(Debug, Default)]
struct Watched {
    arriving: Vec<(u64, u64)>,
    stored: u64,
}

impl Progress for Watched {
    fn arriving(&mut self, received: u64) {
        self.arriving.push((received, self.stored));
    }
    fn stored(&mut self, _readings: usize, bytes: usize) {
        self.stored += bytes as u64;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_a_report_arrive_on_a_slow_link_before_it_is_whole() {
    let pod = quiet_pod();
    push(&pod, 500);
    // 8 KB at a notification every 2 ms: over a second for one report.
    pod.set_effects(RadioEffects {
        notification_delay: Some(std::time::Duration::from_millis(2)),
        ..RadioEffects::default()
    });
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let mut watched = Watched::default();
    let summary = visit_watched(
        &transport,
        pod.address(),
        &quick(),
        into_buffer(buffer.clone()),
        &mut watched,
    )
    .await
    .expect("the visit succeeds");
    assert!(summary.readings >= 500, "{summary:?}");
    let mid_report = watched
        .arriving
        .iter()
        .filter(|&&(got, stored)| got > stored)
        .count();
    assert!(mid_report >= 3, "{watched:?}");
    assert!(watched.arriving.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(watched
        .arriving
        .iter()
        .all(|&(got, _)| got <= watched.stored));
    dongle.stop().await;
}

/// Under the `cloud` policy a visit stores without acknowledging; the next visit acknowledges
/// what the cloud confirmed in between. A report the POD sends again because its
/// acknowledgement never came is not stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_cloud_policy_the_pod_is_acknowledged_only_once_the_cloud_has_it() {
    let pod = quiet_pod();
    push(&pod, 30);
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let device = sync_protocol::ids::DeviceId::new(DEVICE_ID).expect("id");
    let address = pod.address();
    let options = |buffer: &Arc<Mutex<Buffer>>| VisitOptions {
        policy: AckPolicy::Cloud,
        known_acks: known_acks(
            &buffer.lock().expect("lock"),
            device,
            AckPolicy::Cloud,
            &[0],
        )
        .expect("known"),
        ..quick()
    };

    let first = visit(
        &transport,
        address,
        &options(&buffer),
        into_buffer(buffer.clone()),
    )
    .await
    .expect("the visit succeeds");
    assert!(first.stored >= 1, "{first:?}");
    assert!(first.acknowledged.is_empty(), "{first:?}");
    assert_eq!(
        pod_ack(&pod),
        0,
        "nothing acknowledged before the cloud has it"
    );
    let held = buffer
        .lock()
        .expect("lock")
        .holds_to(device, 0)
        .expect("holds")
        .expect("streamer 0 held");
    let stored_bytes = |b: &Arc<Mutex<Buffer>>| b.lock().expect("lock").stats().expect("stats");
    let before = stored_bytes(&buffer).pending_reports;

    // The POD sends the same readings again (in a new report): kept once.
    let again = visit(
        &transport,
        address,
        &options(&buffer),
        into_buffer(buffer.clone()),
    )
    .await
    .expect("the visit succeeds");
    assert_eq!(pod_ack(&pod), 0, "{again:?}");
    let streamer0 = |b: &Arc<Mutex<Buffer>>| -> usize {
        b.lock()
            .expect("lock")
            .pending(100, 1 << 20)
            .expect("pending")
            .iter()
            .filter(|p| p.report.streamer == 0)
            .count()
    };
    assert_eq!(
        streamer0(&buffer),
        1,
        "the resent report is not stored twice"
    );
    assert!(stored_bytes(&buffer).pending_reports >= before);

    // The cloud confirms: the next visit acknowledges exactly that far.
    buffer
        .lock()
        .expect("lock")
        .record_cloud_has(device, 0, held)
        .expect("records");
    let third = visit(
        &transport,
        address,
        &options(&buffer),
        into_buffer(buffer.clone()),
    )
    .await
    .expect("the visit succeeds");
    assert_eq!(third.acknowledged.get(&0), Some(&held), "{third:?}");
    assert_eq!(pod_ack(&pod), held);
    assert_eq!(streamer0(&buffer), 1, "nothing new to store");
    dongle.stop().await;
}

/// A POD signing with a user key: the gateway cannot check the signature (only the cloud
/// holds the key), so the report is kept for the cloud to verify, and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_key_reports_are_kept_for_the_cloud_to_verify() {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        user_key: Some("ac1de483".repeat(8)),
        ..PodConfig::with_device_id(DEVICE_ID)
    };
    let pod = VirtualPod::new(config).expect("the POD starts");
    push(&pod, 12);
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let options = quick();
    let summary = visit(
        &transport,
        pod.address(),
        &options,
        into_buffer(buffer.clone()),
    )
    .await
    .expect("the visit succeeds");
    assert_eq!(summary.rejected, 0, "{summary:?}");
    let pending = buffer
        .lock()
        .expect("lock")
        .pending(100, 1 << 20)
        .expect("pending");
    let user = pending
        .iter()
        .find(|p| p.report.streamer == 0)
        .expect("the user report is kept");
    let report = SignedListReport::decode(&user.report.raw).expect("decodes");
    assert_eq!(
        report.verify(None),
        sync_protocol::report::Verification::NoKey,
        "signed with the user key"
    );
    assert_eq!(pod_ack(&pod), summary.acknowledged[&0]);
    assert_eq!(user.report.last_reading_id, summary.acknowledged[&0]);
    dongle.stop().await;
}

/// A report garbled on the air fails its signature: it is kept aside in the quarantine,
/// never pending, and neither it nor anything after it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_reports_are_quarantined_and_not_acknowledged() {
    let pod = quiet_pod();
    push(&pod, 300);
    let (dongle, transport, _dir, buffer) = rig(&pod).await;
    let options = quick();
    pod.set_effects(RadioEffects {
        corrupt_streaming_notification: Some(5),
        ..RadioEffects::default()
    });
    let outcome = visit(
        &transport,
        pod.address(),
        &options,
        into_buffer(buffer.clone()),
    )
    .await;
    let stats = buffer.lock().expect("lock").stats().expect("stats");
    eprintln!(
        "garbled visit: {outcome:?}; {} quarantined",
        stats.quarantined
    );
    let summary = outcome.as_ref().expect("the visit itself succeeds");
    assert_eq!(summary.rejected, 1, "{summary:?}");
    assert_eq!(stats.quarantined, 1);
    let pending = buffer
        .lock()
        .expect("lock")
        .pending(100, 1 << 20)
        .expect("pending");
    for p in &pending {
        let report = SignedListReport::decode(&p.report.raw).expect("pending reports decode");
        assert!(report.readings(None).is_ok(), "pending reports verify");
    }
    let last = pod.with_model(|m| m.stream_readings(0x5001).last().map(|r| r.reading_id));
    assert!(
        pod_ack(&pod) < last.expect("readings"),
        "the garbled readings are not acknowledged: {outcome:?}"
    );
    dongle.stop().await;
}
