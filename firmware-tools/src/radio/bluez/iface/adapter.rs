//! `org.bluez.Adapter1` at `/org/bluez/hci0`.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::fdo;
use zbus::message::Header;
use zbus::zvariant::{ObjectPath, OwnedValue};
use zbus::Connection;

use super::sender;
use crate::radio::bluez::error::BluezDbusError;
use crate::radio::bluez::gatt::uuid16;
use crate::radio::bluez::state::Core;

pub(crate) struct AdapterIface {
    core: Arc<Core>,
}

impl AdapterIface {
    pub fn new(core: Arc<Core>) -> AdapterIface {
        AdapterIface { core }
    }
}

#[zbus::interface(name = "org.bluez.Adapter1", spawn = false)]
impl AdapterIface {
    async fn start_discovery(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core.start_discovery(conn, &sender(&hdr)).await
    }

    async fn stop_discovery(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core.stop_discovery(conn, &sender(&hdr)).await
    }

    fn set_discovery_filter(
        &self,
        properties: HashMap<String, OwnedValue>,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BluezDbusError> {
        self.core.set_discovery_filter(&sender(&hdr), properties)
    }

    fn get_discovery_filters(&self) -> Vec<String> {
        [
            "UUIDs",
            "RSSI",
            "Pathloss",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
            "AutoConnect",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    async fn remove_device(
        &self,
        device: ObjectPath<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezDbusError> {
        self.core.remove_device(conn, device.as_str()).await
    }

    #[zbus(property)]
    fn address(&self) -> String {
        self.core.options.adapter_address.to_string()
    }

    #[zbus(property)]
    fn address_type(&self) -> String {
        if self.core.options.adapter_address.is_random() {
            "random".into()
        } else {
            "public".into()
        }
    }

    #[zbus(property)]
    fn name(&self) -> String {
        self.core.options.adapter_name.clone()
    }

    #[zbus(property)]
    fn alias(&self) -> String {
        self.core
            .lock()
            .adapter
            .alias
            .clone()
            .unwrap_or_else(|| self.core.options.adapter_name.clone())
    }

    #[zbus(property)]
    fn set_alias(&self, alias: String) -> fdo::Result<()> {
        self.core.lock().adapter.alias = if alias.is_empty() { None } else { Some(alias) };
        Ok(())
    }

    #[zbus(property)]
    fn class(&self) -> u32 {
        0
    }

    #[zbus(property)]
    fn connectable(&self) -> bool {
        self.core.lock().adapter.connectable
    }

    #[zbus(property)]
    fn set_connectable(&self, value: bool) -> fdo::Result<()> {
        self.core.lock().adapter.connectable = value;
        Ok(())
    }

    #[zbus(property)]
    fn powered(&self) -> bool {
        self.core.lock().adapter.powered
    }

    #[zbus(property)]
    async fn set_powered(
        &self,
        value: bool,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<()> {
        self.core.set_powered(conn, value).await;
        Ok(())
    }

    #[zbus(property)]
    fn power_state(&self) -> String {
        if self.core.lock().adapter.powered {
            "on".into()
        } else {
            "off".into()
        }
    }

    #[zbus(property)]
    fn discoverable(&self) -> bool {
        self.core.lock().adapter.discoverable
    }

    #[zbus(property)]
    fn set_discoverable(&self, value: bool) -> fdo::Result<()> {
        self.core.lock().adapter.discoverable = value;
        Ok(())
    }

    #[zbus(property)]
    fn discoverable_timeout(&self) -> u32 {
        self.core.lock().adapter.discoverable_timeout
    }

    #[zbus(property)]
    fn set_discoverable_timeout(&self, value: u32) -> fdo::Result<()> {
        self.core.lock().adapter.discoverable_timeout = value;
        Ok(())
    }

    #[zbus(property)]
    fn pairable(&self) -> bool {
        self.core.lock().adapter.pairable
    }

    #[zbus(property)]
    fn set_pairable(&self, value: bool) -> fdo::Result<()> {
        self.core.lock().adapter.pairable = value;
        Ok(())
    }

    #[zbus(property)]
    fn pairable_timeout(&self) -> u32 {
        self.core.lock().adapter.pairable_timeout
    }

    #[zbus(property)]
    fn set_pairable_timeout(&self, value: u32) -> fdo::Result<()> {
        self.core.lock().adapter.pairable_timeout = value;
        Ok(())
    }

    #[zbus(property)]
    fn discovering(&self) -> bool {
        let st = self.core.lock();
        st.adapter.powered && st.adapter.discovering()
    }

    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        [0x1800u16, 0x1801, 0x180A]
            .iter()
            .map(|u| uuid16(*u).to_string())
            .collect()
    }

    #[zbus(property)]
    fn modalias(&self) -> String {
        // usb:v<Linux Foundation>p<BlueZ>d<version>, as bluetoothd reports itself.
        "usb:v1D6Bp0246d054F".into()
    }

    #[zbus(property)]
    fn roles(&self) -> Vec<String> {
        vec!["central".into(), "peripheral".into()]
    }

    #[zbus(property)]
    fn manufacturer(&self) -> u16 {
        0x05F1
    }

    #[zbus(property)]
    fn version(&self) -> u8 {
        0x09
    }
}
