//! A POD updated from the desktop app's core with no network, end to end: an admin signs
//! and releases a script for a fleet holding the POD; the app fetches the feed and the
//! script with its offline copy; in the basement it updates the POD (signature and
//! criteria checked, each step shown); upstairs the outcome goes up, and once the POD's
//! next collection brings its new app version through ingest, the deployment completes.
//! An app stopped while sending the script, and again once it is triggered, resumes the
//! job where it stood: the script runs once.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use desktop_core::events::Events;
use desktop_core::updates::{UpdateProgress, UpdateResult};
use desktop_core::{Desktop, RadioChoice};
use firmware_tools::pod::VirtualPod;
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use site::ota::{deploy, update_script, versions_known, NEW_APP};
use site::outage::Uplink;
use site::pods::{peripherals, quiet_pod};
use site::runs::wait_for;
use site::{site, DEVICE};

#[derive(Default)]
struct Steps(Mutex<Vec<UpdateProgress>>);

impl Events for Steps {
    fn update_progress(&self, progress: &UpdateProgress) {
        self.0.lock().unwrap().push(progress.clone());
    }
}

async fn in_range(desktop: &Desktop) {
    for _ in 0..100 {
        if desktop
            .nearby()
            .unwrap()
            .iter()
            .any(|p| p.device == u64::from(DEVICE))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the POD was never heard");
}

/// Steps that stop the app at the first one `at` picks, as if it were closed right there:
/// its update task is aborted at its next wait.
struct StopAt {
    at: fn(&UpdateProgress) -> bool,
    task: OnceLock<tokio::task::AbortHandle>,
    stopped: Mutex<Option<UpdateProgress>>,
}

impl StopAt {
    fn new(at: fn(&UpdateProgress) -> bool) -> Arc<StopAt> {
        Arc::new(StopAt {
            at,
            task: OnceLock::new(),
            stopped: Mutex::new(None),
        })
    }
}

impl Events for StopAt {
    fn update_progress(&self, progress: &UpdateProgress) {
        let mut stopped = self.stopped.lock().unwrap();
        if stopped.is_none() && (self.at)(progress) {
            *stopped = Some(progress.clone());
            self.task.get().expect("the task is known").abort();
        }
    }
}

/// The cloud, the POD behind a virtual BLED112, the relay between laptop and cloud, and the
/// laptop's data directory.
struct Shop {
    app: common::TestApp,
    s: site::Site,
    pod: VirtualPod,
    dongle: VirtualBled112,
    net: Uplink,
    dir: tempfile::TempDir,
}

impl Shop {
    async fn start() -> Shop {
        let app = common::TestApp::spawn(common::Backend::Sqlite).await;
        let s = site(&app).await;
        let pods = vec![(DEVICE, quiet_pod(DEVICE))];
        let dongle = VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap();
        let net = Uplink::start(app.addr, true).await;
        let pod = pods.into_iter().next().unwrap().1;
        Shop {
            app,
            s,
            pod,
            dongle,
            net,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The app on this laptop, hearing the POD.
    async fn open(&self, events: Arc<dyn Events>) -> Arc<Desktop> {
        let desktop = Arc::new(
            Desktop::open(
                self.dir.path(),
                RadioChoice::Bled112(self.dongle.path().to_owned()),
                events,
            )
            .unwrap(),
        );
        desktop.start_scan().await.unwrap();
        in_range(&desktop).await;
        desktop
    }

    /// The app signed in, after a first collection told the cloud the POD's versions (which
    /// deployments select on).
    async fn signed_in(&self, events: Arc<dyn Events>) -> Arc<Desktop> {
        let desktop = self.open(events).await;
        desktop
            .sign_in(
                &format!("http://{}", self.net.addr),
                "admin@site.io",
                common::PASSWORD,
            )
            .await
            .unwrap();
        desktop.collect(u64::from(DEVICE)).await.unwrap();
        desktop.sync_now().await.unwrap();
        assert!(versions_known(&self.app, &self.s.staff, &[DEVICE], Duration::from_secs(30)).await);
        desktop
    }

    fn scripts_run(&self) -> usize {
        self.pod.with_model(|m| m.scripts_completed().len())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_updated_offline_completes_its_deployment_once_back_online() {
    let shop = Shop::start().await;
    let (app, s, net) = (&shop.app, &shop.s, &shop.net);
    let steps = Arc::new(Steps::default());
    let desktop = shop.signed_in(steps.clone()).await;
    let bytes = update_script(0);
    let d = deploy(app, s, &bytes, &[DEVICE], None).await;
    assert!(
        desktop.update_offers(u64::from(DEVICE)).unwrap().is_empty(),
        "the copy does not know it yet"
    );
    let synced = desktop.sync_now().await.unwrap();
    assert!(synced.copy_refreshed, "{synced:?}");
    let offers = desktop.update_offers(u64::from(DEVICE)).unwrap();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].deployment, d.id);
    assert!(offers[0].downloaded, "the script came with the copy");
    assert!(offers[0].records > 0);
    assert_eq!(offers[0].job, None);

    // The basement.
    net.go_down().await;
    let result = desktop.update(u64::from(DEVICE)).await.unwrap();
    assert_eq!(result, UpdateResult::Succeeded { deployment: d.id });
    let shown: Vec<String> = steps
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.step.clone())
        .collect();
    assert_eq!(shown.first().map(String::as_str), Some("checking"));
    assert_eq!(shown.last().map(String::as_str), Some("succeeded"));
    assert!(shown.iter().any(|s| s == "sending"), "{shown:?}");
    // The sending was shown record by record, and ended with the whole script.
    let sent: Vec<UpdateProgress> = steps
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.script_bytes > 0)
        .cloned()
        .collect();
    let whole = sent.last().expect("the sending was shown");
    assert_eq!(whole.script_bytes, bytes.len());
    assert_eq!(
        (whole.bytes_sent, whole.records_sent),
        (bytes.len(), offers[0].records)
    );
    assert!(sent
        .windows(2)
        .all(|w| w[0].records_sent <= w[1].records_sent && w[0].bytes_sent <= w[1].bytes_sent));
    assert_eq!(shop.scripts_run(), 1, "the script ran once");
    assert_eq!(desktop.waiting().unwrap().actions, 1, "the outcome waits");
    assert_eq!(
        desktop.update_offers(u64::from(DEVICE)).unwrap()[0]
            .job
            .as_deref(),
        Some("succeeded")
    );
    // Nothing more to do on that POD.
    assert!(matches!(
        desktop.update(u64::from(DEVICE)).await.unwrap(),
        UpdateResult::NothingToDo { .. }
    ));
    // The POD's new versions are collected on the spot.
    desktop.collect(u64::from(DEVICE)).await.unwrap();

    // Upstairs.
    net.set_up(true);
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(summary.stopped, None, "{summary:?}");
    assert_eq!(summary.actions_sent, 1);
    let completed = wait_for(Duration::from_secs(30), || async {
        let r = d.request(app).await;
        (!r["completed_on"].is_null()).then_some(r)
    })
    .await
    .expect("the deployment completes once the new version is ingested");
    assert_eq!(completed["state"], "completed", "{completed}");
    // The app's own outcome, confirmed by the POD's new version.
    let actions = d.actions(app).await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["attempt_successful"], true);
    assert_eq!(actions[0]["device_confirmation"], true);
    assert!(actions[0]["log"].as_str().unwrap().contains("back after"));
    let versions = app
        .ok(
            &format!("device/d--0000-0000-0000-{DEVICE:04x}/versions/"),
            &s.staff,
        )
        .await;
    assert!(
        versions.to_string().contains(&format!("{}", NEW_APP.0)),
        "{versions}"
    );
    desktop.stop_scan();
    shop.dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_stopped_in_the_middle_of_an_update_resumes_it_and_the_script_runs_once() {
    let shop = Shop::start().await;
    let (app, s, net) = (&shop.app, &shop.s, &shop.net);
    let desktop = shop.signed_in(Arc::new(Steps::default())).await;
    // A firmware image large enough to be stopped halfway through.
    let bytes = update_script(64 * 1024);
    let d = deploy(app, s, &bytes, &[DEVICE], None).await;
    assert!(desktop.sync_now().await.unwrap().copy_refreshed);
    desktop.stop_scan();
    drop(desktop);
    net.go_down().await;

    // Runs the update in an app that stops where `at` says; returns where it stopped and
    // the job's state the app left on disk.
    let stopped_at = |at: fn(&UpdateProgress) -> bool| {
        let shop = &shop;
        async move {
            let stop = StopAt::new(at);
            let desktop = shop.open(stop.clone()).await;
            let task = tokio::spawn({
                let desktop = desktop.clone();
                async move { desktop.update(u64::from(DEVICE)).await }
            });
            stop.task.set(task.abort_handle()).unwrap();
            let ended = task.await;
            assert!(ended.is_err_and(|e| e.is_cancelled()), "stopped");
            let job = desktop.update_offers(u64::from(DEVICE)).unwrap()[0]
                .job
                .clone();
            desktop.stop_scan();
            drop(desktop);
            // The dead app's link is gone before the next one connects.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let seen = stop.stopped.lock().unwrap().clone().expect("it stopped");
            (seen, job)
        }
    };

    let (seen, job) =
        stopped_at(|p| p.step == "sending" && p.bytes_sent > 0 && p.bytes_sent < p.script_bytes)
            .await;
    assert!(seen.records_sent < seen.records, "{seen:?}");
    assert_eq!(job.as_deref(), Some("sending"));
    assert_eq!(shop.scripts_run(), 0);

    let (seen, job) = stopped_at(|p| p.step == "triggered").await;
    assert_eq!(seen.deployment, Some(d.id));
    assert_eq!(job.as_deref(), Some("triggered"));

    // The third app finishes the job from where the second left it: nothing is sent again.
    let steps = Arc::new(Steps::default());
    let desktop = shop.open(steps.clone()).await;
    let result = desktop.update(u64::from(DEVICE)).await.unwrap();
    assert_eq!(result, UpdateResult::Succeeded { deployment: d.id });
    assert!(
        steps.0.lock().unwrap().iter().all(|p| p.step != "sending"),
        "the triggered script is not sent again"
    );
    assert_eq!(shop.scripts_run(), 1, "the script ran once");
    desktop.collect(u64::from(DEVICE)).await.unwrap();

    net.set_up(true);
    let summary = desktop.sync_now().await.unwrap();
    assert_eq!(
        (summary.stopped.as_deref(), summary.actions_sent),
        (None, 1),
        "{summary:?}"
    );
    let completed = wait_for(Duration::from_secs(30), || async {
        let r = d.request(app).await;
        (!r["completed_on"].is_null()).then_some(r)
    })
    .await
    .expect("the deployment completes");
    assert_eq!(completed["state"], "completed", "{completed}");
    desktop.stop_scan();
    shop.dongle.stop().await;
}
