//! Device OS and app versions from the version streams (`device_versions`, spec 6.4 steps
//! 1–3). Written in the ingest worker's metadata transaction; read by OTA.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::ingest::engine::{APP_VERSION_STREAM, OS_VERSION_STREAM};

/// A version reading: (stream, value, reading id, timestamp in microseconds).
pub type VersionReading = (u16, u32, u64, i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub tag: u32,
    pub major: u8,
    pub minor: u8,
}

impl Version {
    /// Decodes a version word: tag in bits 0–19, minor in 20–25, major in 26–31.
    pub fn decode(word: u32) -> Version {
        Version {
            tag: word & 0xF_FFFF,
            minor: ((word >> 20) & 0x3F) as u8,
            major: ((word >> 26) & 0x3F) as u8,
        }
    }
}

/// A stored version record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceVersion {
    /// `os` or `app`.
    pub kind: String,
    pub version: Version,
    pub streamer_local_id: i64,
    pub updated_ts: i64,
}

impl DeviceVersion {
    /// `vM.m`, as the API shows it.
    pub fn version_text(&self) -> String {
        format!("v{}.{}", self.version.major, self.version.minor)
    }
}

/// The record type of a version stream; `None` for other streams.
fn kind_of(stream: u16) -> Option<&'static str> {
    match stream {
        OS_VERSION_STREAM => Some("os"),
        APP_VERSION_STREAM => Some("app"),
        _ => None,
    }
}

/// Firmware from before tags existed reports these; they say nothing.
fn is_placeholder(kind: &str, v: Version) -> bool {
    let zero = v.major == 0 && v.minor == 0;
    zero && ((kind == "app" && v.tag == 0) || (kind == "os" && v.tag == 1024))
}

fn from_row(row: &AnyRow) -> Result<DeviceVersion, sqlx::Error> {
    let small = |column: &str| -> Result<u8, sqlx::Error> {
        Ok(u8::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    Ok(DeviceVersion {
        kind: row.try_get("type")?,
        version: Version {
            tag: u32::try_from(row.try_get::<i64, _>("tag")?).unwrap_or(0),
            major: small("major")?,
            minor: small("minor")?,
        },
        streamer_local_id: row.try_get("streamer_local_id")?,
        updated_ts: row.try_get("updated_ts")?,
    })
}

const LATEST: &str = "SELECT type, tag, major, minor, streamer_local_id, updated_ts \
    FROM device_versions WHERE device_id = $1 AND type = $2 ORDER BY id DESC LIMIT 1";

/// Records the readings in order, each unless it is a placeholder or equals the latest record
/// of its type; returns the records added. Recording the same readings again adds nothing.
pub async fn record(
    conn: &mut AnyConnection,
    device_id: i64,
    readings: &[VersionReading],
    now: i64,
) -> Result<Vec<DeviceVersion>, sqlx::Error> {
    let mut added = Vec::new();
    for &(stream, word, reading_id, timestamp) in readings {
        let Some(kind) = kind_of(stream) else {
            continue;
        };
        let version = Version::decode(word);
        if is_placeholder(kind, version) {
            continue;
        }
        let latest = sqlx::query(LATEST)
            .bind(device_id)
            .bind(kind)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = latest {
            if from_row(&row)?.version == version {
                continue;
            }
        }
        let record = DeviceVersion {
            kind: kind.to_string(),
            version,
            streamer_local_id: i64::try_from(reading_id).unwrap_or(i64::MAX),
            updated_ts: timestamp,
        };
        sqlx::query(
            "INSERT INTO device_versions (device_id, type, tag, major, minor, streamer_local_id, \
             updated_ts, created_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(device_id)
        .bind(kind)
        .bind(i64::from(version.tag))
        .bind(i64::from(version.major))
        .bind(i64::from(version.minor))
        .bind(record.streamer_local_id)
        .bind(record.updated_ts)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        added.push(record);
    }
    Ok(added)
}

/// How many records of `kind` the device has (the first is its first report, not a change).
pub async fn count(
    conn: &mut AnyConnection,
    device_id: i64,
    kind: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM device_versions WHERE device_id = $1 AND type = $2")
        .bind(device_id)
        .bind(kind)
        .fetch_one(conn)
        .await
}

/// The latest record of each type (`app` before `os`).
pub async fn latest(pool: &AnyPool, device_id: i64) -> Result<Vec<DeviceVersion>, sqlx::Error> {
    let mut out = Vec::new();
    for kind in ["app", "os"] {
        let row = sqlx::query(LATEST)
            .bind(device_id)
            .bind(kind)
            .fetch_optional(pool)
            .await?;
        if let Some(row) = row {
            out.push(from_row(&row)?);
        }
    }
    Ok(out)
}

/// Version readings as logged with a report (see `migrations/data/1004_ingest_versions.sql`).
pub fn to_log(readings: &[VersionReading]) -> String {
    serde_json::to_string(readings).unwrap_or_else(|_| "[]".into())
}

/// The version readings of a log entry; unreadable text gives none.
pub fn from_log(text: &str) -> Vec<VersionReading> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_words_decode() {
        let v = Version::decode(0x0400_0802);
        assert_eq!(
            v,
            Version {
                tag: 2050,
                major: 1,
                minor: 0
            }
        );
        assert!(is_placeholder("os", Version::decode(1024)));
        assert!(is_placeholder("app", Version::decode(0)));
        assert!(!is_placeholder("os", Version::decode(0)));
        let readings = vec![(0x5C08, 0x0400_0802, 7, 123)];
        assert_eq!(from_log(&to_log(&readings)), readings);
        assert_eq!(from_log("not json"), Vec::new());
    }
}
