//! coretools' own OTA agent against our cloud and a virtual POD: `OtaUpdater` from
//! iotile-ext-cloud 1.2.0, connected through coretools' BLED112 driver to the virtual dongle
//! on its pty, with the cloud in this process. `reference/coretools_ota.py` links coretools to
//! the cloud with a developer's jwt and runs `check_cloud_for_script()` and
//! `check_and_update()`; this test holds what it printed against the cloud and the POD.
//!
//! What it proves (spec 3.12, 6.2, 6.3, checks 14 and 15): the device view reaches coretools
//! with criteria it can evaluate (`app_version:lte:1.9` written by the admin arrives as
//! `app_version:lteq:1.9.0`: an operator in coretools' table and the `X.Y.Z` its
//! `SemanticVersion` insists on) and `released_on` in the one format it parses; the
//! script's `url` is absolute and downloads with no Authorization header; the agent's
//! `device_updater` sends it over the high-speed channel through the BGAPI dongle, the POD
//! runs it to its end (its SHA-256 in the POD's record, the new app tag); and coretools'
//! `POST ota/action/` is accepted as a successful attempt. A device of the org outside the
//! fleet is offered nothing, so `check_cloud_for_script()` is False there.
//!
//! The cloud knows the POD's versions before the release (a system report carrying what the
//! POD itself answers to RPC 0x1008), so the device is one of the deployment's targets, as
//! it would be after a gateway's first collection.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::path::{Path, PathBuf};
use std::time::Duration;

use firmware_tools::pod::VirtualPod;
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sync_protocol::report::{SignedListHeader, SignedListReport, Signer};
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use site::{ota, pods, site, DEVICE, SECOND};

/// Scanning (coretools waits at least 2 s), two connections and a small script take about
/// 15 s; a slow shared machine gets room.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(240);

/// The reference venv the firmware-tools tests make (iotile-core, the BLED112 driver and
/// iotile-ext-cloud), under the same name and from the same requirements, so both crates
/// share one venv in the target directory. `IOTILE_REFERENCE_PYTHON` may name another.
fn reference_python() -> PathBuf {
    if let Some(python) = std::env::var_os("IOTILE_REFERENCE_PYTHON") {
        return PathBuf::from(python);
    }
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware-tools/tests/reference/requirements.txt");
    common::venv::python_with("iotile-reference-venv", &requirements)
}

/// The POD's `(os, app)` packed tags as it answers RPC 0x1008 (`L8xLL`).
fn controller_info(pod: &VirtualPod) -> (u32, u32) {
    let answer = pod.with_model(|m| m.rpc(8, 0x1008, &[]));
    let word = |at: usize| u32::from_le_bytes(answer.payload()[at..at + 4].try_into().unwrap());
    (word(12), word(16))
}

/// Tells the cloud the POD's versions the way the POD does: a hash-signed report of the
/// system streamer with its OS (0x5C08) and app (0x5C09) readings.
async fn report_versions(app: &common::TestApp, token: &str, pod: &VirtualPod) {
    let (os, app_tag) = controller_info(pod);
    let readings = [(0x5C08, 1, os), (0x5C09, 2, app_tag)].map(|(stream, id, value)| Reading {
        stream,
        reading_id: id,
        raw_time: id * 10,
        value,
    });
    let header = SignedListHeader {
        device_id: DEVICE,
        report_id: 3,
        sent_timestamp: 25,
        streamer: 1,
        selector: 0x5FFF,
    };
    let bytes = SignedListReport::build(header, &readings, Signer::Hash)
        .unwrap()
        .encode();
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let part = reqwest::multipart::Part::bytes(bytes).file_name("system.bin");
    let response = app
        .client
        .post(format!("{}?timestamp={now}", app.url("streamer/report/")))
        .header("Authorization", format!("jwt {token}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        ota::versions_known(app, token, &[DEVICE], Duration::from_secs(30)).await,
        "the cloud recorded the POD's app version"
    );
}

/// Runs the driver and returns its JSON; any failure of coretools fails the test with the
/// script's own account of it and coretools' output.
async fn run_coretools(server: &str, token: &str, dongle: &VirtualBled112) -> Value {
    let python = tokio::task::spawn_blocking(reference_python).await.unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/coretools_ota.py");
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(&script)
        .arg(server)
        .arg(dongle.path())
        .arg(format!("{DEVICE:#x}"))
        .arg(format!("{SECOND:#x}"))
        // Not on the command line, where any process could read it.
        .env("IOTILE_TEST_CLOUD_TOKEN", token);
    let output = tokio::time::timeout(SCRIPT_DEADLINE, command.kill_on_drop(true).output())
        .await
        .expect("coretools finishes within the deadline")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the script printed no JSON ({e}): {stdout}\n{stderr}"));
    assert!(
        output.status.success() && json.get("error").is_none(),
        "coretools failed: {}\n{}\nsaw: {json}\n{stderr}",
        json["error"],
        json["traceback"].as_str().unwrap_or_default()
    );
    json
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, the only form `check_cloud_for_script` parses.
fn second_precision_utc(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coretools_finds_downloads_runs_and_reports_a_deployment() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    // In the org and the project, but not in the deployment's fleet.
    s.claim(&app, SECOND).await;
    let target = pods::quiet_pod(DEVICE);
    let outsider = pods::quiet_pod(SECOND);
    let (_, app_before) = controller_info(&target);
    assert_eq!(app_before, TagVersion::new(2049, 1, 0).unwrap().pack());
    report_versions(&app, &s.admin, &target).await;

    let bytes = ota::update_script(0);
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let deployment = ota::deploy(&app, &s, &bytes, &[DEVICE], None).await;
    let devices = app
        .ok(
            &format!("ota/request/{}/devices/", deployment.id),
            &deployment.developer,
        )
        .await;
    assert_eq!(
        devices["results"][0]["slug"], "d--0000-0000-0000-00a1",
        "the POD is a target: {devices}"
    );

    let pods = [(DEVICE, target.clone()), (SECOND, outsider.clone())];
    let dongle = VirtualBled112::start(pods::peripherals(&pods), DongleOptions::default()).unwrap();
    let server = format!("http://{}", app.addr);
    let seen = run_coretools(&server, &deployment.developer, &dongle).await;
    dongle.stop().await;

    // Outside the fleet: nothing offered, so coretools finds no script and runs nothing.
    assert_eq!(seen["outsider"]["slug"], "d--0000-0000-0000-00a3");
    assert_eq!(seen["outsider"]["check"], false, "{seen}");
    assert!(outsider.with_model(|m| m.scripts_completed().is_empty()));

    // What coretools' own client read from `ota/device/`.
    let visit = &seen["target"];
    assert_eq!(visit["slug"], "d--0000-0000-0000-00a1");
    assert_eq!(
        visit["app"],
        json!([2049, "1.0.0"]),
        "coretools' view of the POD"
    );
    let offered = visit["device_view"]["deployments"].as_array().unwrap();
    assert_eq!(offered.len(), 1, "{offered:?}");
    let offer = &offered[0];
    assert_eq!(offer["id"], deployment.id);
    assert_eq!(offer["script"], deployment.script.as_str());
    assert_eq!(
        offer["selection_criteria"],
        json!(["app_tag:eq:2049", "app_version:lteq:1.9.0"]),
        "written as `lte`, sent in the form coretools evaluates"
    );
    assert!(offer["completed_on"].is_null());
    let released_on = offer["released_on"].as_str().unwrap();
    assert!(second_precision_utc(released_on), "{released_on}");

    // check_cloud_for_script() → (deployment id, absolute url).
    let check = visit["check"].as_array().expect("a (deployment, url) pair");
    assert_eq!(check[0], deployment.id);
    let url = check[1].as_str().unwrap();
    assert!(url.starts_with(&format!("{server}/")), "absolute: {url}");
    assert!(
        !url.contains(&deployment.developer),
        "no caller's token in the link"
    );
    // A plain GET, as coretools' `requests.get(url)`: no Authorization header at all.
    let download = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // check_and_update() ran the script on the POD, once and to its end.
    assert_eq!(visit["updated"], true);
    assert_eq!(
        target.with_model(|m| m.scripts_completed().to_vec()),
        [sha256]
    );
    let (_, app_after) = controller_info(&target);
    let (tag, major, minor) = ota::NEW_APP;
    assert_eq!(
        app_after,
        TagVersion::new(tag, major, minor).unwrap().pack()
    );

    // ...and told the cloud: one successful attempt, not yet confirmed by the device.
    let actions = deployment.actions(&app).await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    let action = &actions[0];
    assert_eq!(action["device"], "d--0000-0000-0000-00a1");
    assert_eq!(action["attempt_successful"], true);
    assert_eq!(action["device_confirmation"], false);
    assert!(second_precision_utc(
        action["last_attempt_on"].as_str().unwrap()
    ));
}
