//! coretools' own BLED112 driver drives the virtual dongle on its pty, as field tools drive a
//! real dongle: `HardwareManager("bled112:<pty>")` from iotile-core 5.2.0 with
//! iotile-transport-bled112 3.1.0 scans two virtual PODs (v1 and v2 advertisements), then
//! visits one twice. `reference/coretools_bled112.py` does the visits and prints what
//! coretools saw as JSON; this test holds it against the PODs.
//!
//! The driver is strict where our own gateway is lenient (device-protocols spec §6.5.1): it
//! refuses a service discovery whose closing 4/1 is not 0, so this test is what keeps the
//! dongle's GATT procedures ending as a real BLED112's do.

use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::advertising::AdvertisementFormat;
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use serde_json::Value;

#[path = "common/venv.rs"]
mod venv;

const VISITED: u64 = 0x0012_3456;
const OTHER: u64 = 0x0012_3457;
/// Scanning (coretools waits at least 2 s), two visits and two reports take about 15 s.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(180);

/// A POD that logs only what the script pushes.
fn pod(device_id: u64, advertisement: AdvertisementFormat) -> (PodConfig, VirtualPod) {
    let config = PodConfig {
        outputs: Vec::new(),
        advertisement,
        ..PodConfig::with_device_id(device_id)
    };
    let pod = VirtualPod::new(config.clone()).expect("the POD starts");
    (config, pod)
}

/// Runs the script against the dongle and returns its JSON; any failure of coretools fails
/// the test with the script's own account of it.
async fn run_coretools(dongle: &VirtualBled112, device_ids: &[u64]) -> Value {
    let python = tokio::task::spawn_blocking(venv::reference_python)
        .await
        .expect("the venv is made");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/coretools_bled112.py");
    let mut command = tokio::process::Command::new(&python);
    command.arg(&script).arg(dongle.path());
    command.args(device_ids.iter().map(|id| format!("{id:#x}")));
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
        "coretools failed: {}\nsaw: {json}\n{stderr}",
        json["error"]
    );
    json
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

/// The values and ids of output 1 in a report as coretools decoded it, after checking that
/// coretools verified it and that its ids are in order and inside the footer's range.
fn readings(report: &Value, device_id: u64) -> (Vec<u64>, Vec<u64>) {
    assert_eq!(report["kind"], "SignedListReport", "{report}");
    assert_eq!(report["verified"], true, "coretools verifies the hash");
    assert_eq!(number(&report["origin"]), device_id);
    assert_eq!(
        number(&report["trigger_error"]),
        0,
        "the trigger found data"
    );
    let list = report["readings"].as_array().expect("readings");
    let ids: Vec<u64> = list.iter().map(|r| number(&r["reading_id"])).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let (lowest, highest) = (number(&report["lowest_id"]), number(&report["highest_id"]));
    assert_eq!((ids.first(), ids.last()), (Some(&lowest), Some(&highest)));
    assert!(number(&report["report_id"]) > highest);
    let output_1 = list.iter().filter(|r| r["stream"] == 0x5001);
    let values = output_1.clone().map(|r| number(&r["value"])).collect();
    let ids = output_1.map(|r| number(&r["reading_id"])).collect();
    (values, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coretools_scans_connects_streams_acknowledges_and_reconnects() {
    let (config, visited) = pod(VISITED, AdvertisementFormat::V2);
    let (_, other) = pod(OTHER, AdvertisementFormat::V1);
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(visited.clone()), Arc::new(other)];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).expect("pty opens");

    let seen = run_coretools(&dongle, &[VISITED, OTHER]).await;

    let scan = seen["scan"].as_array().expect("scan results");
    for device_id in [VISITED, OTHER] {
        assert!(
            scan.iter().any(|d| number(&d["uuid"]) == device_id),
            "{device_id:#x} is found: {scan:?}"
        );
    }
    let entry = scan.iter().find(|d| number(&d["uuid"]) == VISITED);
    assert_eq!(
        entry.map(|d| &d["connection_string"]),
        Some(&Value::from(visited.address().to_string()))
    );

    // RPC 0x1008: uuid and the packed OS and app tags; 0x0004: the controller's name.
    let first = &seen["first_visit"];
    assert_eq!(number(&first["device_id"]), VISITED);
    let os = config.os_tag().expect("os tag").pack();
    let app = config.app_tag().expect("app tag").pack();
    assert_eq!(number(&first["os_info"]), u64::from(os));
    assert_eq!(number(&first["app_info"]), u64::from(app));
    assert_eq!(first["tile_name"], "NRF52 ");

    let report = &first["report"];
    let (values, _) = readings(report, VISITED);
    assert_eq!(values, [111, 222, 333]);
    let acked = number(&report["highest_id"]);
    assert_eq!(number(&first["ack_error"]), 0);
    assert_eq!(number(&first["stored_ack"]), acked);

    // The ack outlives the link: the second visit's report starts after it.
    let second = &seen["second_visit"];
    assert_eq!(number(&second["stored_ack"]), acked);
    let (values, ids) = readings(&second["report"], VISITED);
    assert_eq!(values, [444]);
    assert!(ids.iter().all(|id| *id > acked), "{ids:?} after {acked}");

    assert_eq!(u64::from(visited.with_model(|m| m.ack(0))), acked);
    assert!(!visited.is_connected(), "coretools disconnected");
    dongle.stop().await;
}
