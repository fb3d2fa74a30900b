//! Settings, from command-line flags, then environment variables, then an optional TOML file,
//! then defaults, in that order of precedence. Flags and env vars are read by clap in
//! `main.rs`; this module merges them with the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::auth::secret::Secret;

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
    /// Where raw report files and other objects are kept.
    pub object_store: ObjectStoreSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObjectStoreSettings {
    /// Files under `<data dir>/objects`.
    Local,
    S3(S3Settings),
}

/// An S3-compatible bucket. `Debug` never shows the secret access key.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Plain `http://` endpoints are refused unless this is set (a store on loopback or a
    /// private network).
    pub allow_http: bool,
}

impl PartialEq for S3Settings {
    fn eq(&self, other: &S3Settings) -> bool {
        self.bucket == other.bucket
            && self.endpoint == other.endpoint
            && self.region == other.region
            && self.access_key_id == other.access_key_id
            && self.secret_access_key.expose() == other.secret_access_key.expose()
            && self.allow_http == other.allow_http
    }
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
    object_store: Option<String>,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_allow_http: Option<bool>,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8000";

impl Settings {
    pub fn resolve(overrides: Overrides) -> anyhow::Result<Settings> {
        let file = match &overrides.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let object_store = object_store_settings(&file, &|name| std::env::var(name).ok())?;
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
            object_store,
            data_dir,
            database_url,
        })
    }
}

/// The object store from env vars (`IOTILE_OBJECT_STORE`, `IOTILE_S3_*`) over the file's keys.
/// S3 needs every one of bucket, endpoint and both keys; S3 keys without `object_store = "s3"`
/// are refused too, since they show an intent the default would silently ignore.
fn object_store_settings(
    file: &FileSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ObjectStoreSettings> {
    let pick = |var: &str, key: &Option<String>| {
        env(var)
            .filter(|v| !v.is_empty())
            .or_else(|| key.clone().filter(|v| !v.is_empty()))
    };
    let kind = pick("IOTILE_OBJECT_STORE", &file.object_store);
    let bucket = pick("IOTILE_S3_BUCKET", &file.s3_bucket);
    let endpoint = pick("IOTILE_S3_ENDPOINT", &file.s3_endpoint);
    let region = pick("IOTILE_S3_REGION", &file.s3_region);
    let access_key_id = pick("IOTILE_S3_ACCESS_KEY_ID", &file.s3_access_key_id);
    let secret = pick("IOTILE_S3_SECRET_ACCESS_KEY", &file.s3_secret_access_key);
    let allow_http = match env("IOTILE_S3_ALLOW_HTTP").filter(|v| !v.is_empty()) {
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => anyhow::bail!("IOTILE_S3_ALLOW_HTTP must be true or false, not {v:?}"),
        },
        None => file.s3_allow_http,
    };
    let named = [
        ("s3_bucket", bucket.is_some()),
        ("s3_endpoint", endpoint.is_some()),
        ("s3_access_key_id", access_key_id.is_some()),
        ("s3_secret_access_key", secret.is_some()),
    ];
    match kind.as_deref() {
        None | Some("local") => {
            let given: Vec<&str> = named
                .iter()
                .filter(|(_, set)| *set)
                .map(|(k, _)| *k)
                .collect();
            anyhow::ensure!(
                given.is_empty(),
                "{} set but the object store is local; set object_store = \"s3\" \
                 (IOTILE_OBJECT_STORE=s3) to use S3",
                given.join(", ")
            );
            Ok(ObjectStoreSettings::Local)
        }
        Some("s3") => {
            let missing: Vec<&str> = named
                .iter()
                .filter(|(_, set)| !*set)
                .map(|(k, _)| *k)
                .collect();
            anyhow::ensure!(
                missing.is_empty(),
                "object_store = \"s3\" needs {} (or their IOTILE_S3_* variables)",
                missing.join(", ")
            );
            let endpoint = endpoint.unwrap_or_default();
            let allow_http = allow_http.unwrap_or(false);
            anyhow::ensure!(
                endpoint.starts_with("https://") || endpoint.starts_with("http://"),
                "s3_endpoint must be an http(s):// URL, not {endpoint:?}"
            );
            anyhow::ensure!(
                allow_http || !endpoint.starts_with("http://"),
                "s3_endpoint {endpoint:?} is plain HTTP; set s3_allow_http = true to allow it"
            );
            Ok(ObjectStoreSettings::S3(S3Settings {
                bucket: bucket.unwrap_or_default(),
                endpoint,
                region: region.unwrap_or_else(|| "us-east-1".to_string()),
                access_key_id: access_key_id.unwrap_or_default(),
                secret_access_key: Secret::new(secret.unwrap_or_default().into_bytes()),
                allow_http,
            }))
        }
        Some(other) => anyhow::bail!("object_store must be \"local\" or \"s3\", not {other:?}"),
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

    fn s3_file() -> FileSettings {
        toml::from_str(
            "object_store = \"s3\"\ns3_bucket = \"reports\"\n\
             s3_endpoint = \"http://127.0.0.1:9000\"\ns3_access_key_id = \"AKID\"\n\
             s3_secret_access_key = \"file-secret-value\"\ns3_allow_http = true\n",
        )
        .unwrap()
    }

    #[test]
    fn object_store_defaults_to_local_disk() {
        let none = |_: &str| None;
        assert_eq!(
            object_store_settings(&FileSettings::default(), &none).unwrap(),
            ObjectStoreSettings::Local
        );
    }

    #[test]
    fn s3_from_file_with_env_over_it() {
        let none = |_: &str| None;
        let ObjectStoreSettings::S3(s3) = object_store_settings(&s3_file(), &none).unwrap() else {
            panic!("not S3");
        };
        assert_eq!(s3.bucket, "reports");
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.allow_http);
        assert_eq!(s3.secret_access_key.expose(), b"file-secret-value");
        let env = |name: &str| match name {
            "IOTILE_S3_SECRET_ACCESS_KEY" => Some("env-secret-value".to_string()),
            "IOTILE_S3_REGION" => Some("eu-west-1".to_string()),
            _ => None,
        };
        let ObjectStoreSettings::S3(s3) = object_store_settings(&s3_file(), &env).unwrap() else {
            panic!("not S3");
        };
        assert_eq!(s3.secret_access_key.expose(), b"env-secret-value");
        assert_eq!(s3.region, "eu-west-1");
    }

    #[test]
    fn debug_never_shows_the_s3_secret() {
        let env = |name: &str| {
            (name == "IOTILE_S3_SECRET_ACCESS_KEY").then(|| "env-secret-value".to_string())
        };
        let store = object_store_settings(&s3_file(), &env).unwrap();
        let shown = format!("{store:?} {store:#?}");
        assert!(shown.contains("reports"), "{shown}");
        assert!(!shown.contains("env-secret-value"), "{shown}");
        assert!(!shown.contains("file-secret-value"), "{shown}");
    }

    #[test]
    fn half_configured_s3_is_refused() {
        let none = |_: &str| None;
        let mut file = s3_file();
        file.s3_endpoint = None;
        file.s3_secret_access_key = None;
        let err = object_store_settings(&file, &none).unwrap_err().to_string();
        assert!(err.contains("s3_endpoint"), "{err}");
        assert!(err.contains("s3_secret_access_key"), "{err}");
        assert!(!err.contains("s3_bucket,"), "{err}");
        // A bucket without object_store = "s3" would silently store on local disk.
        let bucket_only = |name: &str| (name == "IOTILE_S3_BUCKET").then(|| "b".to_string());
        let err = object_store_settings(&FileSettings::default(), &bucket_only)
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3_bucket"), "{err}");
        // Plain HTTP only when allowed, and only known store kinds.
        let mut file = s3_file();
        file.s3_allow_http = None;
        assert!(object_store_settings(&file, &none).is_err());
        let kind = |name: &str| (name == "IOTILE_OBJECT_STORE").then(|| "gcs".to_string());
        assert!(object_store_settings(&FileSettings::default(), &kind).is_err());
        let bad_bool = |name: &str| (name == "IOTILE_S3_ALLOW_HTTP").then(|| "maybe".to_string());
        assert!(object_store_settings(&s3_file(), &bad_bool).is_err());
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
