//! Deployment selection criteria: `type:op:value` strings that must all hold for a POD.
//!
//! Types (spec 6.3): `os_tag`, `app_tag`, `controller_hw_tag` compare integers for equality;
//! `os_version`, `app_version` compare 2–4 dotted numbers with `lt`, `lteq`, `eq`, `gt`,
//! `gteq`. The original server writes `gte`/`lte`, which coretools' agent cannot evaluate,
//! so input accepts every spelling (`gte`, `gteq`, `>=`, …) and output always uses the
//! coretools form. Likewise a version is read with 2 to 4 numbers but written with three
//! (`1.9` as `1.9.0`): coretools parses it with `SemanticVersion.FromString`, which raises
//! on anything but `X.Y.Z`, failing the agent's whole check.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A criterion that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriterionError {
    #[error("a criterion is type:op:value, got {0:?}")]
    Shape(String),
    #[error("unknown criterion type {0:?} (os_tag, app_tag, controller_hw_tag, os_version, app_version)")]
    Type(String),
    #[error("unknown operator {0:?} (eq, lt, lteq, gt, gteq)")]
    Op(String),
    #[error("{kind} compares with eq only, got {op}")]
    TagOp {
        kind: &'static str,
        op: &'static str,
    },
    #[error("{0:?} is not a tag (a whole number below 2^20)")]
    Tag(String),
    #[error("{0:?} is not a version (2 to 4 dotted numbers)")]
    Version(String),
}

/// A comparison operator, in coretools' spelling when printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Lteq,
    Eq,
    Gt,
    Gteq,
}

impl Op {
    fn parse(text: &str) -> Result<Op, CriterionError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "lt" | "<" => Op::Lt,
            "lte" | "lteq" | "<=" => Op::Lteq,
            "eq" | "==" | "=" => Op::Eq,
            "gt" | ">" => Op::Gt,
            "gte" | "gteq" | ">=" => Op::Gteq,
            _ => return Err(CriterionError::Op(text.to_string())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "lt",
            Op::Lteq => "lteq",
            Op::Eq => "eq",
            Op::Gt => "gt",
            Op::Gteq => "gteq",
        }
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Lt => ordering == Ordering::Less,
            Op::Lteq => ordering != Ordering::Greater,
            Op::Eq => ordering == Ordering::Equal,
            Op::Gt => ordering == Ordering::Greater,
            Op::Gteq => ordering != Ordering::Less,
        }
    }
}

/// A dotted version of 2 to 4 numbers; missing parts compare as 0 (`1.2` == `1.2.0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DottedVersion(Vec<u32>);

impl DottedVersion {
    pub fn parse(text: &str) -> Result<DottedVersion, CriterionError> {
        let bad = || CriterionError::Version(text.to_string());
        let trimmed = text.trim();
        let body = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
        let parts: Vec<u32> = body
            .split('.')
            .map(|p| p.parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if !(2..=4).contains(&parts.len()) {
            return Err(bad());
        }
        Ok(DottedVersion(parts))
    }

    /// `major.minor`, the form PODs carry.
    pub fn from_major_minor(major: u8, minor: u8) -> DottedVersion {
        DottedVersion(vec![u32::from(major), u32::from(minor)])
    }

    fn compare(&self, other: &DottedVersion) -> Ordering {
        let len = self.0.len().max(other.0.len());
        let at = |v: &DottedVersion, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl fmt::Display for DottedVersion {
    /// `X.Y.Z`, the only form coretools' `SemanticVersion` reads: missing parts are 0, and a
    /// fourth part is kept only when it is not 0 (then only our own agents can evaluate it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = self.0.clone();
        parts.resize(parts.len().max(3), 0);
        if parts.get(3) == Some(&0) {
            parts.truncate(3);
        }
        let parts: Vec<String> = parts.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// One criterion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Criterion {
    OsTag(u32),
    AppTag(u32),
    ControllerHwTag(u32),
    OsVersion(Op, DottedVersion),
    AppVersion(Op, DottedVersion),
}

impl Criterion {
    /// Reads `type:op:value`, accepting every operator spelling.
    pub fn parse(text: &str) -> Result<Criterion, CriterionError> {
        let mut parts = text.trim().splitn(3, ':');
        let (Some(kind), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CriterionError::Shape(text.to_string()));
        };
        let op = Op::parse(op)?;
        let tag = |kind: &'static str| -> Result<u32, CriterionError> {
            if op != Op::Eq {
                return Err(CriterionError::TagOp {
                    kind,
                    op: op.as_str(),
                });
            }
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|t| *t < 1 << 20)
                .ok_or_else(|| CriterionError::Tag(value.to_string()))
        };
        Ok(match kind.trim().to_ascii_lowercase().as_str() {
            "os_tag" => Criterion::OsTag(tag("os_tag")?),
            "app_tag" => Criterion::AppTag(tag("app_tag")?),
            "controller_hw_tag" => Criterion::ControllerHwTag(tag("controller_hw_tag")?),
            "os_version" => Criterion::OsVersion(op, DottedVersion::parse(value)?),
            "app_version" => Criterion::AppVersion(op, DottedVersion::parse(value)?),
            _ => return Err(CriterionError::Type(kind.to_string())),
        })
    }

    /// Whether the POD's live versions satisfy this criterion. An unknown hardware tag
    /// never matches a hardware criterion.
    pub fn holds(&self, live: &LiveVersions) -> bool {
        let version = |major, minor| DottedVersion::from_major_minor(major, minor);
        match self {
            Criterion::OsTag(tag) => live.os_tag == *tag,
            Criterion::AppTag(tag) => live.app_tag == *tag,
            Criterion::ControllerHwTag(tag) => live.controller_hw_tag == Some(*tag),
            Criterion::OsVersion(op, v) => {
                op.holds(version(live.os_major, live.os_minor).compare(v))
            }
            Criterion::AppVersion(op, v) => {
                op.holds(version(live.app_major, live.app_minor).compare(v))
            }
        }
    }
}

impl fmt::Display for Criterion {
    /// The coretools form: `app_version:gteq:1.2.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Criterion::OsTag(t) => write!(f, "os_tag:eq:{t}"),
            Criterion::AppTag(t) => write!(f, "app_tag:eq:{t}"),
            Criterion::ControllerHwTag(t) => write!(f, "controller_hw_tag:eq:{t}"),
            Criterion::OsVersion(op, v) => write!(f, "os_version:{}:{v}", op.as_str()),
            Criterion::AppVersion(op, v) => write!(f, "app_version:{}:{v}", op.as_str()),
        }
    }
}

/// A POD's identity as RPC `0x1008` (and `0x0002` for the hardware) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LiveVersions {
    pub os_tag: u32,
    pub os_major: u8,
    pub os_minor: u8,
    pub app_tag: u32,
    pub app_major: u8,
    pub app_minor: u8,
    pub controller_hw_tag: Option<u32>,
}

impl LiveVersions {
    /// From the two packed words of RPC `0x1008` (OS, then app).
    pub fn from_words(os: u32, app: u32) -> LiveVersions {
        let os = crate::version::TagVersion::unpack(os);
        let app = crate::version::TagVersion::unpack(app);
        LiveVersions {
            os_tag: os.tag,
            os_major: os.major,
            os_minor: os.minor,
            app_tag: app.tag,
            app_major: app.major,
            app_minor: app.minor,
            controller_hw_tag: None,
        }
    }
}

/// All the criteria of a deployment; an empty set matches every POD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Criteria(pub Vec<Criterion>);

impl Criteria {
    /// Parses each string; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Criteria, CriterionError> {
        texts
            .iter()
            .map(|t| Criterion::parse(t.as_ref()))
            .collect::<Result<_, _>>()
            .map(Criteria)
    }

    pub fn holds(&self, live: &LiveVersions) -> bool {
        self.0.iter().all(|c| c.holds(live))
    }

    /// The normalised strings, as stored and served.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Criterion::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> LiveVersions {
        LiveVersions::from_words(0x0400_0802, 0x0440_0803)
    }

    #[test]
    fn every_spelling_is_read_and_printed_the_coretools_way() {
        for (input, output) in [
            ("app_version:gte:1.2", "app_version:gteq:1.2.0"),
            ("os_version:>=:1.0.0", "os_version:gteq:1.0.0"),
            ("os_version:lte:2.0", "os_version:lteq:2.0.0"),
            ("app_tag:==:2051", "app_tag:eq:2051"),
            (" OS_TAG:eq:2050 ", "os_tag:eq:2050"),
            ("app_version:lt:v1.4", "app_version:lt:1.4.0"),
            ("app_version:eq:1.4.0.0", "app_version:eq:1.4.0"),
            ("app_version:lt:1.4.0.2", "app_version:lt:1.4.0.2"),
        ] {
            assert_eq!(Criterion::parse(input).unwrap().to_string(), output);
        }
    }

    #[test]
    fn bad_criteria_say_what_is_wrong() {
        assert!(matches!(
            Criterion::parse("app_tag"),
            Err(CriterionError::Shape(_))
        ));
        assert!(matches!(
            Criterion::parse("sg:eq:1"),
            Err(CriterionError::Type(_))
        ));
        assert!(matches!(
            Criterion::parse("app_tag:gt:1"),
            Err(CriterionError::TagOp { .. })
        ));
        assert!(matches!(
            Criterion::parse("app_version:~:1.0"),
            Err(CriterionError::Op(_))
        ));
        assert!(matches!(
            Criterion::parse("app_version:eq:1"),
            Err(CriterionError::Version(_))
        ));
        assert!(matches!(
            Criterion::parse("app_tag:eq:x"),
            Err(CriterionError::Tag(_))
        ));
    }

    #[test]
    fn criteria_match_live_versions() {
        let holds = |texts: &[&str]| Criteria::parse(texts).unwrap().holds(&live());
        assert!(holds(&[]));
        assert!(holds(&[
            "os_tag:eq:2050",
            "app_tag:eq:2051",
            "app_version:gteq:1.4"
        ]));
        assert!(holds(&[
            "app_version:lt:1.5",
            "app_version:eq:1.4.0",
            "os_version:lteq:1.0"
        ]));
        assert!(!holds(&["app_version:gt:1.4"]));
        assert!(!holds(&["app_tag:eq:2050"]));
        assert!(!holds(&["controller_hw_tag:eq:1"]));
        let mut with_hw = live();
        with_hw.controller_hw_tag = Some(1);
        assert!(Criteria::parse(&["controller_hw_tag:eq:1"])
            .unwrap()
            .holds(&with_hw));
    }
}
