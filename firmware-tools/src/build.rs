//! Building reports from readings people write by hand or export from other tools.
//!
//! Readings come as JSON (a list of objects, or `{"readings": [...]}`) or CSV with a header
//! row; both name the fields `stream`, `reading_id`, `raw_time` and `value`. A stream is a
//! number or 4 hex digits (`"5001"`, as cloud stream slugs end), a time a number or an
//! RFC 3339 instant (stored as RTC time, seconds since 2000 with bit 31 set).

use std::path::Path;

use serde_json::Value;
use sync_protocol::auth::RootKey;
use sync_protocol::report::{
    BroadcastReport, IndividualReport, SignedListHeader, SignedListReport, Signer,
};
use sync_protocol::time::utc_to_rtc;
use sync_protocol::Reading;

/// Why a readings file could not be turned into readings.
#[derive(Debug, thiserror::Error)]
pub enum ReadingsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("reading {index}: {reason}")]
    Field { index: usize, reason: String },
    #[error("line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("{0}")]
    Shape(String),
}

/// The report kinds `report build` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// SignedListReport (format 1): what streamers send and the cloud ingests.
    SignedList,
    /// IndividualReadingReport (format 0): exactly one reading, no id.
    Individual,
    /// BroadcastReport (format 3).
    Broadcast,
}

/// Header values for a report; `None` picks the value a POD would use.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub device_id: u32,
    pub report_id: Option<u32>,
    pub sent_timestamp: Option<u32>,
    pub streamer: u8,
    pub selector: u16,
}

/// How a signed list is signed.
#[derive(Debug, Clone)]
pub enum Signing {
    Hash,
    UserKey(RootKey),
    DeviceKey(RootKey),
}

/// Reads readings from a `.json` or `.csv` file (by extension; `-` is not accepted here).
pub fn read_readings(path: &Path) -> Result<Vec<Reading>, ReadingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadingsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => parse_csv(&text),
        _ => {
            let json = serde_json::from_str(&text).map_err(|source| ReadingsError::Json {
                path: path.display().to_string(),
                source,
            })?;
            parse_json(&json)
        }
    }
}

/// Readings from a JSON list (or an object with a `readings` list).
pub fn parse_json(json: &Value) -> Result<Vec<Reading>, ReadingsError> {
    let list = match json {
        Value::Array(list) => list,
        Value::Object(map) => map
            .get("readings")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ReadingsError::Shape("expected a list of readings or {\"readings\": [...]}".into())
            })?,
        _ => return Err(ReadingsError::Shape("expected a list of readings".into())),
    };
    list.iter()
        .enumerate()
        .map(|(index, item)| {
            let field = |name: &str| match item.get(name)? {
                Value::String(text) => Some(Field::Text(text.clone())),
                Value::Number(n) => {
                    Some(n.as_u64().map_or(Field::Text(n.to_string()), Field::Number))
                }
                other => Some(Field::Text(other.to_string())),
            };
            reading_from_fields(&field).map_err(|reason| ReadingsError::Field { index, reason })
        })
        .collect()
}

/// Readings from CSV with a header naming the columns (any order, extra columns ignored).
pub fn parse_csv(text: &str) -> Result<Vec<Reading>, ReadingsError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(ReadingsError::Shape("the CSV file is empty".into()));
    };
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_lowercase()).collect();
    lines
        .map(|(number, line)| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let field = |name: &str| {
                columns
                    .iter()
                    .position(|c| c == name)
                    .and_then(|i| cells.get(i))
                    .filter(|cell| !cell.is_empty())
                    .map(|cell| Field::Text(cell.to_string()))
            };
            reading_from_fields(&field).map_err(|reason| ReadingsError::Csv {
                line: number + 1,
                reason,
            })
        })
        .collect()
}

/// A field as written: JSON numbers are decimal, text follows the text rules below.
enum Field {
    Number(u64),
    Text(String),
}

fn reading_from_fields(field: &dyn Fn(&str) -> Option<Field>) -> Result<Reading, String> {
    let stream = match field("stream").ok_or("missing `stream`")? {
        Field::Number(n) => {
            u16::try_from(n).map_err(|_| format!("`stream` {n} does not fit in 16 bits"))?
        }
        Field::Text(text) => parse_stream(&text)?,
    };
    let number = |name: &str, default: Option<u32>| -> Result<u32, String> {
        match field(name) {
            None => default.ok_or(format!("missing `{name}`")),
            Some(Field::Number(n)) => {
                u32::try_from(n).map_err(|_| format!("`{name}` {n} does not fit in 32 bits"))
            }
            Some(Field::Text(text)) => {
                parse_u32(&text).ok_or(format!("`{name}` {text:?} is not a 32-bit number"))
            }
        }
    };
    let raw_time = match field("raw_time") {
        Some(Field::Text(text)) if text.contains('T') => {
            let instant = chrono::DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| format!("`raw_time` {text:?} is not an RFC 3339 time"))?;
            utc_to_rtc(instant.with_timezone(&chrono::Utc)).ok_or(format!(
                "`raw_time` {text} is outside the device clock's range (2000–2068)"
            ))?
        }
        _ => number("raw_time", None)?,
    };
    Ok(Reading {
        stream,
        reading_id: number("reading_id", Some(0))?,
        raw_time,
        value: number("value", None)?,
    })
}

/// A stream written as text: `0x` hex, exactly 4 hex digits (`5001`, as stream slugs end),
/// or a decimal number.
fn parse_stream(text: &str) -> Result<u16, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None if text.len() == 4 => u16::from_str_radix(text, 16).ok(),
        None => text.parse().ok(),
    };
    parsed.ok_or(format!(
        "`stream` {text:?} is not a stream (e.g. 5001, 0x5001 or 20481)"
    ))
}

fn parse_u32(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Builds the report's bytes.
pub fn build_report(
    kind: ReportKind,
    options: &BuildOptions,
    readings: &[Reading],
    signing: &Signing,
) -> Result<Vec<u8>, String> {
    let uptime_max = readings
        .iter()
        .map(|r| r.raw_time)
        .filter(|t| t & sync_protocol::time::RTC_FLAG == 0)
        .max()
        .unwrap_or(0);
    let sent_timestamp = options.sent_timestamp.unwrap_or(uptime_max);
    match kind {
        ReportKind::SignedList => {
            let highest = readings.iter().map(|r| r.reading_id).max().unwrap_or(0);
            let header = SignedListHeader {
                device_id: options.device_id,
                report_id: options.report_id.unwrap_or(highest.saturating_add(1)),
                sent_timestamp,
                streamer: options.streamer,
                selector: options.selector,
            };
            let signer = match signing {
                Signing::Hash => Signer::Hash,
                Signing::UserKey(key) => Signer::UserKey(key),
                Signing::DeviceKey(key) => Signer::DeviceKey(key),
            };
            SignedListReport::build(header, readings, signer)
                .map(|r| r.encode())
                .map_err(|e| e.to_string())
        }
        ReportKind::Individual => match readings {
            [reading] => Ok(IndividualReport::new(
                options.device_id,
                *reading,
                options.sent_timestamp.unwrap_or(0),
            )
            .encode()
            .to_vec()),
            _ => Err(format!(
                "an individual report holds exactly one reading, not {}",
                readings.len()
            )),
        },
        ReportKind::Broadcast => BroadcastReport::new(options.device_id, sent_timestamp, readings)
            .map(|r| r.encode())
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_give_the_same_readings() {
        let json: Value = serde_json::json!([
            {"stream": "5001", "reading_id": 1, "raw_time": 10, "value": 7},
            {"stream": 20481, "reading_id": 3, "raw_time": 11, "value": 9},
            {"stream": 20482, "reading_id": "0x2", "raw_time": "2020-01-01T00:00:00Z", "value": 8}
        ]);
        let csv = "stream,reading_id,raw_time,value\n5001,1,10,7\n20481,3,11,9\n0x5002,2,2020-01-01T00:00:00Z,8\n";
        let from_json = parse_json(&json).expect("json");
        assert_eq!(from_json, parse_csv(csv).expect("csv"));
        assert_eq!(from_json[0].stream, 0x5001);
        assert_eq!(from_json[1].stream, 0x5001);
        assert_eq!(from_json[2].raw_time, 0x8000_0000 | 631_152_000);
    }

    #[test]
    fn bad_rows_name_their_place() {
        let error = parse_csv("stream,raw_time,value\n5001,1,2\nzz,1,2\n").expect_err("bad stream");
        assert!(error.to_string().starts_with("line 3:"), "{error}");
        let error = parse_json(&serde_json::json!([{"stream": 1}])).expect_err("missing");
        assert!(error.to_string().contains("reading 0"), "{error}");
    }

    #[test]
    fn built_reports_verify() {
        let readings = parse_csv("stream,reading_id,raw_time,value\n5001,5,100,1\n5001,6,110,2\n")
            .expect("csv");
        let options = BuildOptions {
            device_id: 0x42,
            selector: 0xD7FF,
            ..Default::default()
        };
        let key = RootKey::new([3; 32]);
        let bytes = build_report(
            ReportKind::SignedList,
            &options,
            &readings,
            &Signing::UserKey(key.clone()),
        )
        .expect("builds");
        let report = SignedListReport::decode(&bytes).expect("decodes");
        assert_eq!(report.header.report_id, 7);
        assert_eq!(report.header.sent_timestamp, 110);
        assert_eq!(report.readings(Some(&key)), Ok(readings.clone()));
        assert!(build_report(ReportKind::Individual, &options, &readings, &Signing::Hash).is_err());
    }
}
