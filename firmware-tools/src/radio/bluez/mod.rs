//! A virtual BlueZ on a private D-Bus bus.
//!
//! [`VirtualBluez`] owns the name `org.bluez` on a bus (normally a [`PrivateBus`] the test
//! starts) and implements the part of the BlueZ D-Bus API that host software such as
//! `btleplug` (through `bluez-async`) uses, for one adapter, `hci0`. Only the radio is
//! simulated: the [`Peripheral`]s given to it are the devices on the air. Point a client at it
//! with `DBUS_SYSTEM_BUS_ADDRESS=<PrivateBus::address()>` and it cannot tell the difference
//! from a BlueZ 5.6x–5.7x daemon with one LE adapter, for the operations below.
//!
//! # What is covered
//!
//! * `org.freedesktop.DBus.ObjectManager` at `/`: `GetManagedObjects`, `InterfacesAdded`,
//!   `InterfacesRemoved`. `org.freedesktop.DBus.Properties` (`Get`, `GetAll`, `Set`,
//!   `PropertiesChanged`), `org.freedesktop.DBus.Introspectable` and `Peer` on every object.
//!   Properties BlueZ only has sometimes (`RSSI`, `Name`, `ManufacturerData`, `Value`, `MTU`...)
//!   are left out of `GetAll` and fail `Get` with `InvalidArgs "No such property"` while absent,
//!   as BlueZ does.
//! * `org.bluez.Adapter1` at `/org/bluez/hci0`: `StartDiscovery`, `StopDiscovery`,
//!   `SetDiscoveryFilter` (`UUIDs`, `RSSI`, `Pathloss`, `Transport`, `DuplicateData`,
//!   `Discoverable`, `Pattern`, `AutoConnect`), `GetDiscoveryFilters`, `RemoveDevice`; properties
//!   `Address`, `AddressType`, `Name`, `Alias` (rw), `Class`, `Connectable` (rw), `Powered` (rw:
//!   off stops discovery and drops links), `PowerState`, `Discoverable` (rw), `DiscoverableTimeout`
//!   (rw), `Pairable` (rw), `PairableTimeout` (rw), `Discovering`, `UUIDs`, `Modalias`, `Roles`,
//!   `Manufacturer`, `Version`. Discovery sessions and filters are per D-Bus client and end when
//!   the client leaves the bus, as in BlueZ.
//! * `org.bluez.Device1` at `/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX`, created when a peripheral's
//!   advertisement is first heard while discovering (active scanning: advertisement and scan
//!   response are merged into one report, parsed like BlueZ's `eir_parse`, so for v1 PODs the
//!   scan response's `0x03C0` manufacturer data replaces the advertisement's), refreshed on every
//!   advertising interval (`RSSI` only on changes of 8 dBm or more unless a filter asks for
//!   proximity; `ManufacturerData`/`ServiceData` on every report when a client set
//!   `DuplicateData`, as btleplug does, else on change), removed after
//!   [`BluezOptions::temporary_timeout`] without an advertisement (BlueZ's temporary-device timer;
//!   `RSSI`/`TxPower` are invalidated when discovery stops). Methods `Connect`, `Disconnect`
//!   (`ConnectProfile`, `DisconnectProfile`, `Pair`, `CancelPairing` answer with BlueZ errors);
//!   signal `Disconnected(reason, message)`; properties `Address`, `AddressType` (`random` when
//!   the top two bits are set), `Name` (advertised name, then the GAP Device Name once
//!   connected), `Alias` (rw), `Class`, `Appearance`, `Paired`, `Bonded`, `Trusted` (rw),
//!   `Blocked` (rw, stored only), `LegacyPairing`, `CablePairing`, `RSSI`, `TxPower`,
//!   `Connected`, `UUIDs` (advertised service and service-data UUIDs; the remote primary
//!   services once resolved), `Adapter`, `ManufacturerData`, `ServiceData`, `ServicesResolved`,
//!   `AdvertisingFlags`, `AdvertisingData`.
//! * `Connect` calls [`Peripheral::connect`], exports the TileBus GATT table
//!   ([`gatt::TILEBUS_CHARACTERISTICS`]: `GattService1` at `.../service000b`,
//!   `GattCharacteristic1` at `.../charYYYY`, the `0x2902` CCCD `GattDescriptor1` at
//!   `.../descZZZZ`, with BlueZ's handle-based names), sets `Connected`, reads the GAP name and
//!   sets `ServicesResolved`, then replies. `GattService1`: `UUID`, `Primary`, `Device`,
//!   `Includes`, `Handle`. `GattCharacteristic1`: `ReadValue`, `WriteValue` (`type`
//!   `request`/`command`/`reliable`, `offset` as BlueZ parses them), `StartNotify`,
//!   `StopNotify` (per-client notify sessions; `Failed "No notify session started"`);
//!   properties `UUID`, `Service`, `Value`, `Notifying`, `Flags`, `Handle`, `MTU`,
//!   `WriteAcquired`, `NotifyAcquired`. Notifications arrive as `PropertiesChanged` of `Value`,
//!   one signal per notification and in order. As in BlueZ, a `ReadValue` also updates
//!   `Value` and emits `PropertiesChanged`, so notification listeners see reads too.
//!   `GattDescriptor1`: `ReadValue` (the host's CCCD setting), `WriteValue` (refused for the
//!   CCCD, as BlueZ does), properties `UUID`, `Characteristic`, `Value`, `Handle`.
//! * A dropped link (host `Disconnect`, `RemoveDevice`, power off, or the peripheral's
//!   [`LinkEvent::Disconnected`]) sets `ServicesResolved` and `Connected` false in one
//!   `PropertiesChanged`, emits `Disconnected` (`org.bluez.Reason.Local` or
//!   `org.bluez.Reason.Timeout`) and removes the GATT objects (`InterfacesRemoved`); with
//!   [`GattCache::Always`] (BlueZ's default `Cache = always` in `main.conf`) they stay and every
//!   call on them fails with `org.bluez.Error.Failed "Not connected"`, notify sessions being
//!   re-registered on the next connection.
//! * Errors are BlueZ's names and messages: `org.bluez.Error.Failed` (`"Not connected"`,
//!   `"No discovery started"`, `"le-connection-abort-by-local"`, `"Operation failed with ATT
//!   error: 0xNN"`, ...), `InProgress`, `NotReady`, `NotPermitted` (`"Read not permitted"`,
//!   `"Write not permitted"`), `NotSupported`, `InvalidArguments` (including ATT "Invalid
//!   Length" and "Invalid offset", as BlueZ's gatt-client sends them), `DoesNotExist`.
//!
//! # What is not
//!
//! * Pairing, bonding, agents (`AgentManager1`), profiles (`ProfileManager1`), advertising
//!   (`LEAdvertisingManager1`), local GATT servers (`GattManager1`), `AdvertisementMonitor`,
//!   battery, media, BR/EDR; `Adapter1.ConnectDevice`.
//! * `AcquireWrite`/`AcquireNotify` (socket-based I/O; btleplug does not use them) reply
//!   `NotSupported`.
//! * The GAP service (`0x1800`) is read internally and listed in `UUIDs` but, as in BlueZ before
//!   5.80, not exported as an object; there is no GATT service (`0x1801`) and no Service
//!   Changed. Every peripheral has the same TileBus table (no Auth/Info characteristics).
//! * Timing: connections and GATT operations complete as fast as the peripheral answers; a
//!   connection to an out-of-range peripheral fails at once (BlueZ waits for its connection
//!   timeout). Only one notification signal is sent however many clients subscribed (BlueZ sends
//!   one per client).
//! * Write-without-response errors from the peripheral are not reported (ATT commands have no
//!   response); `Busy` is retried for up to 2 s, as the kernel queues commands.
//!
//! # Module map
//!
//! * `mod.rs`: [`VirtualBluez`] (start, peripherals on the air, stop), [`BluezOptions`],
//!   [`GattCache`], object paths; the task that notices clients leaving the bus.
//! * `bus`: [`PrivateBus`], the test's own `dbus-daemon`.
//! * `error`: [`BluezError`] and the `org.bluez.Error.*` replies (ATT errors mapped as
//!   BlueZ does).
//! * [`gatt`]: the TileBus GATT table (handles, object paths, `Uuid`s) on top of
//!   [`sync_protocol::ble`].
//! * `ad`: advertising-data parsing like BlueZ's `eir_parse`; discovery-filter UUIDs.
//! * `state`: `Core`, the state every object and task shares, and its locking rules.
//! * `signals`: `PropertiesChanged` batches and their emission; interface names.
//! * `adapter`: adapter settings, discovery sessions and filters, `StartDiscovery`,
//!   `StopDiscovery`, `SetDiscoveryFilter`, `RemoveDevice`, power.
//! * `scan`: the radio loop; advertising reports create and refresh devices, unseen ones
//!   expire.
//! * `device`: device objects (`Device1` state, advertisement refresh, GATT client state).
//! * `link`: `Connect`, the link's event task, disconnection and teardown.
//! * `gatt_calls`: `ReadValue`/`WriteValue` on characteristics and CCCDs.
//! * `notify`: notify sessions and notification delivery.
//! * `iface`: the D-Bus interface structs, one module per interface family
//!   (`iface::adapter`, `iface::device`, `iface::gatt` with GATT object export and removal).

pub mod gatt;

mod ad;
mod adapter;
mod bus;
mod device;
mod error;
mod gatt_calls;
mod iface;
mod link;
mod notify;
mod scan;
mod signals;
mod state;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinHandle;
use zbus::fdo::RequestNameFlags;
use zbus::Connection;

pub use bus::PrivateBus;
pub use error::BluezError;

use self::iface::AdapterIface;
use self::state::{Core, LinkRef};
#[cfg(doc)]
use crate::radio::LinkEvent;
use crate::radio::{BdAddr, Peripheral};

/// The well-known name the virtual daemon owns.
pub const BLUEZ_BUS_NAME: &str = "org.bluez";
/// The one adapter's object path.
pub const ADAPTER_PATH: &str = "/org/bluez/hci0";

/// The object path BlueZ gives a device: `/org/bluez/hci0/dev_C0_11_22_33_44_55`.
pub fn device_path(address: BdAddr) -> String {
    format!(
        "{ADAPTER_PATH}/dev_{}",
        address.to_string().replace(':', "_")
    )
}

/// What happens to a device's GATT objects when its link goes down (BlueZ's `[GATT] Cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GattCache {
    /// Removed with `InterfacesRemoved` (BlueZ with `Cache = yes`/`no` for unpaired devices,
    /// which PODs always are).
    #[default]
    No,
    /// Kept; calls fail with `Failed "Not connected"` until the next connection (BlueZ's
    /// default `Cache = always`).
    Always,
}

/// Knobs of the virtual adapter.
#[derive(Debug, Clone)]
pub struct BluezOptions {
    pub adapter_address: BdAddr,
    pub adapter_name: String,
    /// How often every peripheral is heard while discovering.
    pub advertising_interval: Duration,
    /// A device not heard for this long (and not connected) is removed (BlueZ's
    /// `TemporaryTimeout`, 30 s by default).
    pub temporary_timeout: Duration,
    /// The negotiated ATT MTU (`MTU` property; write-without-response values must fit in
    /// MTU − 3 bytes). PODs do not raise it above the default 23.
    pub att_mtu: u16,
    pub gatt_cache: GattCache,
}

impl Default for BluezOptions {
    fn default() -> Self {
        BluezOptions {
            adapter_address: BdAddr([0x00, 0x1A, 0x7D, 0xDA, 0x71, 0x10]),
            adapter_name: "iotile-virtual".to_string(),
            advertising_interval: Duration::from_millis(200),
            temporary_timeout: Duration::from_secs(30),
            att_mtu: 23,
            gatt_cache: GattCache::No,
        }
    }
}

/// A running virtual BlueZ daemon. Stop it with [`VirtualBluez::stop`]; dropping it also
/// stops it (without waiting for the bus to notice).
pub struct VirtualBluez {
    core: Arc<Core>,
    conn: Option<Connection>,
    tasks: Vec<JoinHandle<()>>,
    bus_address: String,
}

impl std::fmt::Debug for VirtualBluez {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualBluez")
            .field("bus_address", &self.bus_address)
            .finish_non_exhaustive()
    }
}

impl VirtualBluez {
    /// Connects to the bus at `bus_address`, exports the adapter and takes the name
    /// `org.bluez`. Must be called inside a tokio runtime; its tasks live there.
    pub async fn start(
        bus_address: &str,
        peripherals: Vec<Arc<dyn Peripheral>>,
    ) -> Result<VirtualBluez, BluezError> {
        Self::start_with_options(bus_address, peripherals, BluezOptions::default()).await
    }

    /// [`VirtualBluez::start`] with non-default [`BluezOptions`].
    pub async fn start_with_options(
        bus_address: &str,
        peripherals: Vec<Arc<dyn Peripheral>>,
        options: BluezOptions,
    ) -> Result<VirtualBluez, BluezError> {
        tokio::runtime::Handle::try_current().map_err(|_| BluezError::NoRuntime)?;
        let mut seen = std::collections::BTreeSet::new();
        for p in &peripherals {
            if !seen.insert(p.address()) {
                return Err(BluezError::DuplicatePeripheral(p.address()));
            }
        }
        let core = Arc::new(Core::new(options, peripherals));
        let conn = zbus::connection::Builder::address(bus_address)?
            .build()
            .await?;
        let server = conn.object_server();
        server.at("/", zbus::fdo::ObjectManager).await?;
        server
            .at(ADAPTER_PATH, AdapterIface::new(core.clone()))
            .await?;

        let proxy = zbus::fdo::DBusProxy::new(&conn).await?;
        let owner_changes = proxy.receive_name_owner_changed().await?;
        let watcher = tokio::spawn(watch_clients(core.clone(), conn.clone(), owner_changes));

        match conn
            .request_name_with_flags(BLUEZ_BUS_NAME, RequestNameFlags::DoNotQueue.into())
            .await
        {
            Ok(_) => {}
            Err(zbus::Error::NameTaken) => {
                watcher.abort();
                return Err(BluezError::NameTaken(bus_address.to_string()));
            }
            Err(e) => {
                watcher.abort();
                return Err(e.into());
            }
        }
        let scanner = tokio::spawn(core.clone().run_scanner(conn.clone()));
        Ok(VirtualBluez {
            core,
            conn: Some(conn),
            tasks: vec![watcher, scanner],
            bus_address: bus_address.to_string(),
        })
    }

    /// The bus this daemon is on.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// Puts another peripheral on the air.
    pub fn add_peripheral(&self, peripheral: Arc<dyn Peripheral>) -> Result<(), BluezError> {
        let address = peripheral.address();
        if self.core.add_peripheral(peripheral) {
            Ok(())
        } else {
            Err(BluezError::DuplicatePeripheral(address))
        }
    }

    /// Takes a peripheral off the air: its link, if any, drops (supervision timeout, as if it
    /// went out of range) and its device object expires like any unseen device.
    pub async fn remove_peripheral(&self, address: BdAddr) -> Result<(), BluezError> {
        self.core
            .take_peripheral(address)
            .ok_or(BluezError::UnknownPeripheral(address))?;
        if let Some(conn) = &self.conn {
            self.core.peripheral_removed(conn, address).await;
        }
        Ok(())
    }

    /// Whether a device object for `address` exists and is connected.
    pub fn is_connected(&self, address: BdAddr) -> bool {
        self.core
            .lock()
            .devices
            .get(&address)
            .is_some_and(|d| d.connected)
    }

    /// The addresses that currently have a device object.
    pub fn devices(&self) -> Vec<BdAddr> {
        self.core.lock().devices.keys().copied().collect()
    }

    /// Drops every link (host side), gives up `org.bluez` and closes the connection.
    pub async fn stop(mut self) -> Result<(), BluezError> {
        let links = self.shutdown();
        for link in links {
            let _ = tokio::task::spawn_blocking(move || {
                link.lock().unwrap_or_else(|p| p.into_inner()).disconnect()
            })
            .await;
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.release_name(BLUEZ_BUS_NAME).await;
            conn.graceful_shutdown().await;
        }
        Ok(())
    }

    fn shutdown(&mut self) -> Vec<LinkRef> {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.core.shutdown()
    }
}

impl Drop for VirtualBluez {
    fn drop(&mut self) {
        for link in self.shutdown() {
            link.lock().unwrap_or_else(|p| p.into_inner()).disconnect();
        }
    }
}

/// Ends the discovery and notify sessions of clients that leave the bus.
async fn watch_clients(
    core: Arc<Core>,
    conn: Connection,
    mut changes: zbus::fdo::NameOwnerChangedStream,
) {
    while let Some(signal) = changes.next().await {
        let Ok(args) = signal.args() else { continue };
        let name = args.name().to_string();
        if name.starts_with(':') && args.new_owner().is_none() {
            core.client_gone(&conn, &name).await;
        }
    }
}
