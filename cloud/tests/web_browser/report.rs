//! The report the devices journey uploads as a gateway would: readings written in the JSON
//! file `iotile-fw report build` takes, made into a hash-signed list report by the library
//! call that command runs, with the command's defaults.

use std::path::Path;

use firmware_tools::build::{build_report, read_readings, BuildOptions, ReportKind, Signing};
use serde_json::{json, Value};

/// The values of stream 5001, one every 5 minutes of uptime; the last is read when sent.
const VALUES: [u32; 12] = [12, 17, 9, 30, 25, 41, 38, 22, 19, 44, 50, 47];
const EVERY_SECS: u32 = 300;
/// `iotile-fw report build`'s default selector (all outputs, as a POD's streamer 0).
const SELECTOR: u16 = 0xD7FF;

/// Writes `readings.json` and `report.bin` into `dir`; what the journey needs to know of them.
pub fn write(dir: &Path, device_id: u32) -> Value {
    let readings: Vec<Value> = VALUES
        .iter()
        .zip(0u32..)
        .map(|(value, i)| {
            json!({"stream": "5001", "reading_id": i + 1, "raw_time": i * EVERY_SECS, "value": value})
        })
        .collect();
    let source = dir.join("readings.json");
    std::fs::write(&source, serde_json::to_vec(&readings).unwrap()).unwrap();
    let parsed = read_readings(&source).expect("the readings file parses");
    let options = BuildOptions {
        device_id,
        selector: SELECTOR,
        ..BuildOptions::default()
    };
    let bytes = build_report(ReportKind::SignedList, &options, &parsed, &Signing::Hash)
        .expect("the report builds");
    let file = dir.join("report.bin");
    std::fs::write(&file, bytes).unwrap();
    json!({"file": file, "values": VALUES, "everySecs": EVERY_SECS})
}
