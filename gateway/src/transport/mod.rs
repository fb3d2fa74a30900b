//! Device transports: how the gateway hears PODs advertise, connects to them, runs RPCs,
//! receives their streamed reports and sends them update scripts. Two radios share one
//! interface: a BLED112 dongle on a serial port ([`bled112`]) and the host's BlueZ through
//! btleplug ([`bluez`]); [`radio`] holds either, chosen at run time.
//!
//! The device manager holds a [`Transport`] and its [`Connection`]s; everything above this
//! module is radio-agnostic. Below it, each radio only implements a [`GattLink`] (write,
//! notifications, close); [`tilebus`] runs TileBus over any of them, so the RPC exchange,
//! report reassembly ([`Reassembler`]) and script upload exist once.

pub mod bled112;
pub mod bluez;
pub mod bluez_panics;
pub mod gatt_link;
pub mod radio;
mod reassembly;
pub mod tilebus;

use std::future::Future;
use std::time::Duration;

use sync_protocol::bgapi::BdAddr;
use sync_protocol::ble::Advertisement;
use sync_protocol::report::BroadcastReport;
use tokio::sync::mpsc;

pub use gatt_link::GattLink;
pub use reassembly::Reassembler;
pub use sync_protocol::rpc::RpcOutcome as RpcAnswer;
pub use tilebus::TileBus;

/// How long an RPC may take unless the caller says otherwise (coretools clients use 3–5 s).
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// The TileBus controller's address, where the streamer RPCs live.
pub const CONTROLLER: u8 = 8;

/// One IOTile advertisement heard on the radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub address: BdAddr,
    pub device_id: u32,
    /// The POD has readings waiting to be streamed.
    pub has_data: bool,
    /// Someone else is connected (the POD advertises non-connectable).
    pub user_connected: bool,
    /// The broadcast reading, as a one-reading report, when the POD advertises one.
    pub broadcast: Option<BroadcastReport>,
    pub rssi: i16,
    pub advertisement: Advertisement,
}

impl Seen {
    fn from_advertisement(address: BdAddr, rssi: i16, advertisement: Advertisement) -> Seen {
        Seen {
            address,
            device_id: advertisement.device_id(),
            has_data: advertisement.pending_data(),
            user_connected: advertisement.user_connected(),
            broadcast: advertisement.broadcast_report(),
            rssi,
            advertisement,
        }
    }
}

/// What can go wrong talking to a POD. Every failure ends the operation cleanly: a report is
/// handed over whole or not at all.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within {0:?} while waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("the POD disconnected")]
    Disconnected,
    #[error("all {0} connection slots are in use")]
    Busy(usize),
    #[error("the POD could not be connected: {0}")]
    ConnectFailed(String),
    #[error("the POD does not offer the TileBus GATT interface: {0}")]
    NotIotile(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the radio failed: {0}")]
    Radio(String),
    #[error("the POD does not offer the {0} characteristic")]
    Unsupported(&'static str),
}

/// A radio the gateway collects through.
pub trait Transport: Send + Sync {
    type Connection: Connection;

    /// How many PODs can be connected at once.
    fn max_connections(&self) -> usize;

    /// Starts (or joins) scanning; every IOTile advertisement heard is sent on the channel
    /// until the receiver is dropped. Advertisements are dropped, not queued, when the
    /// receiver falls behind: the next one comes within seconds.
    fn scan(&self) -> impl Future<Output = Result<mpsc::Receiver<Seen>, TransportError>> + Send;

    /// Connects, discovers the TileBus GATT table and opens the RPC interface.
    fn connect(
        &self,
        address: BdAddr,
    ) -> impl Future<Output = Result<Self::Connection, TransportError>> + Send;
}

/// One open link to a POD.
pub trait Connection: Send {
    /// Calls `rpc_id` on the tile at `address`; the answer must come within `timeout`.
    fn rpc(
        &mut self,
        address: u8,
        rpc_id: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<RpcAnswer, TransportError>> + Send;

    /// Enables notifications on the Streaming characteristic: the POD starts sending queued
    /// and triggered reports.
    fn open_streaming(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// The next whole report (framed per the report formats' headers), within `timeout`.
    fn next_report(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// The report bytes received on this link so far, whole reports and the one still
    /// arriving: how a watcher sees a long report come in before it is whole.
    fn report_bytes(&self) -> u64;

    /// Whether the POD offers the high-speed script channel (the High Speed characteristic,
    /// `0x2006`), so [`Connection::send_script`] can be used; without it a script goes as
    /// remote bridge RPC `0x2101` chunks.
    fn has_script_channel(&self) -> bool;

    /// Writes a whole update script (`.trub` bytes) over the high-speed channel, in order, in
    /// writes of at most 20 bytes. The POD keeps them only between remote bridge RPCs
    /// `0x2100` and `0x2102`; [`TransportError::Unsupported`] without the channel.
    fn send_script(
        &mut self,
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Closes the link and waits until the radio confirms it.
    fn disconnect(self) -> impl Future<Output = Result<(), TransportError>> + Send;
}
