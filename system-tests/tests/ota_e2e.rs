//! OTA end to end, on both backends: an admin uploads a signed script that changes the PODs'
//! sensor graph and app tag, makes a fleet and releases a deployment; the gateway binary,
//! with two PODs on a virtual BLED112 and two on the virtual BlueZ, updates every POD; each
//! action is confirmed and the deployment completes only once the POD's own 0x5C09 reading
//! has come through ingest.
//!
//! Causality is tested, not assumed: the cloud's job workers are stopped once the PODs'
//! versions are known, so the gateway's successful actions arrive while no report is being
//! processed. Nothing may be confirmed or complete then; once the workers run again, the
//! system reports with the new versions are ingested and the deployment completes by itself.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::VirtualPod;
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;
use serde_json::Value;
use sha2::{Digest, Sha256};
use site::ota::{deploy, update_script, versions_known, NEW_APP};
use site::pods::quiet_pod;
use site::process::GatewayProcess;
use site::runs::wait_for;
use site::{site, DEVICE};
use tokio_util::sync::CancellationToken;

const ON_BLED112: [u32; 2] = [DEVICE, 0xA3];
const ON_BLUEZ: [u32; 2] = [0xB1, 0xB2];

fn peripherals(pods: &[&VirtualPod]) -> Vec<Arc<dyn Peripheral>> {
    pods.iter()
        .map(|p| Arc::new((*p).clone()) as Arc<dyn Peripheral>)
        .collect()
}

fn start_workers(app: &common::TestApp) -> CancellationToken {
    let stop = CancellationToken::new();
    tokio::spawn(cloud::worker::run(
        app.state.clone(),
        common::worker_options(),
        stop.clone(),
    ));
    stop
}

fn app_version(versions: &Value) -> Option<(u64, String)> {
    versions
        .as_array()?
        .iter()
        .find(|v| v["type"] == "app")
        .map(|v| {
            (
                v["tag"].as_u64().unwrap_or(0),
                v["version"].as_str().unwrap_or("").to_string(),
            )
        })
}

async fn one_site(backend: common::Backend) {
    let app = common::TestApp::spawn_idle(backend).await;
    let workers = start_workers(&app);
    let s = site(&app).await;
    for id in ON_BLED112
        .iter()
        .chain(&ON_BLUEZ)
        .filter(|id| **id != DEVICE)
    {
        s.claim(&app, *id).await;
    }
    let pods: Vec<(u32, VirtualPod)> = ON_BLED112
        .iter()
        .chain(&ON_BLUEZ)
        .map(|id| (*id, quiet_pod(*id)))
        .collect();
    let on = |ids: &[u32]| -> Vec<&VirtualPod> {
        pods.iter()
            .filter(|(id, _)| ids.contains(id))
            .map(|(_, p)| p)
            .collect()
    };
    let dongle =
        VirtualBled112::start(peripherals(&on(&ON_BLED112)), DongleOptions::default()).unwrap();
    let bus = PrivateBus::start().expect("dbus-daemon starts (Debian package dbus)");
    let bluez = VirtualBluez::start(bus.address(), peripherals(&on(&ON_BLUEZ)))
        .await
        .expect("org.bluez served");
    // The gateway process finds "the system bus" here, as btleplug does on a Pi.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());

    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::new(
        dir.path(),
        &format!("http://{}", app.addr),
        &[dongle.path()],
        "[ota]\npoll = \"500 ms\"\ncome_back_within = \"60 s\"\n\
         [[adapters]]\nkind = \"bluez\"\nname = \"hci0\"\nmax_connections = 2\n",
    );
    s.register_gateway(&app, &gateway.key(), "ota").await;
    gateway.start();

    // The PODs' versions reach the cloud from their system reports.
    let ids: Vec<u32> = pods.iter().map(|(id, _)| *id).collect();
    assert!(
        versions_known(&app, &s.staff, &ids, Duration::from_secs(60)).await,
        "every POD's versions known; gateway log:\n{}",
        gateway.log_tail(40)
    );
    workers.cancel();

    let bytes = update_script(0);
    let d = deploy(&app, &s, &bytes, &ids, None).await;
    let before = d.request(&app).await;
    assert_eq!(before["state"], "running", "{before}");
    assert!(before["completed_on"].is_null());
    assert_eq!(before["progress"]["targeted"], 4, "{before}");
    assert_eq!(before["selection_criteria"][1], "app_version:lteq:1.9.0");

    // Every POD is updated and says so; the cloud has the actions but processes no report.
    let attempted = wait_for(Duration::from_secs(120), || async {
        let actions = d.actions(&app).await;
        let done = actions
            .iter()
            .filter(|a| a["attempt_successful"] == true)
            .count();
        (done == ids.len()).then_some(actions)
    })
    .await
    .unwrap_or_else(|| panic!("every POD updated; gateway log:\n{}", gateway.log_tail(60)));
    for (id, pod) in &pods {
        let app_tag = pod.with_model(|m| m.app_tag());
        assert_eq!(
            (app_tag.tag, app_tag.major, app_tag.minor),
            NEW_APP,
            "POD {id:#x}"
        );
        let sha = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            pod.with_model(|m| m.scripts_completed().to_vec()),
            vec![sha]
        );
    }
    for action in &attempted {
        assert_eq!(action["device_confirmation"], false, "{action}");
        assert!(
            action["log"].as_str().unwrap_or("").contains("back after"),
            "{action}"
        );
    }
    let waiting = d.request(&app).await;
    assert!(waiting["completed_on"].is_null(), "{waiting}");
    assert_eq!(waiting["progress"]["confirmed"], 0, "{waiting}");
    for id in &ids {
        let device = format!("d--0000-0000-0000-{id:04x}");
        let versions = app
            .ok(&format!("device/{device}/versions/"), &s.staff)
            .await;
        assert_eq!(
            app_version(&versions),
            Some((2049, "v1.0".into())),
            "{versions}"
        );
    }

    // Ingest runs again: the POD's own version readings confirm, and the deployment ends.
    let workers = start_workers(&app);
    let completed = wait_for(Duration::from_secs(90), || async {
        let r = d.request(&app).await;
        (!r["completed_on"].is_null()).then_some(r)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the deployment completes; gateway log:\n{}",
            gateway.log_tail(60)
        )
    });
    assert_eq!(completed["state"], "completed", "{completed}");
    assert_eq!(completed["progress"]["confirmed"], 4, "{completed}");
    for action in d.actions(&app).await {
        assert_eq!(action["device_confirmation"], true, "{action}");
    }
    for id in &ids {
        let device = format!("d--0000-0000-0000-{id:04x}");
        let versions = app
            .ok(&format!("device/{device}/versions/"), &s.staff)
            .await;
        assert_eq!(
            app_version(&versions),
            Some((2050, "v2.0".into())),
            "{versions}"
        );
        let view = app.ok(&format!("ota/device/{device}/"), &s.staff).await;
        assert_eq!(view["deployments"], serde_json::json!([]), "{view}");
    }
    // The gateway's status API tells the same story.
    let board = gateway
        .status(&reqwest::Client::new())
        .await
        .expect("status");
    assert_eq!(board["ota"]["jobs"]["succeeded"], 4, "{board}");
    assert_eq!(board["ota"]["unsent_outcomes"], 0, "{board}");
    let status = gateway.stop(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    workers.cancel();
    dongle.stop().await;
    bluez.stop().await.expect("stops");
}

/// Both backends in one test: the BlueZ bus address is process-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_deployment_updates_every_pod_and_completes_from_their_version_streams() {
    one_site(common::Backend::Sqlite).await;
    one_site(common::Backend::Postgres).await;
}
