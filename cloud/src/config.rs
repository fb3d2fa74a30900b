//! Settings, from command-line flags, then environment variables, then an optional TOML file,
//! then defaults, in that order of precedence. Flags and env vars are read by clap in
//! `main.rs`; this module merges them with the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Everything a running server needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub stream_database_url: Option<String>,
    /// From `IOTILE_SECRET_KEY`; otherwise a 0600 file in the data directory.
    pub secret_key: Option<String>,
    pub site_name: String,
    pub cors_origins: Vec<String>,
}

/// What flags and env vars gave (clap fills these); `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub stream_database_url: Option<String>,
}

/// The TOML file's keys; every one is optional. See `cloud/iotile-cloud.example.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    stream_database_url: Option<String>,
    site_name: Option<String>,
    cors_origins: Option<Vec<String>>,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8000";

impl Settings {
    pub fn resolve(overrides: Overrides) -> anyhow::Result<Settings> {
        let file = match &overrides.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let data_dir = overrides
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| crate::db::default_sqlite_url(&data_dir));
        Ok(Settings {
            bind: overrides
                .bind
                .or(file.bind)
                .unwrap_or_else(|| DEFAULT_BIND.parse().expect("the default address parses")),
            stream_database_url: overrides.stream_database_url.or(file.stream_database_url),
            secret_key: std::env::var("IOTILE_SECRET_KEY")
                .ok()
                .filter(|s| !s.is_empty()),
            site_name: file.site_name.unwrap_or_else(|| "IOTile Cloud".to_string()),
            cors_origins: file.cors_origins.unwrap_or_default(),
            data_dir,
            database_url,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\ndata_dir = \"/srv/x\"\nsite_name = \"Site\"\n",
        )
        .unwrap();
        let from_file = Settings::resolve(Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(from_file.bind.port(), 9000);
        assert_eq!(
            from_file.database_url,
            "sqlite:///srv/x/iotile-cloud.sqlite3"
        );
        assert_eq!(from_file.site_name, "Site");
        let flagged = Settings::resolve(Overrides {
            config: Some(path),
            bind: Some("127.0.0.1:1".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(flagged.bind.port(), 1);
        let defaults = Settings::resolve(Overrides::default()).unwrap();
        assert_eq!(defaults.bind.to_string(), DEFAULT_BIND);
        assert_eq!(defaults.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        assert!(Settings::resolve(Overrides {
            config: Some(path),
            ..Default::default()
        })
        .is_err());
    }
}
