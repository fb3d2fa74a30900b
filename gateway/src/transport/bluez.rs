//! The host's Bluetooth controller through BlueZ, driven with btleplug.
//!
//! BlueZ parses advertisements itself and hands over only the pieces: service data for v2
//! (`0xFDDD`) and manufacturer data for v1 (`0x03C0`), merged across advertisement and scan
//! response under active scan. The advertisement is rebuilt from those pieces and decoded
//! like any other; a v1 POD whose scan response replaced its device id is skipped.
//!
//! A connection is a [`BluezLink`] (the TileBus characteristics BlueZ lists, their
//! notifications and the peripheral's disconnect) under the radio-agnostic [`TileBus`].

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use btleplug::api::{
    BDAddr, Central, CentralEvent, Manager as _, Peripheral as _, PeripheralProperties, ScanFilter,
    ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::{Stream, StreamExt};
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ble::{
    uuid16_to_u128, Advertisement, TILEBUS_SERVICE_UUID, TILEBUS_SERVICE_UUID_LE,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::gatt_link::{Characteristic, GattLink, Notification, Written};
use super::{Seen, TileBus, Transport, TransportError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const GATT_TIMEOUT: Duration = Duration::from_secs(5);
const SCAN_QUEUE: usize = 256;
const COMPANY_ID: u16 = 0x03C0;

type Events = Pin<Box<dyn Stream<Item = CentralEvent> + Send>>;
type Notifications = Pin<Box<dyn Stream<Item = ValueNotification> + Send>>;

/// A BlueZ adapter (the first one the system bus offers).
#[derive(Clone)]
pub struct Bluez {
    adapter: Adapter,
    max_connections: usize,
    open: Arc<AtomicUsize>,
}

impl Bluez {
    /// Finds the first adapter on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` if set).
    pub async fn open(max_connections: usize) -> Result<Bluez, TransportError> {
        let manager = Manager::new().await.map_err(radio)?;
        let adapter = manager
            .adapters()
            .await
            .map_err(radio)?
            .into_iter()
            .next()
            .ok_or_else(|| TransportError::Radio("BlueZ offers no adapter".into()))?;
        Ok(Bluez {
            adapter,
            max_connections: max_connections.max(1),
            open: Arc::new(AtomicUsize::new(0)),
        })
    }

    async fn find(&self, address: BdAddr) -> Result<Peripheral, TransportError> {
        let wanted = BDAddr::from(address.0);
        self.adapter
            .peripherals()
            .await
            .map_err(radio)?
            .into_iter()
            .find(|p| p.address() == wanted)
            .ok_or_else(|| TransportError::ConnectFailed(format!("{address} was not seen")))
    }
}

impl Transport for Bluez {
    type Connection = BluezConnection;

    fn max_connections(&self) -> usize {
        self.max_connections
    }

    async fn scan(&self) -> Result<mpsc::Receiver<Seen>, TransportError> {
        let mut events = self.adapter.events().await.map_err(radio)?;
        // A second scanner joins the discovery already running.
        if let Err(error) = self.adapter.start_scan(ScanFilter::default()).await {
            tracing::debug!(%error, "BlueZ: discovery already running");
        }
        let (tx, rx) = mpsc::channel(SCAN_QUEUE);
        let adapter = self.adapter.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = tx.closed() => break,
                    event = events.next() => event,
                };
                let Some(id) = event.as_ref().and_then(advertised) else {
                    if event.is_none() {
                        break;
                    }
                    continue;
                };
                let Ok(peripheral) = adapter.peripheral(id).await else {
                    continue;
                };
                let Ok(Some(properties)) = peripheral.properties().await else {
                    continue;
                };
                if let Some(seen) = seen(&properties) {
                    // A scanner that falls behind misses this one; the POD advertises again.
                    let _ = tx.try_send(seen);
                }
            }
        });
        Ok(rx)
    }

    async fn connect(&self, address: BdAddr) -> Result<BluezConnection, TransportError> {
        let slot = Slot::take(&self.open, self.max_connections)?;
        let peripheral = self.find(address).await?;
        let events = self.adapter.events().await.map_err(radio)?;
        within(CONNECT_TIMEOUT, "the link to come up", peripheral.connect())
            .await?
            .map_err(|e| TransportError::ConnectFailed(e.to_string()))?;
        let (chars, notifications) = match open(&peripheral).await {
            Ok(open) => open,
            Err(error) => {
                let _ = within(GATT_TIMEOUT, "the disconnect", peripheral.disconnect()).await;
                return Err(error);
            }
        };
        let link = BluezLink {
            id: peripheral.id(),
            peripheral,
            chars,
            notifications,
            events,
            lost: false,
            slot: Some(slot),
        };
        TileBus::open(link).await
    }
}

/// The peripheral an advertisement event is about.
fn advertised(event: &CentralEvent) -> Option<&PeripheralId> {
    match event {
        CentralEvent::DeviceDiscovered(id)
        | CentralEvent::DeviceUpdated(id)
        | CentralEvent::ManufacturerDataAdvertisement { id, .. }
        | CentralEvent::ServiceDataAdvertisement { id, .. } => Some(id),
        _ => None,
    }
}

/// Rebuilds the 31-byte advertisement from what BlueZ kept of it.
fn seen(properties: &PeripheralProperties) -> Option<Seen> {
    let address = BdAddr(properties.address.into_inner());
    let rssi = properties.rssi.unwrap_or(0);
    let v2 = Uuid::from_u128(uuid16_to_u128(sync_protocol::ble::V2_SERVICE_UUID16));
    let packet = if let Some(data) = properties.service_data.get(&v2) {
        let mut packet = vec![0x02, 0x01, 0x06, 0x1B, 0x16, 0xDD, 0xFD];
        packet.extend_from_slice(data);
        packet
    } else {
        // Only the advertisement's 6 bytes (uuid, flags) carry the device id.
        let data = properties.manufacturer_data.get(&COMPANY_ID)?;
        if data.len() != 6 {
            return None;
        }
        let mut packet = vec![0x02, 0x01, 0x06, 0x11, 0x06];
        packet.extend_from_slice(&TILEBUS_SERVICE_UUID_LE);
        packet.extend_from_slice(&[0x09, 0xFF, 0xC0, 0x03]);
        packet.extend_from_slice(data);
        packet
    };
    let advertisement = Advertisement::parse(&packet, None, None).ok()?;
    Some(Seen::from_advertisement(address, rssi, advertisement))
}

/// Counts open connections against the limit; the count drops with the guard.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Result<Slot, TransportError> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .map_err(|_| TransportError::Busy(max))?;
        Ok(Slot(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The TileBus characteristics the POD offers, as BlueZ lists them.
type Chars = BTreeMap<Characteristic, btleplug::api::Characteristic>;

/// The characteristics the RPC and streaming interfaces cannot do without.
const NEEDED: [Characteristic; 5] = [
    Characteristic::ReceiveHeader,
    Characteristic::ReceivePayload,
    Characteristic::SendHeader,
    Characteristic::SendPayload,
    Characteristic::Streaming,
];

/// Discovers the TileBus service and starts listening for notifications.
async fn open(peripheral: &Peripheral) -> Result<(Chars, Notifications), TransportError> {
    within(
        GATT_TIMEOUT,
        "service discovery",
        peripheral.discover_services(),
    )
    .await?
    .map_err(gatt)?;
    let service = Uuid::from_u128(TILEBUS_SERVICE_UUID);
    let chars: Chars = peripheral
        .characteristics()
        .into_iter()
        .filter(|c| c.service_uuid == service)
        .filter_map(|c| Some((Characteristic::from_uuid(c.uuid.as_u128())?, c)))
        .collect();
    if let Some(missing) = NEEDED.iter().find(|c| !chars.contains_key(c)) {
        return Err(TransportError::NotIotile(format!(
            "no characteristic {:#06x}",
            missing.uuid16()
        )));
    }
    // The stream exists before the first subscription so no notification is missed.
    let notifications = peripheral.notifications().await.map_err(gatt)?;
    Ok((chars, notifications))
}

/// A connection to a POD through BlueZ.
pub type BluezConnection = TileBus<BluezLink>;

/// One GATT link to a POD through BlueZ.
pub struct BluezLink {
    peripheral: Peripheral,
    id: PeripheralId,
    chars: Chars,
    notifications: Notifications,
    /// The adapter's events, for this peripheral's disconnect.
    events: Events,
    lost: bool,
    slot: Option<Slot>,
}

impl BluezLink {
    fn characteristic(
        &self,
        which: Characteristic,
    ) -> Result<&btleplug::api::Characteristic, TransportError> {
        self.chars
            .get(&which)
            .ok_or(TransportError::Unsupported(which.name()))
    }
}

impl GattLink for BluezLink {
    fn offers(&self, characteristic: Characteristic) -> bool {
        self.chars.contains_key(&characteristic)
    }

    async fn try_write(
        &mut self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> Result<Written, TransportError> {
        if self.lost {
            return Err(TransportError::Disconnected);
        }
        let target = self.characteristic(characteristic)?;
        let write = self
            .peripheral
            .write(target, value, WriteType::WithoutResponse);
        match within(GATT_TIMEOUT, "a write", write).await? {
            Ok(()) => Ok(Written::Sent),
            Err(error) if buffers_full(&error) => Ok(Written::BuffersFull),
            Err(error) => {
                if self.peripheral.is_connected().await.unwrap_or(false) {
                    Err(gatt(error))
                } else {
                    self.lost = true;
                    Err(TransportError::Disconnected)
                }
            }
        }
    }

    async fn enable_notifications(
        &mut self,
        characteristic: Characteristic,
    ) -> Result<(), TransportError> {
        if self.lost {
            return Err(TransportError::Disconnected);
        }
        let target = self.characteristic(characteristic)?;
        within(
            GATT_TIMEOUT,
            "a subscription",
            self.peripheral.subscribe(target),
        )
        .await?
        .map_err(gatt)
    }

    async fn next_notification(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Notification>, TransportError> {
        if self.lost {
            return Err(TransportError::Disconnected);
        }
        loop {
            let next = tokio::time::timeout_at(deadline, async {
                loop {
                    tokio::select! {
                        // Notifications first: bytes that arrived before the disconnect count.
                        biased;
                        n = self.notifications.next() => return n,
                        e = self.events.next() => match e {
                            Some(CentralEvent::DeviceDisconnected(id)) if id == self.id => {
                                return None
                            }
                            Some(_) => {}
                            None => return None,
                        },
                    }
                }
            })
            .await;
            let Ok(next) = next else {
                return Ok(None);
            };
            let Some(notification) = next else {
                self.lost = true;
                return Err(TransportError::Disconnected);
            };
            // Only the TileBus characteristics are subscribed; anything else is skipped.
            if let Some(characteristic) = Characteristic::from_uuid(notification.uuid.as_u128()) {
                return Ok(Some(Notification {
                    characteristic,
                    value: notification.value,
                }));
            }
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        // A disconnect that times out leaves the link to Drop, which tries again in the
        // background before freeing the slot.
        let outcome = if self.lost {
            Ok(())
        } else {
            within(GATT_TIMEOUT, "the disconnect", self.peripheral.disconnect())
                .await?
                .map_err(gatt)
        };
        self.lost = true;
        self.slot = None;
        outcome
    }
}

impl Drop for BluezLink {
    fn drop(&mut self) {
        if self.lost {
            return;
        }
        // Dropped without close(): close the link in the background; the slot frees when
        // that is done.
        let peripheral = self.peripheral.clone();
        let slot = self.slot.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = within(GATT_TIMEOUT, "the disconnect", peripheral.disconnect()).await;
                drop(slot);
            });
        }
    }
}

async fn within<T>(
    limit: Duration,
    what: &'static str,
    future: impl std::future::Future<Output = T>,
) -> Result<T, TransportError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| TransportError::Timeout(limit, what))
}

fn radio(error: btleplug::Error) -> TransportError {
    TransportError::Radio(error.to_string())
}

/// BlueZ refuses a write-without-response with "Rejected" while the controller's buffers
/// are full (device-protocols §5.6). btleplug passes D-Bus errors on only as text.
fn buffers_full(error: &btleplug::Error) -> bool {
    matches!(error, btleplug::Error::Other(_))
        && (error.to_string().contains("Rejected") || format!("{error:?}").contains("Rejected"))
}

fn gatt(error: btleplug::Error) -> TransportError {
    match error {
        btleplug::Error::NotConnected => TransportError::Disconnected,
        other => TransportError::Protocol(other.to_string()),
    }
}

impl std::fmt::Debug for BluezLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BluezLink")
            .field("address", &self.peripheral.address())
            .field("lost", &self.lost)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_rejected_write_reads_as_buffers_full() {
        let rejected = btleplug::Error::Other("org.bluez.Error.Rejected: Rejected".into());
        assert!(buffers_full(&rejected));
        let failed = btleplug::Error::Other("org.bluez.Error.Failed: Not connected".into());
        assert!(!buffers_full(&failed));
        assert!(!buffers_full(&btleplug::Error::NotConnected));
    }
}
