//! The app in a real window: the built `iotile-desktop` under Xvfb, started and driven over
//! WebDriver by tauri-driver, which runs Debian's WebKitWebDriver (the same WebKitGTK the
//! app draws with). It checks the About screen against a data directory of its own, that the
//! navigation's targets are big enough to touch, and that nothing scrolls sideways, at
//! 1280x800 and 800x800, and saves a screenshot of each into
//! `<target>/desktop-screenshots/`.
//!
//! A missing Xvfb, WebKitWebDriver or tauri-driver fails the test with what to install; it
//! never skips. A pass is recorded in `<target>/desktop-window-results.txt`, which
//! `.ci/run` checks.

#![allow(clippy::unwrap_used)]

#[path = "window/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use harness::{record, shown, target_dir, TauriDriver, Xvfb};
use serde_json::json;

/// The whole test, from Xvfb to the last screenshot, takes less than this.
const LIMIT: Duration = Duration::from_secs(180);
/// The smallest touch target, in CSS pixels.
const TARGET: f64 = 44.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn about_screen_in_a_real_window() {
    let started = Instant::now();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_string();
    let screenshots = target_dir().join("desktop-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();

    let display = Xvfb::start();
    let driver = TauriDriver::start(&display.name, &[("IOTILE_DESKTOP_DATA", &data_dir)]);
    let client = tokio::time::timeout(LIMIT, driver.connect())
        .await
        .expect("the window did not open in time");

    let walk = async {
        // Nobody is signed in: About is the screen open to everyone.
        harness::go(&client, "#/about", "About").await;
        for (width, height) in [(1280, 800), (800, 800)] {
            client.set_window_size(width, height).await.unwrap();
            let heading = shown(&client, "main h1").await;
            assert_eq!(heading.text().await.unwrap(), "About");
            let dir = shown(&client, "#data-dir").await;
            assert_eq!(
                dir.text().await.unwrap(),
                data_dir,
                "the data directory shown"
            );
            let version = client.find(Locator::Css("#version")).await.unwrap();
            assert_eq!(version.text().await.unwrap(), env!("CARGO_PKG_VERSION"));

            for link in client.find_all(Locator::Css("nav a")).await.unwrap() {
                let (_, _, w, h) = link.rectangle().await.unwrap();
                assert!(
                    w >= TARGET && h >= TARGET,
                    "a navigation link is {w}x{h} at {width}x{height}, under {TARGET}px"
                );
            }
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
                "the page scrolls sideways at {width}px"
            );

            let png = client.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "the screenshot is no PNG");
            std::fs::write(screenshots.join(format!("about-{width}x{height}.png")), png).unwrap();
        }
    };
    tokio::time::timeout(LIMIT, walk)
        .await
        .expect("the window test took too long");
    // Ends the session, which closes the app.
    client.close().await.unwrap();

    record(
        "desktop-window-results.txt",
        &format!("window passed {}", started.elapsed().as_secs()),
    );
}
