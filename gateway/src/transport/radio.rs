//! Either radio, chosen at run time: a program that finds out what the machine has (the
//! desktop app on a laptop with a BLED112 dongle, or with only its own Bluetooth) holds one
//! [`Radio`] instead of being generic over the transport.

use std::path::Path;
use std::time::Duration;

use sync_protocol::bgapi::BdAddr;
use tokio::sync::mpsc;

use super::bled112::{Bled112, Bled112Connection};
use super::bluez::{Bluez, BluezConnection};
use super::{Connection, RpcAnswer, Seen, Transport, TransportError};

/// A BLED112 dongle or the host's BlueZ.
pub enum Radio {
    Bled112(Bled112),
    Bluez(Bluez),
}

impl Radio {
    /// The BLED112 dongle on the serial port at `path`.
    pub async fn bled112(path: &Path) -> Result<Radio, TransportError> {
        Bled112::open(path).await.map(Radio::Bled112)
    }

    /// The first BlueZ adapter on the system bus, with up to `max_connections` links.
    pub async fn bluez(max_connections: usize) -> Result<Radio, TransportError> {
        Bluez::open(max_connections).await.map(Radio::Bluez)
    }

    /// Which radio this is, for people: `BLED112` or `Bluetooth`.
    pub fn kind(&self) -> &'static str {
        match self {
            Radio::Bled112(_) => "BLED112",
            Radio::Bluez(_) => "Bluetooth",
        }
    }
}

/// A link through either radio.
pub enum RadioConnection {
    Bled112(Bled112Connection),
    Bluez(BluezConnection),
}

impl Transport for Radio {
    type Connection = RadioConnection;

    fn max_connections(&self) -> usize {
        match self {
            Radio::Bled112(t) => t.max_connections(),
            Radio::Bluez(t) => t.max_connections(),
        }
    }

    async fn scan(&self) -> Result<mpsc::Receiver<Seen>, TransportError> {
        match self {
            Radio::Bled112(t) => t.scan().await,
            Radio::Bluez(t) => t.scan().await,
        }
    }

    async fn connect(&self, address: BdAddr) -> Result<RadioConnection, TransportError> {
        match self {
            Radio::Bled112(t) => t.connect(address).await.map(RadioConnection::Bled112),
            Radio::Bluez(t) => t.connect(address).await.map(RadioConnection::Bluez),
        }
    }
}

/// Calls the same method on whichever link this is.
macro_rules! either {
    ($self:expr, $link:ident => $call:expr) => {
        match $self {
            RadioConnection::Bled112($link) => $call,
            RadioConnection::Bluez($link) => $call,
        }
    };
}

impl Connection for RadioConnection {
    async fn rpc(
        &mut self,
        address: u8,
        rpc_id: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<RpcAnswer, TransportError> {
        either!(self, c => c.rpc(address, rpc_id, payload, timeout).await)
    }

    async fn open_streaming(&mut self) -> Result<(), TransportError> {
        either!(self, c => c.open_streaming().await)
    }

    async fn next_report(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        either!(self, c => c.next_report(timeout).await)
    }

    fn report_bytes(&self) -> u64 {
        either!(self, c => c.report_bytes())
    }

    fn has_script_channel(&self) -> bool {
        either!(self, c => c.has_script_channel())
    }

    async fn send_script(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        either!(self, c => c.send_script(bytes).await)
    }

    async fn disconnect(self) -> Result<(), TransportError> {
        either!(self, c => c.disconnect().await)
    }
}
