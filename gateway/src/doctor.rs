//! `iotile-gateway doctor`: checks what the gateway needs — its key, its buffer and the disk
//! under it, the cloud and the clock, each radio — and says in one line each what is wrong.
//! It changes nothing. A radio the running daemon holds may show as busy: stop the daemon
//! first for a full check of the adapters.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::buffer::{Budget, Buffer};
use crate::config::{Adapter, Config};
use crate::transport::bled112::Bled112;
use crate::transport::bluez::Bluez;

/// A clock further off than this makes the cloud refuse signed requests
/// (the cloud's accepted skew).
const SKEW_REFUSED_SECS: i64 = 300;
/// A clock further off than this deserves a look before it gets there.
const SKEW_WARN_SECS: i64 = 30;
const ADAPTER_TIMEOUT: Duration = Duration::from_secs(10);
const CLOUD_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
    }
}

/// Every check, in a fixed order.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![key(config), buffer(config), disk(config)];
    checks.extend(cloud(config).await);
    for adapter in &config.adapters {
        checks.push(radio(adapter).await);
    }
    checks
}

fn key(config: &Config) -> Check {
    match crate::identity::load(&config.paths.key) {
        Ok(secret) => check("key", Status::Ok, secret.public().key_id()),
        Err(e) => check(
            "key",
            Status::Fail,
            format!("{e} (`iotile-gateway register` makes one)"),
        ),
    }
}

fn buffer(config: &Config) -> Check {
    let path = &config.paths.buffer;
    if !path.exists() {
        return check(
            "buffer",
            Status::Warn,
            format!("{} does not exist yet", path.display()),
        );
    }
    let budget = Budget {
        max_bytes: config.budget.max_bytes.0,
    };
    match Buffer::open_read_only(path, budget).and_then(|b| b.stats()) {
        Ok(s) if s.over_budget => check(
            "buffer",
            Status::Warn,
            format!(
                "over budget ({} of {} bytes): collection is stopped until the cloud takes the backlog",
                s.file_bytes, s.budget
            ),
        ),
        Ok(s) => check(
            "buffer",
            Status::Ok,
            format!(
                "{} reports pending, {} of {} bytes used",
                s.pending_reports, s.file_bytes, s.budget
            ),
        ),
        Err(e) => check("buffer", Status::Fail, e.to_string()),
    }
}

/// The nearest existing directory at or above `path`.
fn existing_dir(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.is_dir())
}

fn disk(config: &Config) -> Check {
    let Some(dir) = existing_dir(&config.paths.buffer) else {
        return check("disk", Status::Fail, "no directory for the buffer");
    };
    let stat = match nix::sys::statvfs::statvfs(dir) {
        Ok(s) => s,
        Err(e) => return check("disk", Status::Fail, format!("{}: {e}", dir.display())),
    };
    // The field types are narrower than u64 on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let free = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    let used = std::fs::metadata(&config.paths.buffer).map_or(0, |m| m.len());
    let needed = config.budget.max_bytes.0.saturating_sub(used);
    let detail = format!("{free} bytes free under {}", dir.display());
    if free < needed {
        check(
            "disk",
            Status::Warn,
            format!("{detail}, less than the {needed} bytes the budget may still use"),
        )
    } else {
        check("disk", Status::Ok, detail)
    }
}

/// Reachability and the clock, from the cloud's `server/` answer.
async fn cloud(config: &Config) -> Vec<Check> {
    let url = format!("{}/api/v1/server/", config.cloud.url.trim_end_matches('/'));
    let client = match reqwest::Client::builder().timeout(CLOUD_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return vec![check("cloud", Status::Fail, e.to_string())],
    };
    let started = Instant::now();
    let answer = match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await,
        Ok(r) => {
            let detail = format!("{url} answered {}", r.status());
            return vec![check("cloud", Status::Fail, detail)];
        }
        Err(e) => {
            return vec![check(
                "cloud",
                Status::Fail,
                format!("{url}: {}", causes(&e)),
            )]
        }
    };
    let elapsed = started.elapsed();
    let reachable = check(
        "cloud",
        Status::Ok,
        format!("{url} answered in {} ms", elapsed.as_millis()),
    );
    let their_now = answer
        .ok()
        .and_then(|v| v["now"].as_str().map(str::to_owned))
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok());
    let Some(their_now) = their_now else {
        return vec![
            reachable,
            check("clock", Status::Warn, "the cloud did not say its time"),
        ];
    };
    let ours = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let skew = ours - their_now.timestamp();
    let detail = format!("{skew:+} s from the cloud's clock");
    let clock = match skew.abs() {
        s if s > SKEW_REFUSED_SECS => check(
            "clock",
            Status::Fail,
            format!("{detail}: signed requests will be refused (limit ±{SKEW_REFUSED_SECS} s)"),
        ),
        s if s > SKEW_WARN_SECS => check("clock", Status::Warn, detail),
        _ => check("clock", Status::Ok, detail),
    };
    vec![reachable, clock]
}

/// An error with its causes, which reqwest keeps out of its own message ("connection
/// refused" is what tells the user something).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn radio(adapter: &Adapter) -> Check {
    let (name, opened) = match adapter {
        Adapter::Bled112 { port, .. } => (
            format!("bled112 {}", port.display()),
            tokio::time::timeout(ADAPTER_TIMEOUT, Bled112::open(port))
                .await
                .map(|r| r.map(drop)),
        ),
        Adapter::Bluez {
            max_connections, ..
        } => (
            "bluez".to_owned(),
            tokio::time::timeout(ADAPTER_TIMEOUT, Bluez::open(usize::from(*max_connections)))
                .await
                .map(|r| r.map(drop)),
        ),
    };
    match opened {
        Ok(Ok(())) => check(name, Status::Ok, "answers"),
        Ok(Err(e)) => check(name, Status::Fail, e.to_string()),
        Err(_) => check(name, Status::Fail, "no answer within 10 s"),
    }
}
