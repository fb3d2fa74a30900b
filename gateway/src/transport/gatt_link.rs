//! The few GATT operations TileBus needs from a radio, so the RPC exchange, report
//! reassembly and script upload ([`super::tilebus`]) exist once for every radio.
//!
//! A link is one connection to one POD. It knows how to find the TileBus characteristics
//! on it (handles on a BLED112, D-Bus objects on BlueZ) and nothing of what the bytes mean.
//! Once the POD drops the link, every operation fails with
//! [`TransportError::Disconnected`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use sync_protocol::ble::Characteristic;

use super::TransportError;

/// After "buffers full" (BGAPI `0x0182`, BlueZ "Rejected"), wait this long and send the same
/// value again (device-protocols §5.6: 20–100 ms)...
pub const FULL_BACKOFF: Duration = Duration::from_millis(50);
/// ...this many times before giving up (2 s in all).
pub const FULL_RETRIES: u32 = 40;

/// What one write-without-response attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The radio took the value.
    Sent,
    /// The radio's buffers are full: nothing was sent, the same value may be sent again.
    BuffersFull,
}

/// A notification from the POD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub characteristic: Characteristic,
    pub value: Vec<u8>,
}

/// One open GATT link to a POD's TileBus service.
///
/// Dropping a link that is still up closes it in the background and frees its connection
/// slot when the radio confirms.
pub trait GattLink: Send {
    /// Whether the POD's TileBus service has this characteristic (discovered at connect).
    fn offers(&self, characteristic: Characteristic) -> bool;

    /// One write-without-response of `value` (at most 20 bytes) to `characteristic`.
    fn try_write(
        &mut self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> impl Future<Output = Result<Written, TransportError>> + Send;

    /// Writes without response, resending while the radio's buffers are full.
    fn write(
        &mut self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        async move {
            let mut retry = FullRetry::new();
            loop {
                match self.try_write(characteristic, value).await? {
                    Written::Sent => return Ok(()),
                    Written::BuffersFull => retry.wait().await?,
                }
            }
        }
    }

    /// Enables notifications on `characteristic` and waits for the POD to acknowledge it.
    fn enable_notifications(
        &mut self,
        characteristic: Characteristic,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// The next notification, in the order the POD sent them; `None` once `deadline`
    /// passes. The POD dropping the link is [`TransportError::Disconnected`], and the link
    /// stays lost.
    fn next_notification(
        &mut self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<Notification>, TransportError>> + Send;

    /// Disconnects (unless the link is already lost), waits for the radio to confirm and
    /// frees the connection slot. Closing twice is fine.
    fn close(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;
}

/// Counts the waits after "buffers full" for one value.
#[derive(Debug)]
pub struct FullRetry {
    left: u32,
}

impl FullRetry {
    pub fn new() -> Self {
        FullRetry { left: FULL_RETRIES }
    }

    /// Waits before the next attempt; a timeout once the retries are spent (the radio is
    /// not draining: something is wrong with it or the link).
    pub async fn wait(&mut self) -> Result<(), TransportError> {
        if self.left == 0 {
            return Err(TransportError::Timeout(
                FULL_BACKOFF * FULL_RETRIES,
                "the radio's buffers to drain",
            ));
        }
        self.left -= 1;
        tokio::time::sleep(FULL_BACKOFF).await;
        Ok(())
    }
}

impl Default for FullRetry {
    fn default() -> Self {
        Self::new()
    }
}
