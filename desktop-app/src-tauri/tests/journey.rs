//! A technician's day in the real window, against the real cloud (on 127.0.0.1, behind a
//! relay whose network can be cut) and a virtual BLED112 (a real pty) with one POD holding
//! 3,000 readings: sign in through the form, lose the network, find the POD nearby with
//! data waiting, claim it (pending), collect it while the bar moves, see its readings
//! drawn with no network, see what waits on the Sync screen and "no network" from Sync
//! now, then get the network back, sync, and find the claim accepted and every reading in
//! the cloud exactly once.
//!
//! Every screen is photographed at 1280x800 and 800x800 into `<target>/desktop-screenshots/`
//! and checked with axe-core (from `ui/node_modules`), and must not scroll sideways.
//! Then the app is started again over a second dongle with 50 PODs, for figures written
//! to `<target>/desktop-figures.txt`: the time from launch to the first POD listed, and the
//! app's memory while it lists all 50 (its own RSS, and the PSS of it with WebKit's web and
//! network processes). A pass is `journey passed <secs>` in
//! `<target>/desktop-window-results.txt`.

#![allow(clippy::unwrap_used)]

#[path = "../../../cloud/tests/common/mod.rs"]
mod common;
#[path = "window/harness.rs"]
mod harness;
#[path = "../../../system-tests/tests/site/outage.rs"]
mod outage;
#[path = "../../core/tests/site/mod.rs"]
mod site;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use harness::{go, record, shown, target_dir, text_of, until, until_within, TauriDriver, Xvfb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use site::{site, Site, POD};

const READINGS: u32 = 3_000;
const STREAM: u16 = 0x5001;
/// The PODs on the second dongle, for the figures.
const CROWD: u32 = 50;
/// The whole journey takes less than this.
const LIMIT: Duration = Duration::from_secs(420);
/// The smallest touch target, in CSS pixels.
const TARGET: f64 = 44.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technicians_day_in_the_real_window() {
    let started = Instant::now();
    tokio::time::timeout(LIMIT, journey())
        .await
        .expect("the journey took too long");
    record(
        "desktop-window-results.txt",
        &format!("journey passed {}", started.elapsed().as_secs()),
    );
}

async fn journey() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let site = site(&app).await;
    let net = outage::Uplink::start(app.addr, true).await;
    let held = pod(POD, READINGS);
    // A link as slow as on the air, so the 48 KB report takes seconds to come in.
    held.set_effects(RadioEffects {
        notification_delay: Some(Duration::from_millis(1)),
        ..RadioEffects::default()
    });
    let dongle = VirtualBled112::start(
        vec![Arc::new(held) as Arc<dyn Peripheral>],
        DongleOptions::default(),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_string();
    let display = Xvfb::start();
    let shots = Shots::new();

    {
        let driver = TauriDriver::start(
            &display.name,
            &[
                ("IOTILE_DESKTOP_DATA", &data_dir),
                ("IOTILE_DESKTOP_BLED112", dongle.path().to_str().unwrap()),
            ],
        );
        let client = driver.connect().await;
        client.set_window_size(1280, 800).await.unwrap();
        day(&client, &shots, &app, &site, &net).await;
        client.close().await.unwrap();
    }

    // The same laptop, signed in, in a room of 50 PODs.
    let crowd: Vec<Arc<dyn Peripheral>> = (0..CROWD)
        .map(|n| Arc::new(pod(0x1000 + n, 0)) as Arc<dyn Peripheral>)
        .collect();
    let crowded = VirtualBled112::start(crowd, DongleOptions::default()).unwrap();
    let driver = TauriDriver::start(
        &display.name,
        &[
            ("IOTILE_DESKTOP_DATA", &data_dir),
            ("IOTILE_DESKTOP_BLED112", crowded.path().to_str().unwrap()),
        ],
    );
    let launched = Instant::now();
    let client = driver.connect().await;
    shown(&client, ".pod-row").await;
    let first_pod_ms = launched.elapsed().as_millis();
    until_within(
        &client,
        "all 50 PODs listed",
        Duration::from_secs(60),
        || async {
            let rows = client.find_all(Locator::Css(".pod-row")).await.ok()?;
            (rows.len() == CROWD as usize).then_some(())
        },
    )
    .await;
    let pid = driver.app_pid().expect("the app's process");
    let rss_mib = vm_rss_kib(pid) as f64 / 1024.0;
    let processes = with_descendants(pid);
    // Proportional set sizes: the libraries the processes share are counted once.
    let tree_mib = processes.iter().filter_map(|&p| pss_kib(p)).sum::<u64>() as f64 / 1024.0;
    let figures = [
        format!("rss_scanning_50_pods_mib {rss_mib:.1}"),
        format!(
            "pss_scanning_50_pods_with_webkit_processes_mib {tree_mib:.1} ({} processes)",
            processes.len()
        ),
        format!("first_pod_listed_ms {first_pod_ms}"),
    ];
    for figure in &figures {
        println!("{figure}");
        record("desktop-figures.txt", figure);
    }
    client.close().await.unwrap();
    crowded.stop().await;
    dongle.stop().await;
}

/// Sign in, the basement, and back upstairs.
async fn day(
    client: &Client,
    shots: &Shots,
    app: &common::TestApp,
    site: &Site,
    net: &outage::Uplink,
) {
    let cloud = format!("http://{}", net.addr);
    until(client, "the sign-in form", || async {
        (text_of(client, "main h1").await == "Sign in").then_some(())
    })
    .await;
    shots.take(client, "sign-in").await;

    // A wrong password is said next to the form, which keeps what was typed.
    type_into(client, "#cloud", &cloud).await;
    type_into(client, "#email", &site.email).await;
    type_into(client, "#password", "not the password").await;
    click(client, "#sign-in").await;
    let said = until(client, "the sign-in error", || async {
        let text = text_of(client, "#sign-in-error").await;
        (!text.is_empty()).then_some(text)
    })
    .await;
    println!("a wrong password says: {said}");
    shots.take(client, "sign-in-error").await;
    let password = client.find(Locator::Css("#password")).await.unwrap();
    password.clear().await.unwrap();
    password.send_keys(common::PASSWORD).await.unwrap();
    click(client, "#sign-in").await;
    until(client, "the Nearby screen after signing in", || async {
        (text_of(client, "main h1").await == "Nearby PODs").then_some(())
    })
    .await;
    let status = text_of(client, "#session-status").await;
    assert!(status.contains("copy from"), "the status: {status:?}");

    // The basement: no network.
    net.go_down().await;
    let row = format!(".pod-row[data-device=\"{POD}\"]");
    until(client, "the POD listed with data waiting", || async {
        text_of(client, &row)
            .await
            .contains("Data waiting")
            .then_some(())
    })
    .await;
    shots.take(client, "nearby").await;
    check_targets(client, ".pod-row, nav a").await;

    click(client, &row).await;
    let heading = format!("POD {}", slug(POD));
    until(client, "the POD's page", || async {
        (text_of(client, "main h1").await == heading).then_some(())
    })
    .await;
    until(client, "a project to claim into", || async {
        // A select's options are not in its innerText.
        let options = client
            .execute(
                "return document.querySelector('#claim-project').textContent",
                vec![],
            )
            .await
            .ok()?;
        options.as_str()?.contains(&site.project_name).then_some(())
    })
    .await;
    click(client, "#claim").await;
    until(client, "the claim pending", || async {
        let message = text_of(client, "#claim-message").await;
        let status = text_of(client, "#claim-status").await;
        (message.contains("pending") && status.contains("pending")).then_some(())
    })
    .await;

    // Every change the bar and its counter go through, seen from inside the page.
    client
        .execute(
            "window.seen = [];
             const note = () => {
               const bar = document.querySelector('#collect-progress');
               const text = document.querySelector('#collect-status');
               window.seen.push([bar && bar.hasAttribute('value') ? bar.value : null,
                                 text ? text.innerText : '']);
             };
             new MutationObserver(note).observe(document.body,
               {subtree: true, childList: true, characterData: true, attributes: true});",
            vec![],
        )
        .await
        .unwrap();
    click(client, "#collect").await;
    until(client, "the bar moving", || async {
        let text = text_of(client, "#collect-status").await;
        (text.contains("received") || text.starts_with("Done")).then_some(())
    })
    .await;
    shots.take(client, "device-collecting").await;
    let done = until_within(
        client,
        "the collection done",
        Duration::from_secs(180),
        || async {
            let text = text_of(client, "#collect-status").await;
            text.starts_with("Done").then_some(text)
        },
    )
    .await;
    let seen = client.execute("return window.seen", vec![]).await.unwrap();
    let mut values = BTreeSet::new();
    let mut counters = BTreeSet::new();
    for entry in seen.as_array().unwrap() {
        let (value, text) = (&entry[0], entry[1].as_str().unwrap_or(""));
        if text.starts_with("Done") {
            break;
        }
        if let Some(v) = value.as_f64().filter(|v| *v > 0.0) {
            values.insert(v.to_bits());
        }
        if text.contains("received") {
            counters.insert(text.to_string());
        }
    }
    println!(
        "the bar took {} values and its counter {} texts before: {done}",
        values.len(),
        counters.len()
    );
    // The bar moves while the one report comes in, not only when it is stored.
    assert!(
        values.len() >= 5 && counters.len() >= 5,
        "the progress was seen moving: {counters:?}"
    );
    // The chart, drawn from what the laptop holds, with no network.
    until(client, "the readings chart", || async {
        let d = client
            .execute(
                "const p = document.querySelector('.chart svg path.line');
                 return p ? p.getAttribute('d') : ''",
                vec![],
            )
            .await
            .ok()?;
        (d.as_str()?.len() > 100).then_some(())
    })
    .await;
    client
        .execute(
            "document.querySelector('#readings-heading').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    shots.take(client, "device-collected").await;
    check_targets(client, "button, select, summary, .back").await;

    go(client, "#/sync", "Sync").await;
    until(client, "the claim pending and readings waiting", || async {
        let pending = client
            .find(Locator::Css("#claims tr[data-state=\"pending\"]"))
            .await
            .is_ok();
        let readings = text_of(client, "#waiting-readings").await.replace(',', "");
        let readings: u64 = readings.trim().parse().ok()?;
        (pending && readings >= u64::from(READINGS)).then_some(())
    })
    .await;
    click(client, "#sync-now").await;
    until(client, "Sync now saying there is no network", || async {
        text_of(client, "#sync-summary")
            .await
            .contains("No network")
            .then_some(())
    })
    .await;
    shots.take(client, "sync-offline").await;

    // Back upstairs.
    net.set_up(true);
    click(client, "#sync-now").await;
    until_within(
        client,
        "the claim accepted",
        Duration::from_secs(60),
        || async {
            client
                .find(Locator::Css("#claims tr[data-state=\"accepted\"]"))
                .await
                .ok()
                .map(|_| ())
        },
    )
    .await;
    until(client, "nothing waiting", || async {
        (text_of(client, "#waiting-readings").await == "0").then_some(())
    })
    .await;
    shots.take(client, "sync-online").await;
    let rows = cloud_rows(app, &site.tech).await;
    let ids: BTreeSet<i64> = rows
        .iter()
        .map(|r| r["streamer_local_id"].as_i64().unwrap())
        .collect();
    let values: BTreeSet<i64> = rows
        .iter()
        .map(|r| r["int_value"].as_i64().unwrap())
        .collect();
    assert_eq!(rows.len(), READINGS as usize, "every reading, once");
    assert_eq!(ids.len(), READINGS as usize, "no reading twice");
    assert_eq!(
        values,
        (2000..2000 + i64::from(READINGS)).collect(),
        "the POD's values"
    );

    go(client, "#/about", "About").await;
    shots.take(client, "about").await;
}

/// Screenshots of the current screen at both sizes, each checked for sideways scrolling
/// and, at the wide size, with axe-core. The window is left at 1280x800.
struct Shots {
    dir: PathBuf,
    axe: String,
}

impl Shots {
    fn new() -> Self {
        let dir = target_dir().join("desktop-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ui/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe)
            .unwrap_or_else(|e| panic!("{} ({e}): run `npm ci` in desktop-app/ui", axe.display()));
        Self { dir, axe }
    }

    async fn take(&self, client: &Client, name: &str) {
        self.axe(client, name).await;
        for (width, height) in [(1280, 800), (800, 800)] {
            client.set_window_size(width, height).await.unwrap();
            until(client, &format!("the window at {width}px"), || async {
                let inner = client
                    .execute("return window.innerWidth", vec![])
                    .await
                    .ok()?;
                (inner.as_u64()? <= u64::from(width)).then_some(())
            })
            .await;
            let sideways = client
                .execute(
                    "return document.documentElement.scrollWidth > window.innerWidth",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                sideways,
                json!(false),
                "{name} scrolls sideways at {width}px"
            );
            let png = client.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "the screenshot is no PNG");
            std::fs::write(self.dir.join(format!("{name}-{width}x{height}.png")), png).unwrap();
        }
        client.set_window_size(1280, 800).await.unwrap();
    }

    /// Runs axe-core on the page; any violation fails the test, with what and where.
    async fn axe(&self, client: &Client, name: &str) {
        let loaded = client
            .execute("return typeof window.axe", vec![])
            .await
            .unwrap();
        if loaded != json!("object") {
            client
                .execute(&format!("{}\n;return typeof window.axe", self.axe), vec![])
                .await
                .unwrap();
        }
        let result = client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)
                   }))))
                   .catch(e => done([{id: 'axe failed', help: String(e)}]));",
                vec![],
            )
            .await
            .unwrap();
        let violations = result.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "axe-core finds on {name}: {}",
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }
}

/// Every visible element matching `css` is at least 44px tall and wide.
async fn check_targets(client: &Client, css: &str) {
    for element in client.find_all(Locator::Css(css)).await.unwrap() {
        if !element.is_displayed().await.unwrap_or(false) {
            continue;
        }
        let (_, _, w, h) = element.rectangle().await.unwrap();
        let text = element.text().await.unwrap_or_default();
        assert!(
            w >= TARGET && h >= TARGET,
            "{text:?} ({css}) is {w}x{h}, under {TARGET}px"
        );
    }
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = shown(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    shown(client, css).await.click().await.unwrap();
}

fn vm_rss_kib(pid: u32) -> u64 {
    rss_kib(pid).unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// None for a process gone or a zombie.
fn rss_kib(pid: u32) -> Option<u64> {
    kib_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn pss_kib(pid: u32) -> Option<u64> {
    kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

fn kib_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The process and every process under it (WebKit's web and network processes).
fn with_descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while let Some(&next) = all.get(i) {
        let tasks = std::fs::read_dir(format!("/proc/{next}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    all
}

/// A POD holding `readings` readings of stream 5001 (2000, 2001, ...).
fn pod(id: u32, readings: u32) -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(u64::from(id))
    };
    let pod = VirtualPod::new(config).unwrap();
    pod.with_model(|model| {
        for n in 0..readings {
            model.push_reading(STREAM, 2000 + n).unwrap();
        }
    });
    pod
}

fn slug(id: u32) -> String {
    format!("d--0000-0000-0000-{id:04x}")
}

/// Every row of the POD's stream 5001 in the cloud, read with the technician's token.
async fn cloud_rows(app: &common::TestApp, token: &str) -> Vec<Value> {
    let (_, streams) = app
        .get(&format!("stream/?device={}", slug(POD)), token)
        .await;
    let stream = streams["results"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["slug"].as_str().filter(|s| s.ends_with("--5001")))
        .unwrap()
        .to_string();
    // The cloud files uploaded reports as it gets to them.
    let mut rows = Vec::new();
    for _ in 0..100 {
        let (status, page) = app
            .get(&format!("data/?filter={stream}&page_size=10000"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        rows = page["results"].as_array().cloned().unwrap_or_default();
        if rows.len() >= READINGS as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    rows
}
