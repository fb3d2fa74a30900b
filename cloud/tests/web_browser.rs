//! The web pages in a real browser: each journey (`cloud/tests/browser/journeys/*.mjs`) runs
//! in headless Chromium against a real `iotile-cloud serve` with its own database, and
//! checks what a person sees and does, with axe-core audits and screenshots of every page.
//!
//! A journey that passes is recorded in `<target>/web-browser-results.txt`, which `.ci/run`
//! checks so that a run where the browser tests did not run fails.
//!
//! Adding a journey: put `<name>.mjs` in `cloud/tests/browser/journeys/` and a line below.

#![allow(clippy::unwrap_used)]

#[path = "web_browser/api.rs"]
mod api;
mod common;
#[path = "web_browser/ops.rs"]
mod ops;
#[path = "web_browser/report.rs"]
mod report;
#[path = "web_browser/site.rs"]
mod site;
#[path = "web_browser/tools.rs"]
mod tools;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::Backend;
use site::Site;

macro_rules! journeys {
    ($($test:ident: $file:literal on $backend:ident,)*) => {
        /// Every journey file a test runs.
        const REGISTERED: &[&str] = &[$($file),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                walk($file, Backend::$backend).await;
            }
        )*
    };
}

journeys! {
    sign_in: "sign_in" on Sqlite,
    sign_in_on_postgres: "sign_in" on Postgres,
    keyboard: "keyboard" on Sqlite,
    org_switcher: "org_switcher" on Sqlite,
    password: "password" on Sqlite,
    sign_out: "sign_out" on Sqlite,
    csrf: "csrf" on Sqlite,
    stale_session: "stale_session" on Sqlite,
    harness_checks: "harness_checks" on Sqlite,
    devices: "devices" on Sqlite,
    devices_on_postgres: "devices" on Postgres,
    config: "config" on Sqlite,
    aliases: "aliases" on Sqlite,
    aliases_on_postgres: "aliases" on Postgres,
    projects: "projects" on Sqlite,
    org: "org" on Sqlite,
    staff: "staff" on Sqlite,
    isolation: "isolation" on Sqlite,
    jobs: "jobs" on Sqlite,
    gateways: "gateways" on Sqlite,
    ota: "ota" on Sqlite,
}

/// A journey stuck longer than this has failed (the journey's own limit is shorter).
const LIMIT: Duration = Duration::from_secs(300);

/// Runs one journey against a fresh site and fails with its output unless it passes.
async fn walk(journey: &str, backend: Backend) {
    let script = tools::browser_dir().join(format!("journeys/{journey}.mjs"));
    assert!(script.is_file(), "no journey {}", script.display());
    let node = tools::node();
    let chromium = tools::chromium();
    let packages = tokio::task::spawn_blocking(tools::node_packages)
        .await
        .unwrap();
    let run = match backend {
        Backend::Sqlite => journey.to_string(),
        Backend::Postgres => format!("{journey}-postgres"),
    };
    let shots = tools::target_dir().join("web-screenshots").join(&run);
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    let site = Site::start(backend).await;
    let child = tokio::process::Command::new(node)
        .arg(&script)
        .env("IOTILE_SITE", site.facts.to_string())
        .env("NODE_PACKAGES", &packages)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &shots)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("journey {run} still running after {LIMIT:?}"))
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{printed}");
    assert!(
        out.status.success(),
        "journey {run} failed ({}); screenshots so far in {}\n--- server log\n{}",
        out.status,
        shots.display(),
        site.server_log()
    );
    assert!(
        shots.join("summary.json").is_file(),
        "journey {run} exited 0 without its summary"
    );
    record(&run);
}

/// Adds a passed journey to the results `.ci/run` checks.
fn record(run: &str) {
    let results = tools::target_dir().join("web-browser-results.txt");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results)
        .unwrap();
    // One write, so lines of journeys finishing together do not interleave.
    let line = format!("{run} passed {}\n", chrono::Utc::now().to_rfc3339());
    file.write_all(line.as_bytes()).unwrap();
}

#[test]
fn every_journey_file_has_a_test() {
    let dir = tools::browser_dir().join("journeys");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".mjs"))
                .map(str::to_string)
        })
        .collect();
    files.sort();
    let mut registered: Vec<String> = REGISTERED.iter().map(|s| s.to_string()).collect();
    registered.sort();
    registered.dedup();
    assert_eq!(
        files, registered,
        "journey files and the journeys! list of cloud/tests/web_browser.rs differ"
    );
}
