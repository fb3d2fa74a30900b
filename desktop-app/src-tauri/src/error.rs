//! The error every command returns. The front end sees `{code, message}`: a code to branch
//! on and a sentence for the technician; causes stay in the Rust log, not in the message.

use serde::Serialize;

/// A failed command, as the front end receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
// Not `Error` in TypeScript, where that name is the built-in exception.
#[serde(rename = "CommandError")]
pub struct Error {
    pub code: Code,
    pub message: String,
}

/// What went wrong, for the front end to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
#[serde(rename = "ErrorCode")]
pub enum Code {
    /// The app's data directory cannot be found or made.
    DataDir,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_the_front_end_as_code_and_message() {
        let error = Error::new(Code::DataDir, "no home directory");
        let json = serde_json::to_value(&error).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"code": "data_dir", "message": "no home directory"})
        );
    }
}
