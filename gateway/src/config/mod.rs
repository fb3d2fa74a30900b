//! The gateway's configuration: one TOML file, every key optional with a default, unknown
//! keys refused (a typo must not silently fall back to a default). Sizes are integer bytes
//! or a string with a unit: `"512 MiB"`, `"2MB"`, `"4096"` (B, KB, MB, GB powers of 1000;
//! KiB, MiB, GiB powers of 1024). `iotile-gateway.example.toml` documents every key.

mod ota;
mod units;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sync_protocol::gateway::batch::{MAX_BATCH_RAW_BYTES, MAX_BATCH_REPORTS};

pub use ota::Ota;
pub use units::{ByteSize, Interval};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing the configuration: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub cloud: Cloud,
    pub paths: Paths,
    pub budget: BudgetConfig,
    pub ack: Ack,
    pub retention: Retention,
    pub adapters: Vec<Adapter>,
    pub visits: Visits,
    pub sync: Sync,
    pub status: Status,
    pub log: Log,
    pub ota: Ota,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cloud {
    /// The cloud's base URL; the API lives under `/api/v1`.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    pub buffer: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    pub max_bytes: ByteSize,
}

/// When a POD's streamer is acknowledged, letting the POD free its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    /// As soon as the report is durable in the gateway's buffer.
    #[default]
    Custody,
    /// Only once the cloud confirms it has the readings.
    Cloud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Ack {
    pub policy: AckPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days a report the cloud confirmed stays in the buffer before it is pruned.
    pub synced_days: u32,
}

/// A radio the gateway collects through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Adapter {
    /// A BlueZ controller, by name (`hci0`).
    Bluez {
        #[serde(default = "default_hci")]
        name: String,
        #[serde(default = "default_connections")]
        max_connections: u8,
    },
    /// A BLED112 dongle, by serial port.
    Bled112 {
        port: PathBuf,
        #[serde(default = "default_connections")]
        max_connections: u8,
    },
}

impl Adapter {
    pub fn max_connections(&self) -> u8 {
        match self {
            Adapter::Bluez {
                max_connections, ..
            }
            | Adapter::Bled112 {
                max_connections, ..
            } => *max_connections,
        }
    }
}

fn default_hci() -> String {
    "hci0".to_owned()
}

fn default_connections() -> u8 {
    3
}

/// How often PODs are visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Visits {
    /// The least time between two visits of one POD.
    pub min_interval: Interval,
    /// A POD heard but not advertising data is visited anyway this long after its last visit.
    pub revisit: Interval,
    /// The longest wait after failed visits (waits double from `min_interval`).
    pub backoff_max: Interval,
    /// A POD heard but not visited for this long is reported starved (status, metrics,
    /// log). Unset: `revisit` plus `backoff_max`, the longest a healthy schedule leaves a
    /// POD alone, plus a minute for visits that queue behind others.
    pub starved_after: Option<Interval>,
}

impl Visits {
    pub fn starved_after(&self) -> std::time::Duration {
        const QUEUEING: std::time::Duration = std::time::Duration::from_secs(60);
        self.starved_after
            .map_or(self.revisit.0 + self.backoff_max.0 + QUEUEING, |i| i.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sync {
    /// How often the buffer is looked at for reports to upload.
    pub interval: Interval,
    /// The most reports in one upload.
    pub batch_reports: usize,
    /// The most raw report bytes in one upload.
    pub batch_bytes: ByteSize,
    /// The longest wait between failed uploads.
    pub backoff_max_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Status {
    /// Where the local status API listens; loopback unless deliberately opened.
    pub bind: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    #[default]
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
}

impl Default for Cloud {
    fn default() -> Self {
        Cloud {
            url: "http://127.0.0.1:8000".to_owned(),
        }
    }
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            buffer: "/var/lib/iotile-gateway/buffer.sqlite".into(),
            key: "/var/lib/iotile-gateway/gateway.key".into(),
        }
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            max_bytes: ByteSize(512 * 1024 * 1024),
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention { synced_days: 7 }
    }
}

impl Default for Visits {
    fn default() -> Self {
        Visits {
            min_interval: Interval::secs(60),
            revisit: Interval::secs(3600),
            backoff_max: Interval::secs(600),
            starved_after: None,
        }
    }
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            interval: Interval::secs(3),
            batch_reports: 500,
            batch_bytes: ByteSize(2 * 1024 * 1024),
            backoff_max_secs: 300,
        }
    }
}

impl Default for Status {
    fn default() -> Self {
        Status {
            bind: SocketAddr::from(([127, 0, 0, 1], 9780)),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cloud: Cloud::default(),
            paths: Paths::default(),
            budget: BudgetConfig::default(),
            ack: Ack::default(),
            retention: Retention::default(),
            adapters: vec![Adapter::Bluez {
                name: default_hci(),
                max_connections: default_connections(),
            }],
            visits: Visits::default(),
            sync: Sync::default(),
            status: Status::default(),
            log: Log::default(),
            ota: Ota::default(),
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let url = self.cloud.url.as_str();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return invalid(format!("cloud.url must be an http(s) URL, got {url:?}"));
        }
        if self.budget.max_bytes.0 == 0 {
            return invalid("budget.max_bytes must be above 0".into());
        }
        if !(1..=MAX_BATCH_REPORTS).contains(&self.sync.batch_reports) {
            return invalid(format!(
                "sync.batch_reports must be 1 to {MAX_BATCH_REPORTS}"
            ));
        }
        if !(1..=MAX_BATCH_RAW_BYTES as u64).contains(&self.sync.batch_bytes.0) {
            return invalid(format!(
                "sync.batch_bytes must be 1 to {MAX_BATCH_RAW_BYTES}"
            ));
        }
        let visits = &self.visits;
        if visits.min_interval.0.is_zero() || self.sync.interval.0.is_zero() {
            return invalid("visits.min_interval and sync.interval must be above 0".into());
        }
        if visits.revisit < visits.min_interval || visits.backoff_max < visits.min_interval {
            return invalid(
                "visits.revisit and visits.backoff_max must be at least visits.min_interval".into(),
            );
        }
        if self.adapters.iter().any(|a| a.max_connections() == 0) {
            return invalid("adapters.max_connections must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../iotile-gateway.example.toml");

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        assert_eq!(Config::parse(EXAMPLE).expect("parses"), Config::default());
        assert_eq!(Config::parse("").expect("parses"), Config::default());
    }

    #[test]
    fn unknown_keys_are_errors() {
        for text in [
            "colud = 1",
            "[cloud]\nurl = \"https://x\"\nretries = 3",
            "[[adapters]]\nkind = \"bluez\"\nport = \"/dev/ttyACM0\"",
            "[[adapters]]\nkind = \"usb\"",
            "[ack]\npolicy = \"later\"",
        ] {
            assert!(
                matches!(Config::parse(text), Err(ConfigError::Parse(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn keys_override_defaults() {
        let text = r#"
            [budget]
            max_bytes = "1 GiB"
            [ack]
            policy = "cloud"
            [[adapters]]
            kind = "bled112"
            port = "/dev/ttyACM0"
            [[adapters]]
            kind = "bluez"
            [sync]
            batch_bytes = 65536
            interval = "500 ms"
            [visits]
            min_interval = "2 s"
            revisit = 30
            [log]
            format = "json"
        "#;
        let c = Config::parse(text).expect("parses");
        assert_eq!(c.budget.max_bytes, ByteSize(1 << 30));
        assert_eq!(c.ack.policy, AckPolicy::Cloud);
        assert_eq!(c.sync.batch_bytes, ByteSize(65536));
        assert_eq!(c.sync.batch_reports, 500);
        assert_eq!(c.sync.interval, Interval::parse("500ms").expect("parses"));
        assert_eq!(c.visits.min_interval, Interval::secs(2));
        assert_eq!(c.visits.revisit, Interval::secs(30));
        assert_eq!(c.visits.backoff_max, Interval::secs(600));
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(
            c.adapters,
            [
                Adapter::Bled112 {
                    port: "/dev/ttyACM0".into(),
                    max_connections: 3
                },
                Adapter::Bluez {
                    name: "hci0".into(),
                    max_connections: 3
                }
            ]
        );
    }

    #[test]
    fn invalid_values_are_refused() {
        for text in [
            "[cloud]\nurl = \"ftp://x\"",
            "[budget]\nmax_bytes = 0",
            "[sync]\nbatch_reports = 0",
            "[sync]\nbatch_bytes = \"1 GiB\"",
            "[[adapters]]\nkind = \"bluez\"\nmax_connections = 0",
            "[visits]\nmin_interval = 0",
            "[visits]\nmin_interval = \"2 h\"",
            "[sync]\ninterval = \"0 ms\"",
        ] {
            assert!(
                matches!(Config::parse(text), Err(ConfigError::Invalid(_))),
                "{text}"
            );
        }
    }
}
