//! One connection through the BLED112: TileBus discovery, RPCs, streaming.
//!
//! Every wait reads the connection's own event queue; report chunks met while waiting for
//! something else go into the reassembler, so an RPC sent mid-stream loses no report bytes.

use std::sync::Arc;
use std::time::Duration;

use sync_protocol::bgapi::{attribute_value_type, codes, Command, Event};
use sync_protocol::ble::{u128_to_uuid16, CharacteristicDeclaration, TILEBUS_SERVICE_UUID_LE};
use sync_protocol::rpc::{RpcRequest, RpcResponse};
use tokio::time::Instant;

use super::{Driver, EventQueue};
use crate::transport::{Connection, Reassembler, RpcAnswer, TransportError};

/// The dongle confirms a disconnect within 3 s.
pub(super) const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Service discovery and attribute listing: the dongle's deadlines are 0.5 s and 1 s.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);
/// A read answers within 5 s, an acknowledged write within 1 s.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Buffers full (0x0182): wait and send the same write again, this many times.
const BACKOFF: Duration = Duration::from_millis(50);
const WRITE_RETRIES: usize = 40;

const DECLARATION: [u8; 2] = [0x03, 0x28];
const CCCD: [u8; 2] = [0x02, 0x29];

/// Value and CCCD handles of the TileBus characteristics, as discovered.
#[derive(Debug, Default, Clone, Copy)]
struct Handles {
    receive_header: u16,
    receive_payload: u16,
    send_header: u16,
    send_payload: u16,
    streaming: u16,
    receive_header_cccd: u16,
    receive_payload_cccd: u16,
    streaming_cccd: u16,
}

/// A connection to a POD through a BLED112.
pub struct Bled112Connection {
    driver: Arc<Driver>,
    handle: u8,
    /// `None` once the link is closed and the slot handed back.
    events: Option<EventQueue>,
    handles: Handles,
    reports: Reassembler,
    lost: bool,
}

impl Bled112Connection {
    /// Discovers the TileBus table and opens the RPC interface on a link that just came up.
    pub(super) async fn start(
        driver: Arc<Driver>,
        handle: u8,
        events: EventQueue,
    ) -> Result<Self, TransportError> {
        let mut connection = Bled112Connection {
            driver,
            handle,
            events: Some(events),
            handles: Handles::default(),
            reports: Reassembler::new(),
            lost: false,
        };
        let opened = async {
            connection.handles = connection.discover().await?;
            let h = connection.handles;
            connection.enable_notify(h.receive_header_cccd).await?;
            connection.enable_notify(h.receive_payload_cccd).await
        }
        .await;
        match opened {
            Ok(()) => Ok(connection),
            Err(error) => {
                let _ = connection.close().await;
                Err(error)
            }
        }
    }

    /// The next event of this link; `None` when it was a report chunk, now in the reassembler.
    async fn next_event(
        &mut self,
        deadline: Instant,
        within: Duration,
        what: &'static str,
    ) -> Result<Option<Event>, TransportError> {
        {
            if self.lost {
                return Err(TransportError::Disconnected);
            }
            let queue = self.events.as_mut().ok_or(TransportError::Disconnected)?;
            let event = match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => return Err(TransportError::Radio("the dongle went away".into())),
                Err(_) => return Err(TransportError::Timeout(within, what)),
            };
            match event {
                Event::ConnectionDisconnected { .. } => {
                    // Bytes of an unfinished report are dropped with the link.
                    self.lost = true;
                    Err(TransportError::Disconnected)
                }
                Event::AttributeValue {
                    handle,
                    kind: attribute_value_type::NOTIFY,
                    value,
                    ..
                } if handle == self.handles.streaming && handle != 0 => {
                    self.reports.push(&value);
                    Ok(None)
                }
                other => Ok(Some(other)),
            }
        }
    }

    /// Skips events until `wanted` picks one.
    async fn wait<T>(
        &mut self,
        within: Duration,
        what: &'static str,
        mut wanted: impl FnMut(&Event) -> Option<T> + Send,
    ) -> Result<T, TransportError> {
        let deadline = Instant::now() + within;
        loop {
            let event = self.next_event(deadline, within, what).await?;
            if let Some(found) = event.as_ref().and_then(&mut wanted) {
                return Ok(found);
            }
        }
    }

    /// A 4/x command whose response carries a result; `NOT_CONNECTED` means the link is gone.
    async fn command(&mut self, command: Command) -> Result<(), TransportError> {
        for _ in 0..WRITE_RETRIES {
            if self.lost {
                return Err(TransportError::Disconnected);
            }
            let response = self.driver.call(command.clone()).await?;
            match response.result() {
                Some(codes::SUCCESS) => return Ok(()),
                Some(codes::OUT_OF_MEMORY) => tokio::time::sleep(BACKOFF).await,
                Some(codes::NOT_CONNECTED) => {
                    self.lost = true;
                    return Err(TransportError::Disconnected);
                }
                other => {
                    return Err(TransportError::Protocol(format!(
                        "{command:?} failed: {}",
                        other.map_or("no result", codes::result_text)
                    )))
                }
            }
        }
        Err(TransportError::Timeout(
            BACKOFF * WRITE_RETRIES as u32,
            "the dongle's buffers to drain",
        ))
    }

    async fn discover(&mut self) -> Result<Handles, TransportError> {
        let connection = self.handle;
        self.command(Command::read_primary_services(connection))
            .await?;
        let mut tilebus = None;
        loop {
            let found = self
                .wait(DISCOVERY_TIMEOUT, "the primary services", |e| match e {
                    Event::GroupFound {
                        start, end, uuid, ..
                    } => Some(Ok((*start, *end, uuid.clone()))),
                    Event::ProcedureCompleted { result, .. } => Some(Err(*result)),
                    _ => None,
                })
                .await?;
            match found {
                Ok((start, end, uuid)) if uuid == TILEBUS_SERVICE_UUID_LE => {
                    tilebus = Some((start, end))
                }
                Ok(_) => {}
                Err(result) => {
                    discovery_ended(result, "service discovery")?;
                    break;
                }
            }
        }
        let (start, end) =
            tilebus.ok_or_else(|| TransportError::NotIotile("no TileBus service".into()))?;

        self.command(Command::FindInformation {
            connection,
            start,
            end,
        })
        .await?;
        let mut attributes = Vec::new();
        loop {
            let found = self
                .wait(DISCOVERY_TIMEOUT, "the TileBus attributes", |e| match e {
                    Event::FindInformationFound { handle, uuid, .. } => {
                        Some(Ok((*handle, uuid.clone())))
                    }
                    Event::ProcedureCompleted { result, .. } => Some(Err(*result)),
                    _ => None,
                })
                .await?;
            match found {
                Ok(attribute) => attributes.push(attribute),
                Err(result) => {
                    discovery_ended(result, "attribute discovery")?;
                    break;
                }
            }
        }

        let mut handles = Handles::default();
        for (handle, _) in attributes.iter().filter(|(_, uuid)| *uuid == DECLARATION) {
            let handle = *handle;
            self.command(Command::ReadByHandle { connection, handle })
                .await?;
            let value = self
                .wait(READ_TIMEOUT, "a characteristic declaration", |e| match e {
                    Event::AttributeValue {
                        handle: h, value, ..
                    } if *h == handle => Some(Ok(value.clone())),
                    Event::ProcedureCompleted { result, .. } if *result != codes::SUCCESS => {
                        Some(Err(*result))
                    }
                    _ => None,
                })
                .await?
                .map_err(|code| {
                    TransportError::Protocol(format!(
                        "reading a declaration: {}",
                        codes::result_text(code)
                    ))
                })?;
            let declaration = CharacteristicDeclaration::decode(&value)
                .map_err(|e| TransportError::Protocol(e.to_string()))?;
            // The CCCD is the first 0x2902 after the value, before the next declaration.
            let cccd = attributes
                .iter()
                .skip_while(|(h, _)| *h <= declaration.value_handle)
                .take_while(|(_, uuid)| *uuid != DECLARATION)
                .find(|(_, uuid)| *uuid == CCCD)
                .map_or(0, |(h, _)| *h);
            let value_handle = declaration.value_handle;
            match u128_to_uuid16(declaration.uuid) {
                Some(0x2001) => {
                    (handles.receive_header, handles.receive_header_cccd) = (value_handle, cccd)
                }
                Some(0x2002) => {
                    (handles.receive_payload, handles.receive_payload_cccd) = (value_handle, cccd)
                }
                Some(0x2003) => handles.send_header = value_handle,
                Some(0x2004) => handles.send_payload = value_handle,
                Some(0x2005) => (handles.streaming, handles.streaming_cccd) = (value_handle, cccd),
                _ => {}
            }
        }
        let missing = [
            (handles.receive_header_cccd, "Receive Header"),
            (handles.receive_payload_cccd, "Receive Payload"),
            (handles.send_header, "Send Header"),
            (handles.send_payload, "Send Payload"),
            (handles.streaming_cccd, "Streaming"),
        ];
        if let Some((_, name)) = missing.iter().find(|(h, _)| *h == 0) {
            return Err(TransportError::NotIotile(format!(
                "no usable {name} characteristic"
            )));
        }
        Ok(handles)
    }

    /// Writes `01 00` to a CCCD and waits for the POD's acknowledgement.
    async fn enable_notify(&mut self, cccd: u16) -> Result<(), TransportError> {
        let connection = self.handle;
        self.command(Command::AttributeWrite {
            connection,
            handle: cccd,
            value: vec![1, 0],
        })
        .await?;
        let result = self
            .wait(
                WRITE_TIMEOUT,
                "a CCCD write's acknowledgement",
                |e| match e {
                    Event::ProcedureCompleted { handle, result, .. } if *handle == cccd => {
                        Some(*result)
                    }
                    _ => None,
                },
            )
            .await?;
        if result == codes::SUCCESS {
            Ok(())
        } else {
            Err(TransportError::Protocol(format!(
                "enabling notifications: {}",
                codes::result_text(result)
            )))
        }
    }

    /// Disconnects (unless the link is already gone) and hands the slot back.
    async fn close(&mut self) -> Result<(), TransportError> {
        let mut outcome = Ok(());
        if !self.lost {
            let connection = self.handle;
            outcome = match self
                .driver
                .call(Command::ConnectionDisconnect { connection })
                .await
            {
                Ok(_) => self
                    .wait(DISCONNECT_TIMEOUT, "the disconnect", |_| None::<()>)
                    .await
                    .or_else(|e| match e {
                        TransportError::Disconnected => Ok(()),
                        other => Err(other),
                    }),
                Err(error) => Err(error),
            };
        }
        self.lost = true;
        if let Some(queue) = self.events.take() {
            self.driver.put_queue(usize::from(self.handle), queue);
        }
        self.driver.resume_scan().await;
        outcome
    }
}

/// The end of a discovery (the 4/1 after 4/1 or 4/3). A BLED112 reports 0; "attribute not
/// found" (`0x040A`) is how the POD ends it on the air, so a dongle that passes that on
/// means the same. Any other result cut the discovery short, and what was found is not
/// the whole table.
fn discovery_ended(result: u16, what: &str) -> Result<(), TransportError> {
    match result {
        codes::SUCCESS | codes::ATT_ATTRIBUTE_NOT_FOUND => Ok(()),
        other => Err(TransportError::Protocol(format!(
            "{what} failed: {}",
            codes::result_text(other)
        ))),
    }
}

impl Connection for Bled112Connection {
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
        let connection = self.handle;
        let h = self.handles;
        if !payload.is_empty() {
            let value = call.padded_payload().to_vec();
            self.command(Command::WriteCommand {
                connection,
                handle: h.send_payload,
                value,
            })
            .await?;
        }
        let value = call.header().to_vec();
        self.command(Command::WriteCommand {
            connection,
            handle: h.send_header,
            value,
        })
        .await?;
        let notified = |wanted: u16| {
            move |e: &Event| match e {
                Event::AttributeValue {
                    handle,
                    kind: attribute_value_type::NOTIFY,
                    value,
                    ..
                } if *handle == wanted => Some(value.clone()),
                _ => None,
            }
        };
        let within = deadline.saturating_duration_since(Instant::now());
        let header = self
            .wait(within, "the RPC answer", notified(h.receive_header))
            .await?;
        let header: [u8; RpcResponse::HEADER_LEN] = header.as_slice().try_into().map_err(|_| {
            TransportError::Protocol(format!("an RPC answer header of {} bytes", header.len()))
        })?;
        let body = if RpcResponse::expects_payload(&header) {
            let within = deadline.saturating_duration_since(Instant::now());
            self.wait(
                within,
                "the RPC answer's payload",
                notified(h.receive_payload),
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
        let cccd = self.handles.streaming_cccd;
        self.enable_notify(cccd).await
    }

    async fn next_report(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(report) = self.reports.pop()? {
                return Ok(report);
            }
            // Anything else that arrives now (stray RPC answers) is of no use.
            self.next_event(deadline, timeout, "a report").await?;
        }
    }

    async fn disconnect(mut self) -> Result<(), TransportError> {
        self.close().await
    }
}

impl Drop for Bled112Connection {
    fn drop(&mut self) {
        let Some(queue) = self.events.take() else {
            return;
        };
        let (driver, handle, lost) = (self.driver.clone(), self.handle, self.lost);
        let release = async move {
            let mut queue = queue;
            if !lost {
                let connection = handle;
                if driver
                    .call(Command::ConnectionDisconnect { connection })
                    .await
                    .is_ok()
                {
                    let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
                        while let Some(event) = queue.recv().await {
                            if matches!(event, Event::ConnectionDisconnected { .. }) {
                                break;
                            }
                        }
                    })
                    .await;
                }
            }
            driver.put_queue(usize::from(handle), queue);
        };
        // Dropped without disconnect(): close the link in the background so the slot frees.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(release);
        }
    }
}

impl std::fmt::Debug for Bled112Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bled112Connection")
            .field("handle", &self.handle)
            .field("handles", &self.handles)
            .field("lost", &self.lost)
            .finish()
    }
}
