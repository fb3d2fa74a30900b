//! One link through the BLED112: TileBus discovery by attribute handles, and the GATT
//! operations [`TileBus`] runs RPCs, streaming and scripts over.
//!
//! Every wait reads the link's own event queue. Notifications met while waiting for
//! something else (a CCCD write's acknowledgement, a disconnect) are kept for
//! [`GattLink::next_notification`], so no report bytes are lost to a GATT procedure.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use sync_protocol::bgapi::{attribute_value_type, codes, Command, Event};
use sync_protocol::ble::{
    u128_to_uuid16, CharacteristicDeclaration, CCCD_NOTIFY, TILEBUS_SERVICE_UUID_LE,
};
use tokio::time::Instant;

use super::{Driver, EventQueue};
use crate::transport::gatt_link::{Characteristic, FullRetry, GattLink, Notification, Written};
use crate::transport::{TileBus, TransportError};

/// The dongle confirms a disconnect within 3 s.
pub(super) const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Service discovery and attribute listing: the dongle's deadlines are 0.5 s and 1 s.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);
/// A read answers within 5 s, an acknowledged write within 1 s.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

const DECLARATION: [u8; 2] = [0x03, 0x28];
const CCCD: [u8; 2] = [0x02, 0x29];

/// A connection to a POD through a BLED112.
pub type Bled112Connection = TileBus<Bled112Link>;

/// Where one TileBus characteristic sits in the POD's attribute table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Handles {
    value: u16,
    /// 0 when the characteristic has no CCCD.
    cccd: u16,
}

/// One GATT link to a POD through a BLED112.
pub struct Bled112Link {
    driver: Arc<Driver>,
    handle: u8,
    /// `None` once the link is closed and the slot handed back.
    events: Option<EventQueue>,
    table: BTreeMap<Characteristic, Handles>,
    /// Notifications that arrived while a GATT procedure waited for its own event.
    notifications: VecDeque<Notification>,
    lost: bool,
}

impl Bled112Link {
    /// Discovers the TileBus table on a link that just came up and opens the RPC interface.
    /// On failure the link is closed.
    pub(super) async fn start(
        driver: Arc<Driver>,
        handle: u8,
        events: EventQueue,
    ) -> Result<Bled112Connection, TransportError> {
        let mut link = Bled112Link {
            driver,
            handle,
            events: Some(events),
            table: BTreeMap::new(),
            notifications: VecDeque::new(),
            lost: false,
        };
        match link.discover().await {
            Ok(table) => link.table = table,
            Err(error) => {
                let _ = link.close().await;
                return Err(error);
            }
        }
        TileBus::open(link).await
    }

    /// The next event of this link; `None` once `deadline` passes.
    async fn next_event(&mut self, deadline: Instant) -> Result<Option<Event>, TransportError> {
        if self.lost {
            return Err(TransportError::Disconnected);
        }
        let queue = self.events.as_mut().ok_or(TransportError::Disconnected)?;
        match tokio::time::timeout_at(deadline, queue.recv()).await {
            Ok(Some(Event::ConnectionDisconnected { .. })) => {
                self.lost = true;
                Err(TransportError::Disconnected)
            }
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => Err(TransportError::Radio("the dongle went away".into())),
            Err(_) => Ok(None),
        }
    }

    /// The event as a notification of a TileBus characteristic, if it is one.
    fn notification(&self, event: &Event) -> Option<Notification> {
        let Event::AttributeValue {
            handle,
            kind: attribute_value_type::NOTIFY,
            value,
            ..
        } = event
        else {
            return None;
        };
        let (characteristic, _) = self
            .table
            .iter()
            .find(|(_, h)| h.value == *handle && *handle != 0)?;
        Some(Notification {
            characteristic: *characteristic,
            value: value.clone(),
        })
    }

    /// Skips events until `wanted` picks one; notifications are kept for later.
    async fn wait<T>(
        &mut self,
        within: Duration,
        what: &'static str,
        mut wanted: impl FnMut(&Event) -> Option<T> + Send,
    ) -> Result<T, TransportError> {
        let deadline = Instant::now() + within;
        loop {
            let Some(event) = self.next_event(deadline).await? else {
                return Err(TransportError::Timeout(within, what));
            };
            if let Some(found) = wanted(&event) {
                return Ok(found);
            }
            if let Some(notification) = self.notification(&event) {
                self.notifications.push_back(notification);
            }
        }
    }

    /// One 4/x command whose response carries a result; `NOT_CONNECTED` means the link is
    /// gone.
    async fn try_command(&mut self, command: Command) -> Result<Written, TransportError> {
        if self.lost {
            return Err(TransportError::Disconnected);
        }
        let response = self.driver.call(command.clone()).await?;
        match response.result() {
            Some(codes::SUCCESS) => Ok(Written::Sent),
            Some(codes::OUT_OF_MEMORY) => Ok(Written::BuffersFull),
            Some(codes::NOT_CONNECTED) => {
                self.lost = true;
                Err(TransportError::Disconnected)
            }
            other => Err(TransportError::Protocol(format!(
                "{command:?} failed: {}",
                other.map_or("no result", codes::result_text)
            ))),
        }
    }

    /// A 4/x command, sent again while the dongle's buffers are full.
    async fn command(&mut self, command: Command) -> Result<(), TransportError> {
        let mut retry = FullRetry::new();
        loop {
            match self.try_command(command.clone()).await? {
                Written::Sent => return Ok(()),
                Written::BuffersFull => retry.wait().await?,
            }
        }
    }

    async fn discover(&mut self) -> Result<BTreeMap<Characteristic, Handles>, TransportError> {
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

        let mut table = BTreeMap::new();
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
            let found = u128_to_uuid16(declaration.uuid).and_then(Characteristic::from_uuid16);
            if let Some(characteristic) = found {
                let value = declaration.value_handle;
                table.insert(characteristic, Handles { value, cccd });
            }
        }
        // What the RPC and streaming interfaces need; High Speed and the rest are optional.
        let needed = [
            (Characteristic::ReceiveHeader, true),
            (Characteristic::ReceivePayload, true),
            (Characteristic::SendHeader, false),
            (Characteristic::SendPayload, false),
            (Characteristic::Streaming, true),
        ];
        for (characteristic, notifies) in needed {
            let usable = table
                .get(&characteristic)
                .is_some_and(|h| h.value != 0 && (!notifies || h.cccd != 0));
            if !usable {
                return Err(TransportError::NotIotile(format!(
                    "no usable {} characteristic",
                    characteristic.name()
                )));
            }
        }
        Ok(table)
    }

    fn value_handle(&self, characteristic: Characteristic) -> Result<u16, TransportError> {
        match self.table.get(&characteristic) {
            Some(h) if h.value != 0 => Ok(h.value),
            _ => Err(TransportError::Unsupported(characteristic.name())),
        }
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

impl GattLink for Bled112Link {
    fn offers(&self, characteristic: Characteristic) -> bool {
        self.table
            .get(&characteristic)
            .is_some_and(|h| h.value != 0)
    }

    async fn try_write(
        &mut self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> Result<Written, TransportError> {
        let handle = self.value_handle(characteristic)?;
        let connection = self.handle;
        self.try_command(Command::WriteCommand {
            connection,
            handle,
            value: value.to_vec(),
        })
        .await
    }

    async fn enable_notifications(
        &mut self,
        characteristic: Characteristic,
    ) -> Result<(), TransportError> {
        let cccd = self.table.get(&characteristic).map_or(0, |h| h.cccd);
        if cccd == 0 {
            return Err(TransportError::Unsupported(characteristic.name()));
        }
        let connection = self.handle;
        self.command(Command::AttributeWrite {
            connection,
            handle: cccd,
            value: CCCD_NOTIFY.to_vec(),
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

    async fn next_notification(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Notification>, TransportError> {
        // Bytes that arrived before a disconnect still count.
        if let Some(notification) = self.notifications.pop_front() {
            return Ok(Some(notification));
        }
        loop {
            let Some(event) = self.next_event(deadline).await? else {
                return Ok(None);
            };
            if let Some(notification) = self.notification(&event) {
                return Ok(Some(notification));
            }
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

impl Drop for Bled112Link {
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

impl std::fmt::Debug for Bled112Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bled112Link")
            .field("handle", &self.handle)
            .field("table", &self.table)
            .field("lost", &self.lost)
            .finish()
    }
}
