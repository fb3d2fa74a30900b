//! The real `iotile-gateway` release binary as a child process, and its memory as the kernel
//! counts it (`/proc/<pid>/status`).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Starts `iotile-gateway --config <config> <command>`; its log goes to `log`.
pub fn spawn(config: &Path, command: &str, log: &Path) -> Child {
    let binary = system_tests::binaries::path("iotile-gateway");
    let log = std::fs::File::create(log).unwrap();
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg(command)
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// One reading of a process's memory, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// The highest resident size so far (`VmHWM`).
    pub hwm_kib: u64,
}

/// `VmRSS` and `VmHWM` of `pid`, or `None` once it is gone.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples `pid` every `every` until it exits; the samples so far are always readable.
pub fn sample(pid: u32, every: Duration) -> Arc<Mutex<Vec<Sample>>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let out = samples.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some((rss_kib, hwm_kib)) = memory(pid) else {
                return;
            };
            out.lock().unwrap().push(Sample {
                at: started.elapsed(),
                rss_kib,
                hwm_kib,
            });
        }
    });
    samples
}

/// Sends SIGTERM, as systemd does to stop the service.
pub fn terminate(child: &Child) {
    let pid = child.id().expect("the gateway is still running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
