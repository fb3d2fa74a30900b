//! A POD updated from the desktop app's core with no network, end to end: an admin signs
//! and releases a script for a fleet holding the POD; the app fetches the feed and the
//! script with its offline copy; in the basement it updates the POD (signature and
//! criteria checked, each step shown); upstairs the outcome goes up, and once the POD's
//! next collection brings its new app version through ingest, the deployment completes.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use desktop_core::events::Events;
use desktop_core::updates::{UpdateProgress, UpdateResult};
use desktop_core::{Desktop, RadioChoice};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_updated_offline_completes_its_deployment_once_back_online() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    let pods = vec![(DEVICE, quiet_pod(DEVICE))];
    let dongle = VirtualBled112::start(peripherals(&pods), DongleOptions::default()).unwrap();
    let net = Uplink::start(app.addr, true).await;
    let dir = tempfile::tempdir().unwrap();
    let steps = Arc::new(Steps::default());
    let desktop = Arc::new(
        Desktop::open(
            dir.path(),
            RadioChoice::Bled112(dongle.path().to_owned()),
            steps.clone(),
        )
        .unwrap(),
    );
    desktop
        .sign_in(
            &format!("http://{}", net.addr),
            "admin@site.io",
            common::PASSWORD,
        )
        .await
        .unwrap();
    desktop.start_scan().await.unwrap();
    in_range(&desktop).await;

    // A first collection tells the cloud the POD's versions, which deployments select on.
    desktop.collect(u64::from(DEVICE)).await.unwrap();
    desktop.sync_now().await.unwrap();
    assert!(versions_known(&app, &s.staff, &[DEVICE], Duration::from_secs(30)).await);
    let bytes = update_script(0);
    let d = deploy(&app, &s, &bytes, &[DEVICE], None).await;
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
    assert_eq!(
        pods[0].1.with_model(|m| m.scripts_completed().len()),
        1,
        "the script ran once"
    );
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
        let r = d.request(&app).await;
        (!r["completed_on"].is_null()).then_some(r)
    })
    .await
    .expect("the deployment completes once the new version is ingested");
    assert_eq!(completed["state"], "completed", "{completed}");
    // The app's own outcome, confirmed by the POD's new version.
    let actions = d.actions(&app).await;
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
    dongle.stop().await;
}
