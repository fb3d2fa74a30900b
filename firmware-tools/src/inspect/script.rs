//! The view of an update script: whether its header hash holds, and each logical record as
//! the reference tools name and describe it.

use std::fmt::Write as _;

use serde::Serialize;
use sync_protocol::script::{ScriptError, UpdateScript};

use super::{sha256_hex, Outcome};

#[derive(Debug, Serialize)]
pub struct ScriptView {
    pub kind: &'static str,
    pub length: usize,
    pub sha256: String,
    pub valid: bool,
    /// Why the script is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_classes: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<String>>,
    #[serde(skip)]
    pub outcome: Outcome,
}

impl ScriptView {
    /// The view of a script, or the parse error when it is not one. A script whose only
    /// fault is its header hash is shown as invalid rather than refused.
    pub fn new(bytes: &[u8]) -> Result<Self, ScriptError> {
        let mut view = ScriptView {
            kind: "UpdateScript",
            length: bytes.len(),
            sha256: sha256_hex(bytes),
            valid: true,
            why: None,
            record_count: None,
            record_classes: None,
            records: None,
            outcome: Outcome::Good,
        };
        match UpdateScript::decode(bytes) {
            Ok(script) => {
                view.record_count = Some(script.records.len());
                view.record_classes = Some(script.records.iter().map(|r| r.class_name()).collect());
                view.records = Some(script.records.iter().map(ToString::to_string).collect());
            }
            Err(error) if error.is_hash_mismatch() => {
                view.valid = false;
                view.why = Some(error.to_string());
                view.outcome = Outcome::NotVerified;
            }
            Err(error) => return Err(error),
        }
        Ok(view)
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({} bytes, sha256 {})",
            self.kind,
            self.length,
            &self.sha256[..16]
        );
        if let Some(why) = &self.why {
            let _ = writeln!(out, "  INVALID: {why}");
        }
        if let (Some(classes), Some(records)) = (&self.record_classes, &self.records) {
            let _ = writeln!(out, "  header hash ok, {} records\n", classes.len());
            let _ = writeln!(out, "  {:>3}  {:<28} description", "#", "record");
            for (index, (class, text)) in classes.iter().zip(records).enumerate() {
                let _ = writeln!(out, "  {:>3}  {class:<28} {text}", index + 1);
            }
        }
        out
    }
}
