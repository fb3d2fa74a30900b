//! What can go wrong, in words a technician can act on.

use gateway::buffer::BufferError;
use gateway::collect::CollectError;
use gateway::sync::SyncError;
use gateway::transport::TransportError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("sign in first")]
    SignedOut,
    /// The token expired (or was revoked): the user must sign in again, once online.
    #[error("your sign-in has expired: sign in again")]
    SignInAgain,
    #[error("no network: {0}")]
    Offline(String),
    #[error("the cloud refused: {0}")]
    Refused(String),
    #[error("the cloud failed: {0}")]
    Cloud(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the radio: {0}")]
    Radio(String),
    #[error("the POD: {0}")]
    Pod(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the report buffer: {0}")]
    Buffer(#[from] BufferError),
}

impl From<SyncError> for CoreError {
    fn from(error: SyncError) -> CoreError {
        match error {
            SyncError::Network(e) => CoreError::Offline(e.to_string()),
            SyncError::Refused { status: 401, .. } => CoreError::SignInAgain,
            SyncError::Refused { detail, .. } => CoreError::Refused(crate::cloud::reason(&detail)),
            SyncError::Server { status, detail } => {
                CoreError::Cloud(format!("{status}: {}", crate::cloud::reason(&detail)))
            }
            SyncError::Buffer(e) => CoreError::Buffer(e),
            other => CoreError::Cloud(other.to_string()),
        }
    }
}

impl From<TransportError> for CoreError {
    fn from(error: TransportError) -> CoreError {
        match error {
            TransportError::Radio(why) => CoreError::Radio(why),
            other => CoreError::Pod(other.to_string()),
        }
    }
}

impl From<CollectError> for CoreError {
    fn from(error: CollectError) -> CoreError {
        match error {
            CollectError::Transport(e) => e.into(),
            other => CoreError::Pod(other.to_string()),
        }
    }
}

impl CoreError {
    /// Whether the network (or the cloud) was out of reach: the work waits, nothing failed.
    pub fn is_offline(&self) -> bool {
        matches!(self, CoreError::Offline(_) | CoreError::Cloud(_))
    }
}
