//! The exported TileBus GATT database of a connected device: `org.bluez.GattService1`,
//! `GattCharacteristic1` and the CCCDs' `GattDescriptor1`, and their export and removal.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::fdo;
use zbus::message::Header;
use zbus::zvariant::{OwnedFd, OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::{no_such_property, object_path, sender};
use crate::radio::bluez::device::Device;
use crate::radio::bluez::device_path;
use crate::radio::bluez::error::BluezDbusError;
use crate::radio::bluez::gatt::{self, uuid16, CharDef, CCCD_UUID16, TILEBUS_CHARACTERISTICS};
use crate::radio::bluez::state::Core;
use crate::radio::BdAddr;

// ------------------------------------------------------------------------------- GattService1

pub(crate) struct ServiceIface {
    address: BdAddr,
}

impl ServiceIface {
    pub fn new(address: BdAddr) -> ServiceIface {
        ServiceIface { address }
    }
}

#[zbus::interface(name = "org.bluez.GattService1", spawn = false)]
impl ServiceIface {
    #[zbus(property)]
    fn handle(&self) -> u16 {
        gatt::TILEBUS_START_HANDLE
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        gatt::TILEBUS_SERVICE_UUID.to_string()
    }

    #[zbus(property)]
    fn device(&self) -> OwnedObjectPath {
        object_path(&device_path(self.address))
    }

    #[zbus(property)]
    fn primary(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn includes(&self) -> Vec<OwnedObjectPath> {
        Vec::new()
    }
}

// ------------------------------------------------------------------------------- GattCharacteristic1

pub(crate) struct CharIface {
    core: Arc<Core>,
    address: BdAddr,
    def: &'static CharDef,
}

impl CharIface {
    pub fn new(core: Arc<Core>, address: BdAddr, decl_handle: u16) -> CharIface {
        let def = gatt::char_by_handle(decl_handle).unwrap_or(&TILEBUS_CHARACTERISTICS[0]);
        CharIface { core, address, def }
    }

    fn state<T>(&self, name: &str, f: impl FnOnce(&Device, usize) -> Option<T>) -> fdo::Result<T> {
        let index = gatt::char_index_by_handle(self.def.decl_handle).unwrap_or(0);
        let st = self.core.lock();
        st.devices
            .get(&self.address)
            .and_then(|d| f(d, index))
            .ok_or_else(|| no_such_property(name))
    }
}

#[zbus::interface(name = "org.bluez.GattCharacteristic1", spawn = false)]
impl CharIface {
    async fn read_value(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<Vec<u8>, BluezDbusError> {
        self.core
            .read_value(conn, self.address, self.def.decl_handle, options)
            .await
    }

    async fn write_value(
        &self,
        value: Vec<u8>,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezDbusError> {
        self.core
            .write_value(self.address, self.def.decl_handle, value, options)
            .await
    }

    /// Not simulated: BlueZ would hand out a socket; clients fall back to WriteValue.
    fn acquire_write(
        &self,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(OwnedFd, u16), BluezDbusError> {
        let _ = options;
        Err(BluezDbusError::not_supported())
    }

    /// Not simulated: BlueZ would hand out a socket; clients fall back to StartNotify.
    fn acquire_notify(
        &self,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(OwnedFd, u16), BluezDbusError> {
        let _ = options;
        Err(BluezDbusError::not_supported())
    }

    async fn start_notify(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core
            .start_notify(conn, self.address, self.def.decl_handle, &sender(&hdr))
            .await
    }

    async fn stop_notify(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core
            .stop_notify(conn, self.address, self.def.decl_handle, &sender(&hdr))
            .await
    }

    #[zbus(property)]
    fn handle(&self) -> u16 {
        self.def.decl_handle
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid16(self.def.uuid16).to_string()
    }

    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        object_path(&gatt::service_path(&device_path(self.address)))
    }

    #[zbus(property)]
    fn value(&self) -> fdo::Result<Vec<u8>> {
        self.state("Value", |d, i| {
            d.gatt
                .as_ref()
                .map(|db| db.chars[i].value.clone())
                .filter(|v| !v.is_empty())
        })
    }

    #[zbus(property)]
    fn notifying(&self) -> fdo::Result<bool> {
        if !self.def.props().notify {
            return Err(no_such_property("Notifying"));
        }
        self.state("Notifying", |d, i| {
            Some(
                d.gatt
                    .as_ref()
                    .is_some_and(|db| !db.chars[i].sessions.is_empty()),
            )
        })
    }

    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        gatt::flags(self.def.props())
    }

    #[zbus(property)]
    fn write_acquired(&self) -> fdo::Result<bool> {
        if self.def.props().write_without_response {
            Ok(false)
        } else {
            Err(no_such_property("WriteAcquired"))
        }
    }

    #[zbus(property)]
    fn notify_acquired(&self) -> fdo::Result<bool> {
        if self.def.props().notify {
            Ok(false)
        } else {
            Err(no_such_property("NotifyAcquired"))
        }
    }

    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> fdo::Result<u16> {
        let mtu = self.core.options.att_mtu;
        self.state("MTU", |d, _| d.connected.then_some(mtu))
    }
}

// ------------------------------------------------------------------------------- GattDescriptor1

/// The CCCD (`0x2902`) of a notifying characteristic.
pub(crate) struct DescIface {
    core: Arc<Core>,
    address: BdAddr,
    def: &'static CharDef,
}

impl DescIface {
    pub fn new(core: Arc<Core>, address: BdAddr, char_decl_handle: u16) -> DescIface {
        let def = gatt::char_by_handle(char_decl_handle).unwrap_or(&TILEBUS_CHARACTERISTICS[0]);
        DescIface { core, address, def }
    }
}

#[zbus::interface(name = "org.bluez.GattDescriptor1", spawn = false)]
impl DescIface {
    async fn read_value(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<Vec<u8>, BluezDbusError> {
        self.core
            .read_cccd(conn, self.address, self.def.decl_handle, options)
            .await
    }

    fn write_value(
        &self,
        value: Vec<u8>,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezDbusError> {
        let _ = value;
        self.core.write_cccd(self.address, options)
    }

    #[zbus(property)]
    fn handle(&self) -> u16 {
        self.def.cccd_handle.unwrap_or_default()
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid16(CCCD_UUID16).to_string()
    }

    #[zbus(property)]
    fn characteristic(&self) -> OwnedObjectPath {
        object_path(&gatt::char_path(&device_path(self.address), self.def))
    }

    #[zbus(property)]
    fn value(&self) -> fdo::Result<Vec<u8>> {
        let index = gatt::char_index_by_handle(self.def.decl_handle).unwrap_or(0);
        let st = self.core.lock();
        st.devices
            .get(&self.address)
            .and_then(|d| d.gatt.as_ref())
            .map(|db| db.chars[index].cccd_value.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| no_such_property("Value"))
    }
}

// ------------------------------------------------------------------------------- export

/// Exports the service, characteristics and CCCDs of a freshly connected device.
pub(crate) async fn export_gatt_objects(
    core: &Arc<Core>,
    conn: &Connection,
    address: BdAddr,
    path: &str,
) {
    let server = conn.object_server();
    let service = gatt::service_path(path);
    let add = |r: zbus::Result<bool>, p: &str| {
        if let Err(e) = r {
            tracing::warn!("exporting {p}: {e}");
        }
    };
    add(
        server
            .at(service.as_str(), ServiceIface::new(address))
            .await,
        &service,
    );
    for def in TILEBUS_CHARACTERISTICS.iter() {
        let cpath = gatt::char_path(path, def);
        add(
            server
                .at(
                    cpath.as_str(),
                    CharIface::new(core.clone(), address, def.decl_handle),
                )
                .await,
            &cpath,
        );
        if let Some(cccd) = def.cccd_handle {
            let dpath = gatt::cccd_path(path, def, cccd);
            add(
                server
                    .at(
                        dpath.as_str(),
                        DescIface::new(core.clone(), address, def.decl_handle),
                    )
                    .await,
                &dpath,
            );
        }
    }
}

/// Removes a device's GATT objects, descriptors first (each with InterfacesRemoved).
pub(crate) async fn remove_gatt_objects(conn: &Connection, path: &str) {
    let server = conn.object_server();
    for def in TILEBUS_CHARACTERISTICS.iter().rev() {
        if let Some(cccd) = def.cccd_handle {
            let _ = server
                .remove::<DescIface, _>(gatt::cccd_path(path, def, cccd).as_str())
                .await;
        }
        let _ = server
            .remove::<CharIface, _>(gatt::char_path(path, def).as_str())
            .await;
    }
    let _ = server
        .remove::<ServiceIface, _>(gatt::service_path(path).as_str())
        .await;
}
