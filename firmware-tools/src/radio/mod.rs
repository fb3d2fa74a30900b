//! Virtual radios: what stands between a virtual POD and the host code that talks to it.
//!
//! A radio (the virtual BlueZ on D-Bus, the virtual BLED112 on a pty) sees PODs only
//! through [`Peripheral`]: an address, advertising packets, and [`GattLink`]s to the TileBus
//! GATT table. Everything a POD does over the air (RPC framing, report chunking, flow
//! control) lives behind that trait, so both radios behave the same way and faults injected
//! there ([`RadioEffects`]) reach every host alike.

pub mod bled112;
pub mod bluez;
pub mod gatt_layout;

use std::time::Duration;

use tokio::sync::mpsc;

pub use sync_protocol::bgapi::BdAddr;

/// What a peripheral broadcasts: raw AD structures, at most 31 bytes each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertising {
    pub advertisement: Vec<u8>,
    /// Sent only to active scanners (v1 advertisements have one, v2 do not).
    pub scan_response: Option<Vec<u8>>,
    /// A POD with a user connected advertises non-connectable.
    pub connectable: bool,
}

/// Why a GATT operation failed, as ATT reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttError {
    #[error("no such attribute")]
    InvalidHandle,
    #[error("the attribute does not allow this operation")]
    NotPermitted,
    #[error("the value has the wrong length")]
    InvalidLength,
    #[error("the peripheral's buffers are full; retry shortly")]
    Busy,
    #[error("the link is gone")]
    Disconnected,
}

/// Something a connected peripheral says on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A notification on a characteristic (by its 16-bit UUID), at most 20 bytes.
    Notify { characteristic: u16, value: Vec<u8> },
    /// The peripheral dropped the link (went out of range, reset...).
    Disconnected,
}

/// A connection to one peripheral's TileBus GATT table. Characteristics are named by their
/// 16-bit UUIDs (`0x2001`..`0x2009`, [`sync_protocol::ble`]).
pub trait GattLink: Send {
    /// Writes a characteristic value (with or without response, as the host chose).
    fn write(
        &mut self,
        characteristic: u16,
        value: &[u8],
        with_response: bool,
    ) -> Result<(), AttError>;
    /// Reads a characteristic value.
    fn read(&mut self, characteristic: u16) -> Result<Vec<u8>, AttError>;
    /// Enables or disables notifications (the CCCD write).
    fn set_notify(&mut self, characteristic: u16, enabled: bool) -> Result<(), AttError>;
    /// The host ends the link.
    fn disconnect(&mut self);
}

/// A connected link: the handle to act on it and the events it produces. When the
/// peripheral drops the link, `events` yields [`LinkEvent::Disconnected`] and then closes.
pub struct Connection {
    pub link: Box<dyn GattLink>,
    pub events: mpsc::Receiver<LinkEvent>,
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("the peripheral is out of range")]
    OutOfRange,
    #[error("the peripheral already has a host connected")]
    Busy,
}

/// A device a virtual radio can see and connect to.
pub trait Peripheral: Send + Sync {
    fn address(&self) -> BdAddr;
    /// The GAP name (`V_IOTile` style names are what PODs use).
    fn name(&self) -> String;
    /// Its current advertising packets, or `None` while it is out of range.
    fn advertising(&self) -> Option<Advertising>;
    /// Signal strength as a scanner would measure it.
    fn rssi(&self) -> i16;
    /// Opens a GATT link.
    fn connect(&self) -> Result<Connection, ConnectError>;
}

/// Radio faults a test can switch on for a peripheral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RadioEffects {
    /// Drop the link after this many more notifications (out of range mid-transfer).
    pub disconnect_after_notifications: Option<u64>,
    /// Lose one notification in every `n` (n ≥ 2), silently.
    pub drop_every_nth_notification: Option<u64>,
    /// Flip a bit in the middle of the `n`th streaming notification from now (1 is the next
    /// one), once: interference the link layer's check missed, which only the report's own
    /// signature can catch.
    pub corrupt_streaming_notification: Option<u64>,
    /// Wait this long before each notification (a slow link).
    pub notification_delay: Option<Duration>,
    /// Refuse one write-without-response in every `n` (n ≥ 2) as "buffers full"
    /// ([`AttError::Busy`]), taking nothing: the host must send the same value again.
    pub buffers_full_every_nth_write: Option<u64>,
    /// Refuse connections and stop advertising.
    pub out_of_range: bool,
}
