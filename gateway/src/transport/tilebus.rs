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

    fn report_bytes(&self) -> u64 {
        self.reports.received()
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::transport::gatt_link::Written;

    /// A POD in memory: what the host wrote, and what the POD says back.
    #[derive(Default)]
    struct FakeLink {
        high_speed: bool,
        written: Vec<(Characteristic, Vec<u8>)>,
        /// How many writes are refused with "buffers full" first.
        full: usize,
        /// `None` is the POD dropping the link.
        incoming: VecDeque<Option<Notification>>,
        /// What the POD says once the Send Header is written (it runs the RPC).
        on_header: Vec<Option<Notification>>,
        notifying: Vec<Characteristic>,
        lost: bool,
    }

    fn notify(characteristic: Characteristic, value: &[u8]) -> Option<Notification> {
        Some(Notification {
            characteristic,
            value: value.to_vec(),
        })
    }

    impl GattLink for FakeLink {
        fn offers(&self, characteristic: Characteristic) -> bool {
            characteristic != Characteristic::HighSpeed || self.high_speed
        }

        async fn try_write(
            &mut self,
            characteristic: Characteristic,
            value: &[u8],
        ) -> Result<Written, TransportError> {
            if self.lost {
                return Err(TransportError::Disconnected);
            }
            if self.full > 0 {
                self.full -= 1;
                return Ok(Written::BuffersFull);
            }
            self.written.push((characteristic, value.to_vec()));
            if characteristic == Characteristic::SendHeader {
                self.incoming.extend(std::mem::take(&mut self.on_header));
            }
            Ok(Written::Sent)
        }

        async fn enable_notifications(
            &mut self,
            characteristic: Characteristic,
        ) -> Result<(), TransportError> {
            self.notifying.push(characteristic);
            Ok(())
        }

        async fn next_notification(
            &mut self,
            deadline: Instant,
        ) -> Result<Option<Notification>, TransportError> {
            if self.lost {
                return Err(TransportError::Disconnected);
            }
            match self.incoming.pop_front() {
                Some(Some(notification)) => Ok(Some(notification)),
                Some(None) => {
                    self.lost = true;
                    Err(TransportError::Disconnected)
                }
                None => {
                    tokio::time::sleep_until(deadline).await;
                    Ok(None)
                }
            }
        }

        async fn close(&mut self) -> Result<(), TransportError> {
            self.lost = true;
            Ok(())
        }
    }

    const SHORT: Duration = Duration::from_millis(50);

    async fn open(link: FakeLink) -> TileBus<FakeLink> {
        TileBus::open(link).await.expect("opens")
    }

    #[tokio::test]
    async fn opening_enables_the_rpc_notifications_in_order() {
        let bus = open(FakeLink::default()).await;
        assert_eq!(
            bus.link().notifying,
            [
                Characteristic::ReceiveHeader,
                Characteristic::ReceivePayload
            ]
        );
    }

    #[tokio::test]
    async fn report_chunks_around_an_rpc_answer_go_to_the_reassembler() {
        // A 20-byte individual report split in two, arriving around the answer.
        let report = [0u8; 20];
        let link = FakeLink {
            on_header: vec![
                notify(Characteristic::Streaming, &report[..7]),
                notify(Characteristic::ReceiveHeader, &[0xC0, 0, 0, 4]),
                notify(Characteristic::Streaming, &report[7..]),
                notify(Characteristic::ReceivePayload, &[9, 0, 0, 0]),
            ],
            ..FakeLink::default()
        };
        let mut bus = open(link).await;
        let answer = bus
            .rpc(8, 0x2000, &[1, 2, 3], SHORT)
            .await
            .expect("answered");
        assert_eq!(answer, RpcAnswer::Ok(vec![9, 0, 0, 0]));
        let call = RpcRequest::new(8, 0x2000, vec![1, 2, 3]).expect("an RPC");
        assert_eq!(
            bus.link().written,
            [
                (Characteristic::SendPayload, call.padded_payload().to_vec()),
                (Characteristic::SendHeader, call.header().to_vec()),
            ]
        );
        assert_eq!(bus.next_report(SHORT).await.expect("a report"), report);
    }

    #[tokio::test]
    async fn a_disconnect_instead_of_an_answer_is_disconnected_and_stays_so() {
        let link = FakeLink {
            on_header: vec![None],
            ..FakeLink::default()
        };
        let mut bus = open(link).await;
        let reset = bus.rpc(8, 0x0001, &[], SHORT).await;
        assert!(
            matches!(reset, Err(TransportError::Disconnected)),
            "{reset:?}"
        );
        let after = bus.rpc(8, 0x1008, &[], SHORT).await;
        assert!(
            matches!(after, Err(TransportError::Disconnected)),
            "{after:?}"
        );
        bus.disconnect().await.expect("closing a lost link is fine");
    }

    #[tokio::test]
    async fn an_rpc_unanswered_in_time_times_out() {
        let mut bus = open(FakeLink::default()).await;
        let silent = bus.rpc(8, 0x1008, &[], SHORT).await;
        assert!(
            matches!(silent, Err(TransportError::Timeout(t, _)) if t == SHORT),
            "{silent:?}"
        );
    }

    #[tokio::test]
    async fn a_script_goes_in_order_in_writes_of_at_most_20_bytes_resent_when_full() {
        let script: Vec<u8> = (0..=255).collect();
        let link = FakeLink {
            high_speed: true,
            full: 3,
            ..FakeLink::default()
        };
        let mut bus = open(link).await;
        assert!(bus.has_script_channel());
        bus.send_script(&script).await.expect("sent");
        let written = &bus.link().written;
        assert_eq!(written.len(), script.len().div_ceil(MAX_WRITE));
        assert!(written
            .iter()
            .all(|(c, v)| *c == Characteristic::HighSpeed && v.len() <= MAX_WRITE));
        let sent: Vec<u8> = written.iter().flat_map(|(_, v)| v.clone()).collect();
        assert_eq!(sent, script);
    }

    #[tokio::test]
    async fn a_radio_that_never_drains_fails_the_write() {
        let link = FakeLink {
            high_speed: true,
            full: usize::MAX,
            ..FakeLink::default()
        };
        let mut bus = open(link).await;
        let stuck = bus.send_script(&[1, 2, 3]).await;
        assert!(
            matches!(stuck, Err(TransportError::Timeout(..))),
            "{stuck:?}"
        );
    }

    #[tokio::test]
    async fn without_the_high_speed_characteristic_a_script_is_refused() {
        let mut bus = open(FakeLink::default()).await;
        assert!(!bus.has_script_channel());
        let refused = bus.send_script(&[1, 2, 3]).await;
        assert!(
            matches!(refused, Err(TransportError::Unsupported("High Speed"))),
            "{refused:?}"
        );
        assert!(bus.link().written.is_empty());
    }
}
