//! The desktop app's core as a technician uses it, against the real cloud and a virtual POD
//! behind the virtual BLED112 (a real pty), with the network between laptop and cloud cut
//! and restored at will: sign in, go offline, scan, claim, collect with progress, come
//! back and see the claim accepted and every reading in the cloud once; a claim refused
//! because another org got there first; an app restarted, or stopped in the middle of a
//! collection or a sync, that loses nothing; a token the cloud revoked.

#![allow(clippy::unwrap_used)]

#[path = "../../../cloud/tests/common/mod.rs"]
mod common;
#[path = "../../../system-tests/tests/site/outage.rs"]
mod outage;
mod site;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use desktop_core::collect::CollectProgress;
use desktop_core::events::Events;
use desktop_core::nearby::{ClaimView, NearbyPod};
use desktop_core::store::ClaimState;
use desktop_core::sync::SyncProgress;
use desktop_core::{Desktop, RadioChoice};
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use reqwest::StatusCode;
use serde_json::json;
use site::{site, Site, POD};

const READINGS: u32 = 300;
const STREAM: u16 = 0x5001;

/// What the core told the screen.
#[derive(Default)]
struct Seen {
    nearby: Mutex<Vec<Vec<NearbyPod>>>,
    progress: Mutex<Vec<CollectProgress>>,
}

impl Events for Seen {
    fn nearby(&self, pods: &[NearbyPod]) {
        self.nearby.lock().unwrap().push(pods.to_vec());
    }
    fn collect_progress(&self, progress: &CollectProgress) {
        self.progress.lock().unwrap().push(*progress);
    }
}

/// The POD, holding `readings` on stream 5001 (values from 2000), as `config` sets it up.
fn pod_with(readings: u32, config: PodConfig) -> VirtualPod {
    let pod = VirtualPod::new(PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..config
    })
    .unwrap();
    pod.with_model(|model| {
        for n in 0..readings {
            model.push_reading(STREAM, 2000 + n).unwrap();
        }
    });
    pod
}

fn pod_config() -> PodConfig {
    PodConfig::with_device_id(u64::from(POD))
}

fn slug() -> String {
    format!("d--0000-0000-0000-00{:02x}", POD)
}

/// Waits until the scan lists the POD, and returns it.
async fn heard(desktop: &Desktop) -> NearbyPod {
    for _ in 0..100 {
        if let Some(pod) = desktop
            .nearby()
            .unwrap()
            .into_iter()
            .find(|p| p.device == u64::from(POD))
        {
            return pod;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the POD was never heard");
}

/// How many rows of the POD's stream 5001 the cloud holds, once `expected` are there or
/// after 20 s.
async fn cloud_count(app: &common::TestApp, token: &str, expected: u64) -> u64 {
    let (_, streams) = app.get(&format!("stream/?device={}", slug()), token).await;
    let stream = streams["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"].as_str().unwrap().ends_with("--5001"))
        .map(|s| s["slug"].as_str().unwrap().to_string())
        .expect("the POD is claimed and has its stream");
    let mut count = 0;
    for _ in 0..100 {
        let (_, page) = app
            .get(&format!("data/?filter={stream}&page_size=1"), token)
            .await;
        count = page["count"].as_u64().unwrap_or_default();
        if count >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    count
}

struct Field {
    app: common::TestApp,
    site: Site,
    net: outage::Uplink,
    dongle: VirtualBled112,
    pod: VirtualPod,
    dir: tempfile::TempDir,
}

async fn field() -> Field {
    field_with(pod_with(READINGS, pod_config())).await
}

async fn field_with(pod: VirtualPod) -> Field {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let site = site(&app).await;
    let net = outage::Uplink::start(app.addr, true).await;
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod.clone())];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    Field {
        app,
        site,
        net,
        dongle,
        pod,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Field {
    fn open(&self, events: Arc<dyn Events>) -> Arc<Desktop> {
        Arc::new(
            Desktop::open(
                self.dir.path(),
                RadioChoice::Bled112(self.dongle.path().to_owned()),
                events,
            )
            .unwrap(),
        )
    }

    fn cloud(&self) -> String {
        format!("http://{}", self.net.addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_and_collected_offline_everything_reaches_the_cloud_once_back_online() {
    let f = field().await;
    let events = Arc::new(Seen::default());
    let desktop = f.open(events.clone());
    assert!(desktop.session().unwrap().is_none(), "nobody signed in yet");
    let signed = desktop
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    assert_eq!(signed.email, f.site.email);
    assert_eq!(signed.projects, 1, "the offline copy came with the sign-in");
    assert!(signed.copy_refreshed_at.is_some());

    // The basement: no network.
    f.net.go_down().await;
    desktop.start_scan().await.unwrap();
    let pod = heard(&desktop).await;
    assert!(pod.has_data, "{pod:?}");
    assert_eq!(pod.claim, ClaimView::Unknown);
    assert!(
        !events.nearby.lock().unwrap().is_empty(),
        "the list came as events"
    );

    let claim = desktop.claim(u64::from(POD), &f.site.project).unwrap();
    assert_eq!(claim.state, ClaimState::Pending);
    assert_eq!(
        heard(&desktop).await.claim,
        ClaimView::Pending {
            project: f.site.project_name.clone()
        }
    );

    // A link slow enough that the report takes a second to come in, as on the air.
    f.pod.set_effects(RadioEffects {
        notification_delay: Some(Duration::from_millis(4)),
        ..RadioEffects::default()
    });
    let collected = desktop.collect(u64::from(POD)).await.unwrap();
    f.pod.set_effects(RadioEffects::default());
    // Stream 5001's readings, and the POD's own system readings (its boot, its versions).
    let total = collected.readings;
    assert!(total >= u64::from(READINGS), "{collected:?}");
    assert_eq!(collected.rejected, 0);
    let progress = events.progress.lock().unwrap().clone();
    // The POD's count is the estimate the bar starts from.
    let holding = progress.first().unwrap().holding.unwrap();
    assert!(
        (u64::from(READINGS)..=total).contains(&holding),
        "{holding}"
    );
    assert!(progress.len() >= 3, "the bar moved: {progress:?}");
    let last = progress.last().unwrap();
    assert!(last.done);
    assert_eq!(last.readings, total);
    assert!(last.bytes > total * 16);
    assert!(
        progress.windows(2).all(|w| w[0].readings <= w[1].readings
            && w[0].received_bytes <= w[1].received_bytes
            && w[0].readings + w[0].readings_arriving <= w[1].readings + w[1].readings_arriving),
        "readings only go up: {progress:?}"
    );
    // The bar moved while the first report was still coming in.
    assert!(
        progress
            .iter()
            .filter(|p| p.reports == 0 && p.readings_arriving > 0)
            .count()
            >= 2,
        "{progress:?}"
    );
    assert_eq!(last.received_bytes, last.bytes);
    // Stored, then acknowledged: the POD's streamer stands at its last reading.
    let last_id = f.pod.with_model(|m| {
        m.readings()
            .filter(|r| r.stream == STREAM)
            .map(|r| r.reading_id)
            .max()
            .unwrap()
    });
    assert!(f.pod.with_model(|m| m.ack(0)) >= last_id);

    let waiting = desktop.waiting().unwrap();
    assert_eq!(waiting.claims, 1);
    assert_eq!(waiting.readings, total);
    let summary = desktop.sync_now().await.unwrap();
    assert!(summary.stopped.is_some(), "no network: {summary:?}");
    assert!(!summary.sign_in_again);
    assert_eq!(
        desktop.waiting().unwrap(),
        waiting,
        "nothing lost, nothing sent"
    );
    let readings = desktop.readings(u64::from(POD)).unwrap();
    let stream = readings
        .streams
        .iter()
        .find(|s| s.stream == "5001")
        .unwrap();
    assert_eq!(stream.name, "output 1");
    assert_eq!(stream.values.len(), READINGS as usize);
    assert_eq!(stream.values[0], 2000);
    assert_eq!(stream.values[READINGS as usize - 1], 2000 + READINGS - 1);
    assert!(
        stream.at_ms.iter().all(Option::is_some),
        "every time is known"
    );

    // Back upstairs.
    f.net.set_up(true);
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(summary.stopped, None, "{summary:?}");
    assert_eq!(summary.claims_accepted, 1);
    assert!(summary.reports_sent >= 1);
    assert!(summary.copy_refreshed);
    let waiting = desktop.waiting().unwrap();
    assert_eq!((waiting.claims, waiting.reports), (0, 0));
    let claims = desktop.claims().unwrap();
    assert_eq!(claims[0].claim.state, ClaimState::Accepted);
    assert_eq!(claims[0].project_name, f.site.project_name);
    assert_eq!(
        cloud_count(&f.app, &f.site.tech, u64::from(READINGS)).await,
        u64::from(READINGS),
        "every reading, once"
    );
    assert!(matches!(
        heard(&desktop).await.claim,
        ClaimView::Claimed { .. }
    ));
    let log = desktop.log(50).unwrap();
    assert!(log.iter().any(|e| e.kind == "claim" && e.ok), "{log:?}");
    assert!(log.iter().any(|e| e.kind == "reports" && e.ok), "{log:?}");

    // A second sync sends nothing again.
    let again = desktop.sync_now().await.unwrap();
    assert_eq!((again.claims_accepted, again.reports_sent), (0, 0));
    desktop.stop_scan();
    f.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_refused_because_another_org_got_there_first_says_why_and_keeps_the_data() {
    let f = field().await;
    let desktop = f.open(Arc::new(Seen::default()));
    desktop
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    f.net.go_down().await;
    desktop.start_scan().await.unwrap();
    heard(&desktop).await;
    desktop.claim(u64::from(POD), &f.site.project).unwrap();
    let collected = desktop.collect(u64::from(POD)).await.unwrap();

    // Meanwhile another org claims the POD.
    let rival = f.app.user("rival@other.example").await;
    let (_, org) = f.app.post("org/", &rival, json!({"name": "Rival"})).await;
    let (_, project) = f
        .app
        .post("project/", &rival, json!({"name": "R", "org": org["slug"]}))
        .await;
    let (status, _) = f
        .app
        .post(
            "device/claim/",
            &rival,
            json!({"device": slug(), "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    f.net.set_up(true);
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(summary.claims_refused, 1, "{summary:?}");
    let claim = &desktop.claims().unwrap()[0];
    assert_eq!(claim.claim.state, ClaimState::Refused);
    assert_eq!(
        claim.claim.reason.as_deref(),
        Some("Device is not claimable")
    );
    assert!(matches!(
        heard(&desktop).await.claim,
        ClaimView::Refused { .. }
    ));
    // The readings are not the rival's to receive from this laptop, nor lost: they wait.
    assert_eq!(summary.reports_sent, 0);
    assert!(!summary.reports_held.is_empty(), "{summary:?}");
    assert_eq!(
        desktop.waiting().unwrap().readings,
        collected.readings,
        "kept"
    );
    desktop.stop_scan();
    f.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_collecting_and_syncing_loses_nothing() {
    let f = field().await;
    let collected;
    {
        let desktop = f.open(Arc::new(Seen::default()));
        desktop
            .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
            .await
            .unwrap();
        f.net.go_down().await;
        desktop.start_scan().await.unwrap();
        heard(&desktop).await;
        desktop.claim(u64::from(POD), &f.site.project).unwrap();
        collected = desktop.collect(u64::from(POD)).await.unwrap().readings;
        desktop.stop_scan();
        // The app closes with everything still waiting.
    }
    let desktop = f.open(Arc::new(Seen::default()));
    let session = desktop
        .session()
        .unwrap()
        .expect("the profile reopens offline");
    assert_eq!(session.email, f.site.email);
    assert_eq!(session.projects, 1, "the copy is still there");
    let waiting = desktop.waiting().unwrap();
    assert_eq!((waiting.claims, waiting.readings), (1, collected));
    f.net.set_up(true);
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(summary.stopped, None, "{summary:?}");
    assert_eq!(summary.claims_accepted, 1);
    assert_eq!(
        cloud_count(&f.app, &f.site.tech, u64::from(READINGS)).await,
        u64::from(READINGS)
    );
    f.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_cloud_revoked_asks_to_sign_in_again_and_keeps_the_queue() {
    let f = field().await;
    let desktop = f.open(Arc::new(Seen::default()));
    desktop
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    desktop.claim(u64::from(POD), &f.site.project).unwrap();
    // Signed out elsewhere: the cloud revokes the app's token.
    let profile = std::fs::read_dir(f.dir.path().join("profiles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let profile_token = stored_token(&profile.join("app.sqlite"));
    let response = f
        .app
        .client
        .post(f.app.url("auth/logout/"))
        .header("Authorization", format!("JWT {profile_token}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let summary = desktop.sync_now().await.unwrap();
    assert!(summary.sign_in_again, "{summary:?}");
    assert_eq!(desktop.waiting().unwrap().claims, 1, "the claim waits");
    assert_eq!(
        desktop.session().unwrap().unwrap().token,
        desktop_core::session::TokenState::Expired
    );
    // Signing in again sends it.
    desktop
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(summary.claims_accepted, 1, "{summary:?}");
    f.dongle.stop().await;
}

/// The token the app keeps in its database.
fn stored_token(path: &std::path::Path) -> String {
    let store = desktop_core::store::Store::open(path).unwrap();
    store.session().unwrap().unwrap().token.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_waits_goes_up_by_itself_when_the_network_returns() {
    let f = field().await;
    let desktop = f.open(Arc::new(Seen::default()));
    desktop
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    f.net.go_down().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let background = tokio::spawn({
        let desktop = desktop.clone();
        let stop = stop.clone();
        async move { desktop.run_background(stop).await }
    });
    desktop.claim(u64::from(POD), &f.site.project).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desktop.waiting().unwrap().claims, 1, "no network, no claim");
    let tried = &desktop.claims().unwrap()[0];
    assert!(tried.claim.attempts >= 1, "it tried: {tried:?}");
    assert!(tried
        .claim
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("network"));

    f.net.set_up(true);
    let mut accepted = false;
    for _ in 0..150 {
        if desktop.claims().unwrap()[0].claim.state == ClaimState::Accepted {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        accepted,
        "the claim went up within 15 s of the network's return"
    );
    stop.cancel();
    background.await.unwrap();
    f.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_says_so_and_signs_nobody_in() {
    let f = field().await;
    let desktop = f.open(Arc::new(Seen::default()));
    let error = desktop
        .sign_in(&f.cloud(), &f.site.email, "not the password")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, desktop_core::CoreError::Refused(why) if why.contains("password")),
        "{error:?}"
    );
    assert!(desktop.session().unwrap().is_none(), "nobody signed in");
    f.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_killed_in_the_middle_of_a_collection_loses_nothing_and_duplicates_nothing() {
    // Enough readings that the POD sends them in several reports.
    const MANY: u32 = 6000;
    let f = field_with(pod_with(
        MANY,
        PodConfig {
            streaming_capacity: 10_000,
            ..pod_config()
        },
    ))
    .await;
    let events = Arc::new(Seen::default());
    let first = f.open(events.clone());
    first
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    f.net.go_down().await;
    first.claim(u64::from(POD), &f.site.project).unwrap();
    first.start_scan().await.unwrap();
    heard(&first).await;
    // The app dies once a report is stored, before the POD is acknowledged (a visit waits
    // for the POD to fall quiet before it acknowledges).
    let collecting = tokio::spawn({
        let first = first.clone();
        async move { first.collect(u64::from(POD)).await }
    });
    let mut stored = 0;
    for _ in 0..300 {
        stored = events
            .progress
            .lock()
            .unwrap()
            .last()
            .map_or(0, |p| p.reports);
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stored > 0, "a report was stored before the app died");
    collecting.abort();
    let _ = collecting.await;
    assert_eq!(
        f.pod.with_model(|m| m.ack(0)),
        0,
        "killed before the acknowledgement"
    );
    first.stop_scan();
    drop(first);
    let kept = {
        // What the dead app left on disk.
        let buffer = std::fs::read_dir(f.dir.path().join("profiles"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("buffer.sqlite");
        let budget = gateway::buffer::Budget { max_bytes: 1 << 30 };
        let stats = gateway::buffer::Buffer::open_read_only(&buffer, budget)
            .unwrap()
            .stats()
            .unwrap();
        stats.pending_readings
    };
    assert!(kept > 0, "what was stored stays");
    // The radio is free again once the dead app's link is gone.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let second = f.open(Arc::new(Seen::default()));
    second.start_scan().await.unwrap();
    heard(&second).await;
    // The next visit starts from what the buffer holds: the POD sends only the rest, and
    // is acknowledged for all of it.
    let rest = second.collect(u64::from(POD)).await.unwrap();
    assert!(kept + rest.readings >= u64::from(MANY), "{kept} + {rest:?}");
    let last_id = f.pod.with_model(|m| {
        m.readings()
            .filter(|r| r.stream == STREAM)
            .map(|r| r.reading_id)
            .max()
            .unwrap()
    });
    assert!(f.pod.with_model(|m| m.ack(0)) >= last_id);
    f.net.set_up(true);
    let summary = second.sync_now().await.unwrap();
    assert_eq!(summary.stopped, None, "{summary:?}");
    assert_eq!(summary.claims_accepted, 1);
    assert_eq!(
        cloud_count(&f.app, &f.site.tech, u64::from(MANY)).await,
        u64::from(MANY),
        "every reading once: {summary:?}"
    );
    second.stop_scan();
    f.dongle.stop().await;
}

/// Stops the app's sync task once the cloud has answered its first report, before the
/// pass records it: the moment where a report is in the cloud and still waits on the
/// laptop.
#[derive(Default)]
struct StopAfterFirstReport {
    task: std::sync::OnceLock<tokio::task::AbortHandle>,
    seen: Mutex<Vec<SyncProgress>>,
}

impl Events for StopAfterFirstReport {
    fn sync_progress(&self, progress: &SyncProgress) {
        self.seen.lock().unwrap().push(*progress);
        if progress.reports_sent == 1 {
            self.task.get().expect("the task is known").abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_stopped_in_the_middle_of_a_sync_loses_nothing_and_duplicates_nothing() {
    // Reports of at most 100 readings, so the POD's data goes up in several.
    let f = field_with(pod_with(
        READINGS,
        PodConfig {
            max_report_size: 44 + 16 * 100,
            ..pod_config()
        },
    ))
    .await;
    let stop = Arc::new(StopAfterFirstReport::default());
    let first = f.open(stop.clone());
    first
        .sign_in(&f.cloud(), &f.site.email, common::PASSWORD)
        .await
        .unwrap();
    first.claim(u64::from(POD), &f.site.project).unwrap();
    first.start_scan().await.unwrap();
    heard(&first).await;
    let collected = first.collect(u64::from(POD)).await.unwrap();
    assert!(collected.reports >= 3, "{collected:?}");
    let syncing = tokio::spawn({
        let first = first.clone();
        async move { first.sync_now().await }
    });
    stop.task.set(syncing.abort_handle()).unwrap();
    assert!(syncing.await.is_err_and(|e| e.is_cancelled()), "stopped");
    let seen = stop.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].reports >= collected.reports, "{seen:?}");
    // Every report still waits on the laptop, one of them already in the cloud.
    assert_eq!(first.waiting().unwrap().reports, collected.reports);
    first.stop_scan();
    drop(first);

    let second = f.open(Arc::new(Seen::default()));
    let summary = second.sync_now().await.unwrap();
    assert_eq!(summary.stopped, None, "{summary:?}");
    assert_eq!(summary.reports_sent, collected.reports, "{summary:?}");
    assert_eq!(second.waiting().unwrap().reports, 0);
    assert_eq!(
        cloud_count(&f.app, &f.site.tech, u64::from(READINGS)).await,
        u64::from(READINGS),
        "every reading once"
    );
    f.dongle.stop().await;
}
