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

/// CPU seconds (user + system) used so far by this process (`children == false`: the
/// in-process cloud), or by its waited-for children (`true`: the gateway runs), from
/// `/proc/self/stat`.
pub fn cpu_seconds(children: bool) -> f64 {
    // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
    const USER_HZ: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces: utime is
    // field 14 of the whole line, so the 12th after the closing parenthesis.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    let at = if children { 13 } else { 11 };
    fields
        .get(at..at + 2)
        .map_or(0.0, |t| (t[0] + t[1]) / USER_HZ)
}
