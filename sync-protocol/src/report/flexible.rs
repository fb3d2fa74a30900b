//! FlexibleDictionaryReport: a msgpack map with no format byte, uploaded as `report.mp`.
//! It carries plain readings (`data`) and events with attached documents (`events`).
//!
//! The decoded msgpack document is kept as the source of truth, so a report re-encodes to the
//! same bytes whenever it was written with minimal msgpack encodings (as coretools and every
//! msgpack library write it). The typed view below is checked at decode time.
//!
//! Keys, in coretools' order: `format` (`"v100"`), `device`, `streamer_index`,
//! `streamer_selector`, `incremental_id`, `lowest_id`, `highest_id`, `device_sent_timestamp`,
//! `events`, `data`. Map keys and strings written as bytes by old packers are read as UTF-8.

use rmpv::Value;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::ReportError;

/// The only format version defined.
pub const FORMAT_TAG: &str = "v100";
/// coretools' default streamer index for these reports.
pub const DEFAULT_STREAMER: u16 = 0x100;
/// Deeper documents are refused (a guard against stack exhaustion).
const MAX_DEPTH: usize = 64;

/// A plain reading of a flexible dictionary report.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexReading {
    pub stream: u16,
    /// Device time (`device_timestamp`).
    pub raw_time: u32,
    /// `streamer_local_id`; 0 means none.
    pub reading_id: u32,
    /// An ISO-8601 time the producer already assigned, if any.
    pub timestamp: Option<String>,
    pub value: i64,
}

/// An event: a reading whose value is a document.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexEvent {
    pub stream: u16,
    /// Device time; `0xFFFFFFFF` means unknown.
    pub raw_time: u32,
    pub reading_id: u32,
    pub timestamp: Option<String>,
    /// `extra_data`: the small summary kept with the row.
    pub summary: Value,
    /// `data`: the possibly large raw document (nil when absent).
    pub raw: Value,
}

/// The header values of a report being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlexHeader {
    pub device_id: u64,
    pub streamer: u16,
    pub selector: u16,
    pub report_id: u32,
    pub sent_timestamp: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlexibleDictionaryReport {
    document: Value,
    device_id: u64,
    report_id: u64,
    sent_timestamp: u64,
    streamer: Option<u64>,
    selector: Option<u64>,
    lowest_id: Option<u64>,
    highest_id: Option<u64>,
    readings: Vec<FlexReading>,
    events: Vec<FlexEvent>,
}

pub(crate) fn starts_like_map(first: u8) -> bool {
    matches!(first, 0x80..=0x8F | 0xDE | 0xDF)
}

impl FlexibleDictionaryReport {
    /// Builds a report the way coretools does (same keys, same order).
    pub fn build(header: FlexHeader, readings: Vec<FlexReading>, events: Vec<FlexEvent>) -> Self {
        let ids = readings
            .iter()
            .map(|r| r.reading_id)
            .chain(events.iter().map(|e| e.reading_id));
        let (lowest, highest) = ids.filter(|id| *id != 0).fold((0, 0), |(low, high), id| {
            (if low == 0 { id } else { low.min(id) }, high.max(id))
        });
        let text = |s: &Option<String>| s.clone().map_or(Value::Nil, Value::from);
        let data = readings
            .iter()
            .map(|r| {
                map(vec![
                    ("stream", Value::from(r.stream)),
                    ("device_timestamp", Value::from(r.raw_time)),
                    ("streamer_local_id", Value::from(r.reading_id)),
                    ("timestamp", text(&r.timestamp)),
                    ("value", Value::from(r.value)),
                ])
            })
            .collect();
        let event_values = events
            .iter()
            .map(|e| {
                map(vec![
                    ("stream", Value::from(e.stream)),
                    ("device_timestamp", Value::from(e.raw_time)),
                    ("streamer_local_id", Value::from(e.reading_id)),
                    ("timestamp", text(&e.timestamp)),
                    ("extra_data", e.summary.clone()),
                    ("data", e.raw.clone()),
                ])
            })
            .collect();
        let document = map(vec![
            ("format", Value::from(FORMAT_TAG)),
            ("device", Value::from(header.device_id)),
            ("streamer_index", Value::from(header.streamer)),
            ("streamer_selector", Value::from(header.selector)),
            ("incremental_id", Value::from(header.report_id)),
            ("lowest_id", Value::from(lowest)),
            ("highest_id", Value::from(highest)),
            ("device_sent_timestamp", Value::from(header.sent_timestamp)),
            ("events", Value::Array(event_values)),
            ("data", Value::Array(data)),
        ]);
        FlexibleDictionaryReport {
            document,
            device_id: header.device_id,
            report_id: u64::from(header.report_id),
            sent_timestamp: u64::from(header.sent_timestamp),
            streamer: Some(u64::from(header.streamer)),
            selector: Some(u64::from(header.selector)),
            lowest_id: Some(u64::from(lowest)),
            highest_id: Some(u64::from(highest)),
            readings,
            events,
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        let mut rest = bytes;
        let document =
            rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH).map_err(|e| {
                ReportError::malformed(bytes.len() - rest.len(), format!("invalid msgpack: {e}"))
            })?;
        if !rest.is_empty() {
            let at = bytes.len() - rest.len();
            return Err(ReportError::malformed(
                at,
                format!("{} bytes follow the msgpack map", rest.len()),
            ));
        }
        let Value::Map(entries) = &document else {
            return Err(ReportError::malformed(
                0,
                "a flexible dictionary report is a msgpack map",
            ));
        };
        let top = Fields {
            entries,
            path: String::new(),
        };
        match top.get("format").map(text) {
            Some(Some(tag)) if tag == FORMAT_TAG => {}
            Some(Some(tag)) => {
                return Err(top.bad(format!(
                    "format {tag:?} is not supported (expected {FORMAT_TAG:?})"
                )))
            }
            Some(None) => return Err(top.bad("`format` must be a string")),
            None => return Err(top.bad("the `format` key is missing")),
        }
        let device_id = top
            .int("device")?
            .ok_or_else(|| top.bad("the `device` key is missing"))?;
        let readings = top.list("data")?.iter().enumerate().map(|(i, item)| {
            let item = Fields::of(item, format!("data[{i}]"))?;
            Ok(FlexReading {
                stream: item.stream()?,
                raw_time: item.required_u32("device_timestamp")?,
                reading_id: item.required_u32("streamer_local_id")?,
                timestamp: item.timestamp()?,
                value: item.value_i64()?,
            })
        });
        let readings = readings.collect::<Result<Vec<_>, ReportError>>()?;
        let events = top.list("events")?.iter().enumerate().map(|(i, item)| {
            let item = Fields::of(item, format!("events[{i}]"))?;
            Ok(FlexEvent {
                stream: item.stream()?,
                raw_time: item.required_u32("device_timestamp")?,
                reading_id: item.required_u32("streamer_local_id")?,
                timestamp: item.timestamp()?,
                summary: item.get("extra_data").cloned().unwrap_or(Value::Nil),
                raw: item.get("data").cloned().unwrap_or(Value::Nil),
            })
        });
        let events = events.collect::<Result<Vec<_>, ReportError>>()?;
        Ok(FlexibleDictionaryReport {
            device_id,
            report_id: top.int("incremental_id")?.unwrap_or(0),
            sent_timestamp: top.int("device_sent_timestamp")?.unwrap_or(0),
            streamer: top.int("streamer_index")?,
            selector: top.int("streamer_selector")?,
            lowest_id: top.int("lowest_id")?,
            highest_id: top.int("highest_id")?,
            readings,
            events,
            document,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &self.document);
        out
    }

    pub fn document(&self) -> &Value {
        &self.document
    }
    pub fn device_id(&self) -> u64 {
        self.device_id
    }
    /// `incremental_id`, 0 when absent.
    pub fn report_id(&self) -> u64 {
        self.report_id
    }
    /// `device_sent_timestamp`, 0 when absent.
    pub fn sent_timestamp(&self) -> u64 {
        self.sent_timestamp
    }
    pub fn streamer(&self) -> Option<u64> {
        self.streamer
    }
    pub fn selector(&self) -> Option<u64> {
        self.selector
    }
    pub fn lowest_id(&self) -> Option<u64> {
        self.lowest_id
    }
    pub fn highest_id(&self) -> Option<u64> {
        self.highest_id
    }
    pub fn readings(&self) -> &[FlexReading] {
        &self.readings
    }
    pub fn events(&self) -> &[FlexEvent] {
        &self.events
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// A string, or bytes holding UTF-8 (Python 2 packers).
fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => s.as_str(),
        Value::Binary(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// The entries of one map, with the path used in error messages.
struct Fields<'a> {
    entries: &'a [(Value, Value)],
    path: String,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: String) -> Result<Self, ReportError> {
        match value {
            Value::Map(entries) => Ok(Fields { entries, path }),
            _ => Err(ReportError::malformed(0, format!("{path} must be a map"))),
        }
    }

    fn bad(&self, reason: impl std::fmt::Display) -> ReportError {
        let at = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path)
        };
        ReportError::malformed(0, format!("{at}{reason}"))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(k, _)| text(k) == Some(key))
            .map(|(_, v)| v)
    }

    fn int(&self, key: &str) -> Result<Option<u64>, ReportError> {
        match self.get(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.bad(format!("`{key}` must be a non-negative integer"))),
        }
    }

    fn required_u32(&self, key: &str) -> Result<u32, ReportError> {
        let value = self
            .int(key)?
            .ok_or_else(|| self.bad(format!("the `{key}` key is missing")))?;
        u32::try_from(value)
            .map_err(|_| self.bad(format!("`{key}` {value} does not fit in 32 bits")))
    }

    fn list(&self, key: &str) -> Result<&'a [Value], ReportError> {
        match self.get(key) {
            None | Some(Value::Nil) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.bad(format!("`{key}` must be a list"))),
        }
    }

    /// A stream as an integer or as 4 hex digits (`"5020"`).
    fn stream(&self) -> Result<u16, ReportError> {
        let bad = || self.bad("`stream` must be a 16-bit integer or 4 hex digits");
        match self.get("stream") {
            None => Err(self.bad("the `stream` key is missing")),
            Some(value) => match (value.as_u64(), text(value)) {
                (Some(number), _) => u16::try_from(number).map_err(|_| bad()),
                (None, Some(hex)) => u16::from_str_radix(hex, 16).map_err(|_| bad()),
                _ => Err(bad()),
            },
        }
    }

    fn timestamp(&self) -> Result<Option<String>, ReportError> {
        match self.get("timestamp") {
            None | Some(Value::Nil) => Ok(None),
            Some(value) => text(value)
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.bad("`timestamp` must be a string or nil")),
        }
    }

    fn value_i64(&self) -> Result<i64, ReportError> {
        match self.get("value") {
            None => Err(self.bad("the `value` key is missing")),
            Some(value) => value
                .as_i64()
                .ok_or_else(|| self.bad("`value` must be a 64-bit integer")),
        }
    }
}

/// Serializes a msgpack value as the JSON-like data model: binary as lower-case hex, non-string
/// map keys as their text, non-finite floats as null.
pub struct MsgpackAsJson<'a>(pub &'a Value);

impl Serialize for MsgpackAsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Nil => serializer.serialize_none(),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
                (Some(u), _) => serializer.serialize_u64(u),
                (None, Some(n)) => serializer.serialize_i64(n),
                _ => serializer.serialize_none(),
            },
            Value::F32(f) if f.is_finite() => serializer.serialize_f32(*f),
            Value::F64(f) if f.is_finite() => serializer.serialize_f64(*f),
            Value::F32(_) | Value::F64(_) => serializer.serialize_none(),
            Value::String(s) => serializer.serialize_str(&String::from_utf8_lossy(s.as_bytes())),
            Value::Binary(bytes) | Value::Ext(_, bytes) => serializer.collect_str(&Hex(bytes)),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&MsgpackAsJson(item))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    match text(key) {
                        Some(key) => out.serialize_entry(key, &MsgpackAsJson(value))?,
                        None => out.serialize_entry(&key.to_string(), &MsgpackAsJson(value))?,
                    }
                }
                out.end()
            }
        }
    }
}

struct Hex<'a>(&'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FlexibleDictionaryReport {
        let header = FlexHeader {
            device_id: 0x1234,
            streamer: DEFAULT_STREAMER,
            selector: 0xFFFF,
            report_id: 0,
            sent_timestamp: 99,
        };
        let readings = vec![FlexReading {
            stream: 0x5001,
            raw_time: 10,
            reading_id: 5,
            timestamp: None,
            value: 77,
        }];
        let events = vec![FlexEvent {
            stream: 0x5020,
            raw_time: 12,
            reading_id: 6,
            timestamp: None,
            summary: map(vec![("peak", Value::F64(1.5))]),
            raw: map(vec![(
                "samples",
                Value::Array(vec![Value::from(1), Value::from(2)]),
            )]),
        }];
        FlexibleDictionaryReport::build(header, readings, events)
    }

    #[test]
    fn built_report_round_trips() {
        let report = sample();
        let bytes = report.encode();
        assert_eq!(bytes[0], 0x8A);
        let decoded = FlexibleDictionaryReport::decode(&bytes).expect("decodes");
        assert_eq!(decoded, report);
        assert_eq!(decoded.encode(), bytes);
        assert_eq!(
            (decoded.lowest_id(), decoded.highest_id()),
            (Some(5), Some(6))
        );
    }

    #[test]
    fn hex_streams_and_byte_keys_are_accepted() {
        let document = Value::Map(vec![
            (
                Value::Binary(b"format".to_vec()),
                Value::Binary(b"v100".to_vec()),
            ),
            (Value::from("device"), Value::from(7)),
            (
                Value::from("data"),
                Value::Array(vec![map(vec![
                    ("stream", Value::from("5020")),
                    ("device_timestamp", Value::from(1)),
                    ("streamer_local_id", Value::from(2)),
                    ("value", Value::from(-3)),
                ])]),
            ),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &document).expect("vec write");
        let report = FlexibleDictionaryReport::decode(&bytes).expect("decodes");
        assert_eq!(report.readings()[0].stream, 0x5020);
        assert_eq!(report.readings()[0].value, -3);
        assert_eq!(
            (report.device_id(), report.report_id(), report.streamer()),
            (7, 0, None)
        );
    }

    #[test]
    fn bad_documents_name_the_problem() {
        let encode = |v: &Value| {
            let mut bytes = Vec::new();
            rmpv::encode::write_value(&mut bytes, v).expect("vec write");
            bytes
        };
        let no_device = encode(&map(vec![("format", Value::from("v100"))]));
        let error = FlexibleDictionaryReport::decode(&no_device).expect_err("no device");
        assert!(error.to_string().contains("`device`"), "{error}");
        let wrong_format = encode(&map(vec![
            ("format", Value::from("v200")),
            ("device", Value::from(1)),
        ]));
        assert!(FlexibleDictionaryReport::decode(&wrong_format).is_err());
        let mut trailing = sample().encode();
        trailing.push(0);
        assert!(FlexibleDictionaryReport::decode(&trailing).is_err());
        let mut deep = vec![0x81, 0xA1, b'x'];
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0xC0);
        assert!(FlexibleDictionaryReport::decode(&deep).is_err());
    }
}
