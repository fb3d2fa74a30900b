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
    /// Nobody is signed in.
    SignedOut,
    /// The sign-in expired or was revoked: sign in again (nothing waiting is lost).
    SignInAgain,
    /// The cloud could not be reached; what was asked waits for the network.
    Offline,
    /// The cloud answered no, with its reason.
    Refused,
    /// The cloud failed.
    Cloud,
    /// What was asked does not make sense (a project not in the copy, a bad address).
    Invalid,
    /// The radio cannot be opened or failed.
    Radio,
    /// The POD could not be reached or did not answer as it should.
    Pod,
    /// The app's files on this laptop.
    Storage,
}

impl From<desktop_core::CoreError> for Error {
    fn from(error: desktop_core::CoreError) -> Self {
        use desktop_core::CoreError as E;
        let code = match &error {
            E::SignedOut => Code::SignedOut,
            E::SignInAgain => Code::SignInAgain,
            E::Offline(_) => Code::Offline,
            E::Refused(_) => Code::Refused,
            E::Cloud(_) => Code::Cloud,
            E::Invalid(_) => Code::Invalid,
            E::Radio(_) => Code::Radio,
            E::Pod(_) => Code::Pod,
            E::Store(_) | E::Buffer(_) => Code::Storage,
        };
        Error::new(code, error.to_string())
    }
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
