//! The compose file's demo site without Docker: `gateway/docker/demo-site.sh` with the
//! workspace's built programs starts virtual PODs on a virtual BLED112, writes the gateway's
//! configuration, registers with a one-time code and runs the gateway, whose readings reach
//! the real cloud; `iotile-gateway status` (the container's health check) answers while it
//! runs and fails once SIGTERM has stopped everything, with the PODs' state saved.
//! Needs `cargo build --workspace --bins` first (see `system_tests::binaries`).

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;
mod site;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::json;
use site::site;

/// The script, in a process group of its own, stopped with SIGTERM (as `docker stop` does)
/// if the test ends early; what it started goes with it.
struct Script(Child);

impl Script {
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.0.id()).unwrap())
    }

    fn terminate(&self) {
        let _ = signal::kill(self.pid(), Signal::SIGTERM);
    }

    /// Its exit status, once it has exited within `within`.
    fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.terminate();
            if self.wait(Duration::from_secs(10)).is_none() {
                let _ = self.0.kill();
            }
        }
        // Its programs, should the script have died before stopping them.
        let _ = signal::killpg(self.pid(), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

fn gateway_status(bin: &Path, config: &Path) -> Output {
    Command::new(bin.join("iotile-gateway"))
        .arg("status")
        .env("IOTILE_GATEWAY_CONFIG", config)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_site_script_collects_syncs_and_stops_cleanly() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let s = site(&app).await;
    let (_, code) = app
        .post("gateway/code/", &s.admin, json!({"org": s.org}))
        .await;

    let bin: PathBuf = system_tests::binaries::path("iotile-gateway")
        .parent()
        .unwrap()
        .to_owned();
    assert!(system_tests::binaries::path("iotile-fw").is_file());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/docker/demo-site.sh");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    let status_bind = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let log = std::fs::File::create(dir.path().join("demo-site.log")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let mut demo = Script(
        Command::new(script)
            .env("PATH", path)
            .env("RUST_BACKTRACE", "0")
            .env("IOTILE_CLOUD_URL", format!("http://{}", app.addr))
            .env("IOTILE_GATEWAY_CODE", code["code"].as_str().unwrap())
            .env("IOTILE_GATEWAY_CONFIG", &config)
            .env("DEMO_DEVICES", format!("{:#x}", site::DEVICE))
            .env("DEMO_SPEED", "600")
            .env("DEMO_STATE_DIR", dir.path())
            .env("DEMO_STATUS_BIND", status_bind.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let logged = || std::fs::read_to_string(dir.path().join("demo-site.log")).unwrap_or_default();

    // Readings from the POD's generated outputs reach the cloud's stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rows = 0;
    while rows == 0 && Instant::now() < deadline {
        let page = app
            .ok(&format!("data/?filter={}&page_size=10", s.stream), &s.admin)
            .await;
        rows = page["count"].as_u64().unwrap_or(0);
        if rows == 0 {
            assert!(demo.0.try_wait().unwrap().is_none(), "{}", logged());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    assert!(rows > 0, "no readings in the cloud: {}", logged());
    eprintln!("first readings in the cloud after {:?}", started.elapsed());

    let out = gateway_status(&bin, &config);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed} {}", logged());
    assert!(printed.contains("PODs heard:       1"), "{printed}");
    assert!(printed.contains("d--0000-0000-0000-00a1"), "{printed}");

    demo.terminate();
    let status = demo
        .wait(Duration::from_secs(20))
        .expect("stops within 20 s");
    assert!(status.success(), "{status:?}: {}", logged());
    assert!(
        dir.path().join("pods/0000000000a1.json").is_file(),
        "POD state saved"
    );
    assert!(dir.path().join("registered").is_file());
    let out = gateway_status(&bin, &config);
    assert_eq!(out.status.code(), Some(1), "{}", logged());
}
