//! Errors: the crate-facing [`BluezError`] and the D-Bus errors the virtual daemon replies with.

use crate::radio::{AttError, BdAddr};

/// Why the virtual BlueZ (or its private bus) could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BluezError {
    #[error(
        "dbus-daemon was not found (tried {tried}); install Debian's dbus package \
         (apt-get install dbus) or point IOTILE_DBUS_DAEMON at the binary"
    )]
    DbusDaemonMissing { tried: String },
    #[error("dbus-daemon failed to start: {0}")]
    DbusDaemonFailed(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("D-Bus error: {0}")]
    Dbus(#[from] zbus::Error),
    #[error("org.bluez is already owned by another connection on {0}")]
    NameTaken(String),
    #[error("a peripheral with address {0} is already on the air")]
    DuplicatePeripheral(BdAddr),
    #[error("no peripheral with address {0}")]
    UnknownPeripheral(BdAddr),
    #[error("the virtual BlueZ must be started from inside a tokio runtime")]
    NoRuntime,
}

/// The errors BlueZ's D-Bus API replies with (`org.bluez.Error.*`), with BlueZ's messages.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum BluezDbusError {
    #[zbus(error)]
    ZBus(zbus::Error),
    Failed(String),
    InProgress(String),
    NotReady(String),
    NotPermitted(String),
    NotSupported(String),
    InvalidArguments(String),
    DoesNotExist(String),
    NotAvailable(String),
}

impl BluezDbusError {
    pub fn not_connected_failure() -> Self {
        Self::Failed("Not connected".into())
    }
    pub fn not_ready() -> Self {
        Self::NotReady("Resource Not Ready".into())
    }
    pub fn busy() -> Self {
        Self::InProgress("Operation already in progress".into())
    }
    pub fn in_progress() -> Self {
        Self::InProgress("In Progress".into())
    }
    pub fn not_supported() -> Self {
        Self::NotSupported("Operation is not supported".into())
    }
    pub fn invalid_args() -> Self {
        Self::InvalidArguments("Invalid arguments in method call".into())
    }
    pub fn does_not_exist() -> Self {
        Self::DoesNotExist("Does Not Exist".into())
    }
}

/// ATT error codes the peripheral's answer stands for.
const ATT_INVALID_HANDLE: u8 = 0x01;
const ATT_INSUFFICIENT_RESOURCES: u8 = 0x11;

/// BlueZ's `create_gatt_dbus_error` for an ATT error returned by a read.
pub fn read_error(e: AttError) -> BluezDbusError {
    match e {
        AttError::NotPermitted => BluezDbusError::NotPermitted("Read not permitted".into()),
        other => common_att_error(other),
    }
}

/// BlueZ's `create_gatt_dbus_error` for an ATT error returned by a write request.
pub fn write_error(e: AttError) -> BluezDbusError {
    match e {
        AttError::NotPermitted => BluezDbusError::NotPermitted("Write not permitted".into()),
        other => common_att_error(other),
    }
}

fn common_att_error(e: AttError) -> BluezDbusError {
    match e {
        AttError::InvalidHandle => att_failed(ATT_INVALID_HANDLE),
        // BlueZ maps "Invalid Attribute Value Length" to InvalidArguments (the documented
        // org.bluez.Error.InvalidValueLength is not what gatt-client.c sends).
        AttError::InvalidLength => BluezDbusError::InvalidArguments("Invalid Length".into()),
        AttError::Busy => att_failed(ATT_INSUFFICIENT_RESOURCES),
        AttError::Disconnected => BluezDbusError::not_connected_failure(),
        AttError::NotPermitted => BluezDbusError::NotPermitted("Write not permitted".into()),
    }
}

fn att_failed(code: u8) -> BluezDbusError {
    BluezDbusError::Failed(format!("Operation failed with ATT error: 0x{code:02x}"))
}
