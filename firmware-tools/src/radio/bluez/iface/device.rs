//! `org.bluez.Device1` at `/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX`.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::fdo;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::no_such_property;
use crate::radio::bluez::device::Device;
use crate::radio::bluez::device_path;
use crate::radio::bluez::error::BluezDbusError;
use crate::radio::bluez::link::DisconnectReason;
use crate::radio::bluez::state::Core;
use crate::radio::BdAddr;

pub(crate) struct DeviceIface {
    core: Arc<Core>,
    address: BdAddr,
}

impl DeviceIface {
    pub fn new(core: Arc<Core>, address: BdAddr) -> DeviceIface {
        DeviceIface { core, address }
    }

    fn get<T>(&self, name: &str, f: impl FnOnce(&Device) -> Option<T>) -> fdo::Result<T> {
        let st = self.core.lock();
        st.devices
            .get(&self.address)
            .and_then(f)
            .ok_or_else(|| no_such_property(name))
    }

    fn set(&self, f: impl FnOnce(&mut Device)) -> fdo::Result<()> {
        let mut st = self.core.lock();
        let d = st
            .devices
            .get_mut(&self.address)
            .ok_or_else(|| fdo::Error::UnknownObject(device_path(self.address)))?;
        f(d);
        Ok(())
    }
}

#[zbus::interface(name = "org.bluez.Device1", spawn = true)]
impl DeviceIface {
    async fn connect(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezDbusError> {
        self.core.connect(conn, self.address).await
    }

    async fn disconnect(
        &self,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core
            .disconnect_link(conn, self.address, DisconnectReason::Local)
            .await;
        Ok(())
    }

    #[zbus(name = "ConnectProfile")]
    fn connect_profile(&self, uuid: String) -> Result<(), BluezDbusError> {
        let _ = uuid;
        Err(BluezDbusError::NotAvailable(
            "Operation currently not available".into(),
        ))
    }

    #[zbus(name = "DisconnectProfile")]
    fn disconnect_profile(&self, uuid: String) -> Result<(), BluezDbusError> {
        let _ = uuid;
        Err(BluezDbusError::not_supported())
    }

    fn pair(&self) -> Result<(), BluezDbusError> {
        Err(BluezDbusError::not_supported())
    }

    fn cancel_pairing(&self) -> Result<(), BluezDbusError> {
        Err(BluezDbusError::does_not_exist())
    }

    /// Emitted when a connection ends, with a reason (`org.bluez.Reason.*`) and a message.
    #[zbus(signal)]
    pub async fn disconnected(
        emitter: &SignalEmitter<'_>,
        name: &str,
        message: &str,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    fn address(&self) -> fdo::Result<String> {
        self.get("Address", |d| Some(d.address_string()))
    }

    #[zbus(property)]
    fn address_type(&self) -> fdo::Result<String> {
        self.get("AddressType", |d| Some(d.address_type().to_string()))
    }

    #[zbus(property)]
    fn name(&self) -> fdo::Result<String> {
        self.get("Name", |d| d.name.clone())
    }

    #[zbus(property)]
    fn alias(&self) -> fdo::Result<String> {
        self.get("Alias", |d| Some(d.alias_value()))
    }

    #[zbus(property)]
    fn set_alias(&self, alias: String) -> fdo::Result<()> {
        self.set(|d| d.alias = if alias.is_empty() { None } else { Some(alias) })
    }

    #[zbus(property)]
    fn class(&self) -> fdo::Result<u32> {
        self.get("Class", |d| d.class)
    }

    #[zbus(property)]
    fn appearance(&self) -> fdo::Result<u16> {
        self.get("Appearance", |d| d.appearance)
    }

    #[zbus(property)]
    fn paired(&self) -> fdo::Result<bool> {
        self.get("Paired", |_| Some(false))
    }

    #[zbus(property)]
    fn bonded(&self) -> fdo::Result<bool> {
        self.get("Bonded", |_| Some(false))
    }

    #[zbus(property)]
    fn trusted(&self) -> fdo::Result<bool> {
        self.get("Trusted", |d| Some(d.trusted))
    }

    #[zbus(property)]
    fn set_trusted(&self, value: bool) -> fdo::Result<()> {
        self.set(|d| d.trusted = value)
    }

    #[zbus(property)]
    fn blocked(&self) -> fdo::Result<bool> {
        self.get("Blocked", |d| Some(d.blocked))
    }

    #[zbus(property)]
    fn set_blocked(&self, value: bool) -> fdo::Result<()> {
        self.set(|d| d.blocked = value)
    }

    #[zbus(property)]
    fn legacy_pairing(&self) -> fdo::Result<bool> {
        self.get("LegacyPairing", |_| Some(false))
    }

    #[zbus(property)]
    fn cable_pairing(&self) -> fdo::Result<bool> {
        self.get("CablePairing", |_| Some(false))
    }

    #[zbus(property, name = "RSSI")]
    fn rssi(&self) -> fdo::Result<i16> {
        self.get("RSSI", |d| d.rssi)
    }

    #[zbus(property)]
    fn tx_power(&self) -> fdo::Result<i16> {
        self.get("TxPower", |d| d.tx_power)
    }

    #[zbus(property)]
    fn connected(&self) -> fdo::Result<bool> {
        self.get("Connected", |d| Some(d.connected))
    }

    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> fdo::Result<Vec<String>> {
        self.get("UUIDs", |d| Some(d.uuids()))
    }

    #[zbus(property)]
    fn adapter(&self) -> fdo::Result<OwnedObjectPath> {
        self.get("Adapter", |d| Some(d.adapter_path()))
    }

    #[zbus(property)]
    fn manufacturer_data(&self) -> fdo::Result<HashMap<u16, OwnedValue>> {
        self.get("ManufacturerData", |d| {
            (!d.manufacturer_data.is_empty()).then(|| d.manufacturer_data_map())
        })
    }

    #[zbus(property)]
    fn service_data(&self) -> fdo::Result<HashMap<String, OwnedValue>> {
        self.get("ServiceData", |d| {
            (!d.service_data.is_empty()).then(|| d.service_data_map())
        })
    }

    #[zbus(property)]
    fn services_resolved(&self) -> fdo::Result<bool> {
        self.get("ServicesResolved", |d| Some(d.services_resolved))
    }

    #[zbus(property)]
    fn advertising_flags(&self) -> fdo::Result<Vec<u8>> {
        self.get("AdvertisingFlags", |d| d.adv_flags.map(|f| vec![f]))
    }

    #[zbus(property)]
    fn advertising_data(&self) -> fdo::Result<HashMap<u8, OwnedValue>> {
        self.get("AdvertisingData", |d| {
            (!d.advertising_data.is_empty()).then(|| d.advertising_data_map())
        })
    }
}
