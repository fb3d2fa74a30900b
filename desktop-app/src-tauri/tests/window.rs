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

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
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
    let driver = TauriDriver::start(&display.name, data.path());
    let client = tokio::time::timeout(LIMIT, driver.connect())
        .await
        .expect("the window did not open in time");

    let walk = async {
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

    let mut results = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target_dir().join("desktop-window-results.txt"))
        .unwrap();
    writeln!(results, "window passed {}", started.elapsed().as_secs()).unwrap();
}

/// The element once the page shows it; if it never does, fails with what the page says.
async fn shown(client: &Client, css: &str) -> fantoccini::elements::Element {
    let found = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element,
        Err(e) => {
            let text = client
                .execute("return document.body.innerText", vec![])
                .await;
            panic!("the window shows no {css} ({e}); it shows: {text:?}")
        }
    }
}

const INSTALL: &str = "run `bash scripts/test-deps.sh` (or `apt-get install xvfb xauth \
                       webkit2gtk-driver`); the window test does not skip";

/// The workspace's target directory (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// A child process killed, with every process it started, when dropped: the test leaves
/// nothing running, pass or fail.
struct Group(std::process::Child);

impl Group {
    fn spawn(command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}): {INSTALL}"));
        Self(child)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// A virtual X display on a number Xvfb picks itself, so tests never collide.
struct Xvfb {
    name: String,
    _process: Group,
}

impl Xvfb {
    fn start() -> Self {
        let mut process = Group::spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1600x1000x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        // Xvfb writes the display's number once it accepts clients.
        let mut line = String::new();
        let stdout = process.0.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let number: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb gave no display number: {line:?}"));
        Self {
            name: format!(":{number}"),
            _process: process,
        }
    }
}

/// tauri-driver on free ports, with the app it will start.
struct TauriDriver {
    port: u16,
    app: PathBuf,
    _process: Group,
}

impl TauriDriver {
    fn start(display: &str, data_dir: &Path) -> Self {
        let native = Path::new("/usr/bin/WebKitWebDriver");
        let native = if native.is_file() {
            native.to_path_buf()
        } else {
            which("WebKitWebDriver")
                .unwrap_or_else(|| panic!("WebKitWebDriver is missing: {INSTALL}"))
        };
        let (port, native_port) = (free_port(), free_port());
        let process = Group::spawn(
            Command::new(tauri_driver())
                .args(["--port", &port.to_string()])
                .args(["--native-port", &native_port.to_string()])
                .arg("--native-driver")
                .arg(native)
                .env("DISPLAY", display)
                .env("IOTILE_DESKTOP_DATA", data_dir)
                // No accessibility bus under Xvfb; without this GTK waits for one.
                .env("NO_AT_BRIDGE", "1")
                .stdout(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            port,
            app: PathBuf::from(env!("CARGO_BIN_EXE_iotile-desktop")),
            _process: process,
        }
    }

    /// Opens a session, which starts the app in its window.
    async fn connect(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": self.app.to_str().unwrap() }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session with the app: {e}"))
    }
}

/// tauri-driver, installed under the target directory on first use.
fn tauri_driver() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/tauri-driver.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(target_dir())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} could not install tauri-driver",
        script.display()
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
