//! Device objects: what the adapter knows of each peripheral it heard (`Device1`'s
//! properties), how an advertising report refreshes them, the per-device GATT client state,
//! and the removal of a device object.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::Connection;

use super::ad::ParsedAd;
use super::gatt::{self, TILEBUS_CHARACTERISTICS};
use super::iface::{remove_gatt_objects, DeviceIface};
use super::signals::{owned_bytes, PropChanges};
use super::state::{Core, LinkRef};
use super::{device_path, ADAPTER_PATH};
use crate::radio::{BdAddr, Peripheral};

/// BlueZ only reports RSSI changes of this many dBm or more (unless a discovery filter asks
/// for proximity).
const RSSI_THRESHOLD: i16 = 8;

/// Per-characteristic GATT client state.
#[derive(Debug, Clone, Default)]
pub(crate) struct CharState {
    /// The cached value (last read or notification); `Value` exists only when non-empty.
    pub value: Vec<u8>,
    /// D-Bus clients with a notify session (`StartNotify`).
    pub sessions: BTreeSet<String>,
    /// Cached CCCD value (after a descriptor `ReadValue`).
    pub cccd_value: Vec<u8>,
}

/// The exported GATT database of a device.
#[derive(Debug, Clone)]
pub(crate) struct GattDb {
    pub chars: Vec<CharState>,
}

impl GattDb {
    pub(super) fn new() -> GattDb {
        GattDb {
            chars: vec![CharState::default(); TILEBUS_CHARACTERISTICS.len()],
        }
    }
}

pub(crate) struct Device {
    pub path: String,
    pub address: BdAddr,
    pub peripheral: Arc<dyn Peripheral>,
    pub name: Option<String>,
    pub alias: Option<String>,
    pub class: Option<u32>,
    pub appearance: Option<u16>,
    pub rssi: Option<i16>,
    pub tx_power: Option<i16>,
    pub eir_uuids: Vec<String>,
    pub manufacturer_data: BTreeMap<u16, Vec<u8>>,
    pub service_data: BTreeMap<String, Vec<u8>>,
    pub adv_flags: Option<u8>,
    pub advertising_data: BTreeMap<u8, Vec<u8>>,
    pub trusted: bool,
    pub blocked: bool,
    /// Whether the last advertisement was connectable.
    pub connectable: bool,
    pub last_seen: Instant,
    pub connected: bool,
    pub services_resolved: bool,
    /// A Connect or Disconnect is being carried out.
    pub busy: bool,
    pub link: Option<LinkRef>,
    /// Bumped on every link change; a link's event task only acts for its own generation.
    pub generation: u64,
    pub gatt: Option<GattDb>,
    pub emit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Device {
    pub(super) fn new(peripheral: Arc<dyn Peripheral>, address: BdAddr) -> Device {
        Device {
            path: device_path(address),
            address,
            peripheral,
            name: None,
            alias: None,
            class: None,
            appearance: None,
            rssi: None,
            tx_power: None,
            eir_uuids: Vec::new(),
            manufacturer_data: BTreeMap::new(),
            service_data: BTreeMap::new(),
            adv_flags: None,
            advertising_data: BTreeMap::new(),
            trusted: false,
            blocked: false,
            connectable: true,
            last_seen: Instant::now(),
            connected: false,
            services_resolved: false,
            busy: false,
            link: None,
            generation: 0,
            gatt: None,
            emit_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn address_string(&self) -> String {
        self.address.to_string()
    }

    pub fn address_type(&self) -> &'static str {
        if self.address.is_random() {
            "random"
        } else {
            "public"
        }
    }

    pub fn alias_value(&self) -> String {
        if let Some(a) = &self.alias {
            a.clone()
        } else if let Some(n) = self.name.as_ref().filter(|n| !n.is_empty()) {
            n.clone()
        } else {
            self.address_string().replace(':', "-")
        }
    }

    pub fn uuids(&self) -> Vec<String> {
        if self.services_resolved {
            gatt::resolved_service_uuids()
        } else {
            self.eir_uuids.clone()
        }
    }

    pub fn manufacturer_data_map(&self) -> HashMap<u16, OwnedValue> {
        self.manufacturer_data
            .iter()
            .map(|(k, v)| (*k, owned_bytes(v)))
            .collect()
    }

    pub fn service_data_map(&self) -> HashMap<String, OwnedValue> {
        self.service_data
            .iter()
            .map(|(k, v)| (k.clone(), owned_bytes(v)))
            .collect()
    }

    pub fn advertising_data_map(&self) -> HashMap<u8, OwnedValue> {
        self.advertising_data
            .iter()
            .map(|(k, v)| (*k, owned_bytes(v)))
            .collect()
    }

    pub fn adapter_path(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(ADAPTER_PATH).unwrap_or_default()
    }

    /// The current value of a Device1 property for a PropertiesChanged signal, or `None` when
    /// the property does not exist right now (it then goes in the invalidated list).
    fn prop_value(&self, name: &str) -> Option<Value<'static>> {
        Some(match name {
            "Name" => Value::from(self.name.clone()?),
            "Alias" => Value::from(self.alias_value()),
            "Class" => Value::from(self.class?),
            "Appearance" => Value::from(self.appearance?),
            "RSSI" => Value::from(self.rssi?),
            "TxPower" => Value::from(self.tx_power?),
            "UUIDs" => Value::from(self.uuids()),
            "ManufacturerData" if !self.manufacturer_data.is_empty() => {
                Value::from(self.manufacturer_data_map())
            }
            "ServiceData" if !self.service_data.is_empty() => Value::from(self.service_data_map()),
            "AdvertisingFlags" => Value::from(vec![self.adv_flags?]),
            "AdvertisingData" if !self.advertising_data.is_empty() => {
                Value::from(self.advertising_data_map())
            }
            "Connected" => Value::from(self.connected),
            "ServicesResolved" => Value::from(self.services_resolved),
            "Trusted" => Value::from(self.trusted),
            "Blocked" => Value::from(self.blocked),
            _ => return None,
        })
    }

    pub(super) fn changes(&self, names: &[&'static str]) -> PropChanges {
        let mut changes = PropChanges::default();
        for name in names {
            match self.prop_value(name) {
                Some(v) => changes.changed.push((name, v)),
                None => changes.invalidated.push(name),
            }
        }
        changes
    }

    /// Applies one advertising report the way BlueZ's `btd_adapter_device_found` does and
    /// returns the names of the Device1 properties that changed.
    pub(super) fn apply_report(
        &mut self,
        ad: &ParsedAd,
        rssi: i16,
        connectable: bool,
        duplicate: bool,
        proximity: bool,
    ) -> Vec<&'static str> {
        let mut changed = Vec::new();
        self.last_seen = Instant::now();
        self.connectable = connectable;

        // device_set_rssi_with_delta
        let threshold = if proximity { 0 } else { RSSI_THRESHOLD };
        match self.rssi {
            None => {
                self.rssi = Some(rssi);
                changed.push("RSSI");
            }
            Some(old) if (old - rssi).abs() >= threshold.max(1) => {
                self.rssi = Some(rssi);
                changed.push("RSSI");
            }
            Some(_) => {}
        }
        if let Some(tx) = ad.tx_power.map(i16::from) {
            if self.tx_power != Some(tx) {
                self.tx_power = Some(tx);
                changed.push("TxPower");
            }
        }
        if let Some(a) = ad.appearance.filter(|a| *a != 0) {
            if self.appearance != Some(a) {
                self.appearance = Some(a);
                changed.push("Appearance");
            }
        }
        if let Some(c) = ad.class.filter(|c| *c != 0) {
            if self.class != Some(c) {
                self.class = Some(c);
                changed.push("Class");
            }
        }
        if let Some((name, complete)) = &ad.name {
            if (*complete || self.name.is_none()) && self.name.as_ref() != Some(name) {
                self.name = Some(name.clone());
                changed.push("Name");
                if self.alias.is_none() {
                    changed.push("Alias");
                }
            }
        }

        // device_add_eir_uuids (service UUIDs, then the UUIDs of service data)
        let mut uuids_changed = false;
        if !self.services_resolved {
            for u in ad
                .services
                .iter()
                .chain(ad.service_data.iter().map(|(u, _)| u))
            {
                if !self.eir_uuids.contains(u) {
                    self.eir_uuids.push(u.clone());
                    uuids_changed = true;
                }
            }
        }
        if uuids_changed {
            changed.push("UUIDs");
        }

        // device_set_manufacturer_data: with DuplicateData the old entries are cleared first,
        // so every report re-announces them; each later entry for a company replaces the
        // earlier one.
        if !ad.manufacturer_data.is_empty() {
            if duplicate {
                self.manufacturer_data.clear();
            }
            let mut any = false;
            for (company, data) in &ad.manufacturer_data {
                if self.manufacturer_data.get(company) != Some(data) {
                    self.manufacturer_data.insert(*company, data.clone());
                    any = true;
                }
            }
            if any {
                changed.push("ManufacturerData");
            }
        }
        if !ad.service_data.is_empty() {
            if duplicate {
                self.service_data.clear();
            }
            let mut any = false;
            for (uuid, data) in &ad.service_data {
                if self.service_data.get(uuid) != Some(data) {
                    self.service_data.insert(uuid.clone(), data.clone());
                    any = true;
                }
            }
            if any {
                changed.push("ServiceData");
            }
        }
        if !ad.other.is_empty() {
            if duplicate {
                self.advertising_data.clear();
            }
            let mut any = false;
            for (t, data) in &ad.other {
                if self.advertising_data.get(t) != Some(data) {
                    self.advertising_data.insert(*t, data.clone());
                    any = true;
                }
            }
            if any {
                changed.push("AdvertisingData");
            }
        }
        if let Some(f) = ad.flags {
            if self.adv_flags != Some(f) {
                self.adv_flags = Some(f);
                changed.push("AdvertisingFlags");
            }
        }
        changed
    }
}

impl Core {
    /// Drops a (disconnected) device from the state and the bus, GATT objects first.
    pub(super) async fn remove_device_object(&self, conn: &Connection, address: BdAddr) {
        let removed = self.lock().devices.remove(&address);
        let Some(device) = removed else { return };
        if device.gatt.is_some() {
            remove_gatt_objects(conn, &device.path).await;
        }
        let server = conn.object_server();
        if let Err(e) = server.remove::<DeviceIface, _>(device.path.as_str()).await {
            tracing::debug!("removing {}: {e}", device.path);
        }
    }
}
