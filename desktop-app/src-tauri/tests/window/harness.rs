//! What the window tests share: Xvfb, tauri-driver with the app, waiting for the page,
//! the target directory, and children that never outlive the test.

#![allow(dead_code)]

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

/// The element once the page shows it; if it never does, fails with what the page says.
pub async fn shown(client: &Client, css: &str) -> fantoccini::elements::Element {
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

pub const INSTALL: &str = "run `bash scripts/test-deps.sh` (or `apt-get install xvfb xauth \
                       webkit2gtk-driver`); the window test does not skip";

/// The workspace's target directory (the parent of `CARGO_TARGET_TMPDIR`).
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// A child process killed, with every process it started, when dropped: the test leaves
/// nothing running, pass or fail.
pub struct Group(pub std::process::Child);

impl Group {
    pub fn spawn(command: &mut Command) -> Self {
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
pub struct Xvfb {
    pub name: String,
    _process: Group,
}

impl Xvfb {
    pub fn start() -> Self {
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
pub struct TauriDriver {
    port: u16,
    app: PathBuf,
    process: Group,
}

impl TauriDriver {
    /// Starts tauri-driver; the app it starts inherits `env` (`IOTILE_DESKTOP_DATA`,
    /// `IOTILE_DESKTOP_BLED112`, ...).
    pub fn start(display: &str, env: &[(&str, &str)]) -> Self {
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
                .envs(env.iter().copied())
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
            process,
        }
    }

    /// Opens a session, which starts the app in its window.
    pub async fn connect(&self) -> Client {
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

    /// The pid of the app this driver started (it runs in the driver's process group,
    /// under WebKitWebDriver), once there is one.
    pub fn app_pid(&self) -> Option<u32> {
        let group = self.process.0.id();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                // `pid (comm) state ppid pgrp ...`; comm may hold spaces, so split after ')'.
                let (head, rest) = stat.rsplit_once(')')?;
                let comm = head.split_once('(')?.1;
                let pgrp: u32 = rest.split_whitespace().nth(2)?.parse().ok()?;
                (comm == "iotile-desktop" && pgrp == group).then_some(pid)
            })
    }
}

/// tauri-driver, installed under the target directory on first use.
pub fn tauri_driver() -> PathBuf {
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

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Appends a line to a file under the target directory (`desktop-window-results.txt`,
/// `desktop-figures.txt`), which `.ci/run` reads.
pub fn record(file: &str, line: &str) {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target_dir().join(file))
        .unwrap();
    writeln!(out, "{line}").unwrap();
}

/// Moves the window to `hash` (`#/sync`) and waits until the screen's heading is `heading`.
pub async fn go(client: &Client, hash: &str, heading: &str) {
    client
        .execute("location.hash = arguments[0]", vec![json!(hash)])
        .await
        .unwrap();
    until(client, &format!("the {heading} screen"), || async {
        let h1 = client.find(Locator::Css("main h1")).await.ok()?;
        (h1.text().await.ok()? == heading).then_some(())
    })
    .await;
}

/// Polls `check` until it gives a value; after 30 s fails, naming `what` and quoting the
/// page.
pub async fn until<T, F, Fut>(client: &Client, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    until_within(client, what, Duration::from_secs(30), &mut check).await
}

pub async fn until_within<T, F, Fut>(
    client: &Client,
    what: &str,
    limit: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            let text = client
                .execute("return document.body.innerText", vec![])
                .await;
            panic!("waited {limit:?} for {what}; the window shows: {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's text under `css`, or "" when there is no such element.
pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
            vec![json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
