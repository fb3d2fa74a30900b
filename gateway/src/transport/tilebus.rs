//! TileBus over any [`GattLink`]: the RPC exchange (device-protocols §5.5), report
//! streaming (§5.6) and the high-speed script channel (§5.7), written once for every radio.
//!
//! Every wait reads the link's notifications in order. Report chunks that arrive while an
//! RPC answer is awaited go to the reassembler, so an RPC sent mid-stream loses no report
//! bytes; anything else that is not the awaited answer (a late answer to an RPC that timed
//! out) is of no use and dropped.

use std::time::Duration;

use sync_protocol::rpc::{RpcRequest, RpcResponse, MAX_PAYLOAD};
use tokio::time::Instant;

use super::gatt_link::{Characteristic, GattLink, Notification};
use super::{Connection, Reassembler, RpcAnswer, TransportError};

/// The most one write carries: the default ATT MTU (23) less the ATT header.
pub const MAX_WRITE: usize = 20;

/// An open TileBus connection over a GATT link: the [`Connection`] every radio hands out.
pub struct TileBus<L> {
    link: L,
    reports: Reassembler,
}

impl<L: GattLink> TileBus<L> {
    /// Opens the RPC interface (Receive Header, then Receive Payload notifications) on a
    /// link whose TileBus table was just discovered. On failure the link is closed.
    pub async fn open(mut link: L) -> Result<Self, TransportError> {
        let opened = async {
            link.enable_notifications(Characteristic::ReceiveHeader)
                .await?;
            link.enable_notifications(Characteristic::ReceivePayload)
                .await
        }
        .await;
        match opened {
            Ok(()) => Ok(TileBus {
                link,
                reports: Reassembler::new(),
            }),
            Err(error) => {
                let _ = link.close().await;
                Err(error)
            }
        }
    }

    /// The link underneath.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The next notification; a report chunk goes to the reassembler instead (`None`). A
    /// timeout naming `what` once `deadline` passes.
    async fn next_notification(
        &mut self,
        deadline: Instant,
        within: Duration,
        what: &'static str,
    ) -> Result<Option<Notification>, TransportError> {
        let Some(notification) = self.link.next_notification(deadline).await? else {
            return Err(TransportError::Timeout(within, what));
        };
        if notification.characteristic == Characteristic::Streaming {
            self.reports.push(&notification.value);
            return Ok(None);
        }
        Ok(Some(notification))
    }

    /// The value of the next notification on `characteristic`.
    async fn wait_for(
        &mut self,
        characteristic: Characteristic,
        deadline: Instant,
        within: Duration,
        what: &'static str,
    ) -> Result<Vec<u8>, TransportError> {
        loop {
            let next = self.next_notification(deadline, within, what).await?;
            if let Some(n) = next.filter(|n| n.characteristic == characteristic) {
                return Ok(n.value);
            }
        }
    }
}

impl<L: GattLink> Connection for TileBus<L> {
    async fn rpc(
        &mut self,
        address: u8,
        rpc_id: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<RpcAnswer, TransportError> {
        let call = RpcRequest::new(address, rpc_id, payload.to_vec())
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        let deadline = Instant::now() + timeout;
        if !payload.is_empty() {
            self.link
                .write(Characteristic::SendPayload, &call.padded_payload())
                .await?;
        }
        // Writing the header is what runs the RPC.
        self.link
            .write(Characteristic::SendHeader, &call.header())
            .await?;
        let header = self
            .wait_for(
                Characteristic::ReceiveHeader,
                deadline,
                timeout,
                "the RPC answer",
            )
            .await?;
        let header: [u8; RpcResponse::HEADER_LEN] = header.as_slice().try_into().map_err(|_| {
            TransportError::Protocol(format!("an RPC answer header of {} bytes", header.len()))
        })?;
        let body = if RpcResponse::expects_payload(&header) {
            self.wait_for(
                Characteristic::ReceivePayload,
                deadline,
                timeout,
                "the RPC answer's payload",
            )
            .await?
        } else {
            Vec::new()
        };
        let answer = RpcResponse::from_header(&header, &body)
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        Ok(answer.outcome())
    }

    async fn open_streaming(&mut self) -> Result<(), TransportError> {
        self.link
            .enable_notifications(Characteristic::Streaming)
            .await
    }

    async fn next_report(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(report) = self.reports.pop()? {
                return Ok(report);
            }
            // Anything but report bytes that arrives now (a stray RPC answer) is of no use.
            self.next_notification(deadline, timeout, "a report")
                .await?;
        }
    }

    fn has_script_channel(&self) -> bool {
        self.link.offers(Characteristic::HighSpeed)
    }

    async fn send_script(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if !self.has_script_channel() {
            return Err(TransportError::Unsupported(
                Characteristic::HighSpeed.name(),
            ));
        }
        // The POD appends each write to its script buffer in the order they arrive.
        for chunk in bytes.chunks(MAX_WRITE) {
            self.link.write(Characteristic::HighSpeed, chunk).await?;
        }
        Ok(())
    }

    async fn disconnect(mut self) -> Result<(), TransportError> {
        self.link.close().await
    }
}

impl<L: std::fmt::Debug> std::fmt::Debug for TileBus<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileBus")
            .field("link", &self.link)
            .field("partial_report_bytes", &self.reports.partial_bytes())
            .finish()
    }
}

// The RPC payload limit and a write's limit are the same 20 bytes; a payload is written whole.
const _: () = assert!(MAX_PAYLOAD == MAX_WRITE);
