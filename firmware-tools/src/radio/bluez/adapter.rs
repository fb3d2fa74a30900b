//! The adapter: its settings, per-client discovery sessions and filters (BlueZ's filter
//! matching), and the `Adapter1` methods that change them: `StartDiscovery`,
//! `StopDiscovery`, `SetDiscoveryFilter`, `RemoveDevice`, `Powered`; clients leaving the bus.

use std::collections::{BTreeMap, HashMap};

use zbus::zvariant::{OwnedValue, Value};
use zbus::Connection;

use super::ad::{parse_uuid_string, ParsedAd};
use super::error::BluezDbusError;
use super::link::DisconnectReason;
use super::signals::{emit_properties_changed, PropChanges, ADAPTER_IFACE, DEVICE_IFACE};
use super::state::Core;
use super::ADAPTER_PATH;
use crate::radio::BdAddr;

/// One D-Bus client's discovery session (`StartDiscovery`) and/or filter
/// (`SetDiscoveryFilter`).
#[derive(Debug, Clone, Default)]
pub(crate) struct DiscoveryClient {
    pub discovering: bool,
    pub filter: Option<DiscoveryFilter>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DiscoveryFilter {
    pub uuids: Vec<String>,
    pub rssi: Option<i16>,
    pub pathloss: Option<u16>,
    pub duplicate: bool,
    pub pattern: Option<String>,
}

#[derive(Debug)]
pub(crate) struct AdapterState {
    pub powered: bool,
    pub discoverable: bool,
    pub discoverable_timeout: u32,
    pub pairable: bool,
    pub pairable_timeout: u32,
    pub connectable: bool,
    pub alias: Option<String>,
    pub clients: BTreeMap<String, DiscoveryClient>,
}

impl AdapterState {
    pub fn discovering(&self) -> bool {
        self.clients.values().any(|c| c.discovering)
    }

    fn active_filters(&self) -> impl Iterator<Item = Option<&DiscoveryFilter>> {
        self.clients
            .values()
            .filter(|c| c.discovering)
            .map(|c| c.filter.as_ref())
    }

    /// Whether every active session has a filter (BlueZ then runs a filtered discovery).
    pub(super) fn filtered(&self) -> bool {
        self.discovering() && self.active_filters().all(|f| f.is_some())
    }

    pub(super) fn duplicate(&self) -> bool {
        self.active_filters().flatten().any(|f| f.duplicate)
    }

    pub(super) fn proximity(&self) -> bool {
        self.active_filters()
            .flatten()
            .any(|f| f.rssi.is_some() || f.pathloss.is_some())
    }

    /// BlueZ's `is_filter_match` (the kernel does the UUID/RSSI part for real adapters).
    pub(super) fn filter_match(&self, ad: &ParsedAd, rssi: i16) -> bool {
        for filter in self.active_filters() {
            let Some(f) = filter else { return true };
            let uuid_match = f.uuids.is_empty() || f.uuids.iter().any(|u| ad.services.contains(u));
            if !uuid_match {
                continue;
            }
            let rssi_ok = f.rssi.is_none_or(|t| rssi >= t);
            let pathloss_ok = match (f.pathloss, ad.tx_power) {
                (None, _) => true,
                (Some(max), Some(tx)) => i16::from(tx) - rssi <= max as i16,
                (Some(_), None) => false,
            };
            if rssi_ok && pathloss_ok {
                return true;
            }
        }
        false
    }

    /// BlueZ's `device_is_discoverable`: pattern filters, else the AD flags (unfiltered).
    pub(super) fn discoverable_report(&self, ad: &ParsedAd, address: BdAddr) -> bool {
        let mut discoverable = self.filtered() || ad.discoverable();
        for f in self.active_filters().flatten() {
            let Some(pattern) = &f.pattern else { continue };
            discoverable = false;
            if pattern.is_empty()
                || address
                    .to_string()
                    .to_ascii_lowercase()
                    .starts_with(&pattern.to_ascii_lowercase())
                || ad
                    .name
                    .as_ref()
                    .is_some_and(|(n, _)| n.starts_with(pattern.as_str()))
            {
                return true;
            }
        }
        discoverable
    }
}

fn sender_key(sender: &str) -> String {
    sender.to_string()
}

impl Core {
    pub async fn start_discovery(
        &self,
        conn: &Connection,
        sender: &str,
    ) -> Result<(), BluezDbusError> {
        let started = {
            let mut st = self.lock();
            if !st.adapter.powered || st.stopped {
                return Err(BluezDbusError::not_ready());
            }
            let was = st.adapter.discovering();
            let client = st.adapter.clients.entry(sender_key(sender)).or_default();
            if client.discovering {
                return Err(BluezDbusError::busy());
            }
            client.discovering = true;
            !was
        };
        if started {
            emit_properties_changed(
                conn,
                ADAPTER_PATH,
                ADAPTER_IFACE,
                PropChanges {
                    changed: vec![("Discovering", Value::from(true))],
                    invalidated: vec![],
                },
            )
            .await;
        }
        self.scan_now.notify_one();
        Ok(())
    }

    pub async fn stop_discovery(
        &self,
        conn: &Connection,
        sender: &str,
    ) -> Result<(), BluezDbusError> {
        let stopped = {
            let mut st = self.lock();
            if !st.adapter.powered || st.stopped {
                return Err(BluezDbusError::not_ready());
            }
            let key = sender_key(sender);
            match st.adapter.clients.get_mut(&key) {
                Some(c) if c.discovering => {
                    c.discovering = false;
                    if c.filter.is_none() {
                        st.adapter.clients.remove(&key);
                    }
                }
                _ => return Err(BluezDbusError::Failed("No discovery started".into())),
            }
            !st.adapter.discovering()
        };
        if stopped {
            self.discovery_stopped(conn).await;
        }
        Ok(())
    }

    /// BlueZ's `discovery_cleanup`: Discovering=false, RSSI/TxPower invalidated, temporary
    /// non-connectable devices removed.
    async fn discovery_stopped(&self, conn: &Connection) {
        emit_properties_changed(
            conn,
            ADAPTER_PATH,
            ADAPTER_IFACE,
            PropChanges {
                changed: vec![("Discovering", Value::from(false))],
                invalidated: vec![],
            },
        )
        .await;
        let _topology = self.topology.lock().await;
        let (updates, to_remove) = {
            let mut st = self.lock();
            let mut updates = Vec::new();
            let mut to_remove = Vec::new();
            for d in st.devices.values_mut() {
                let mut names = Vec::new();
                if d.rssi.take().is_some() {
                    names.push("RSSI");
                }
                if d.tx_power.take().is_some() {
                    names.push("TxPower");
                }
                if !names.is_empty() {
                    updates.push((d.path.clone(), d.changes(&names)));
                }
                if !d.connectable && !d.connected && !d.busy {
                    to_remove.push(d.address);
                }
            }
            (updates, to_remove)
        };
        for (path, changes) in updates {
            emit_properties_changed(conn, &path, DEVICE_IFACE, changes).await;
        }
        for address in to_remove {
            self.remove_device_object(conn, address).await;
        }
    }

    pub fn set_discovery_filter(
        &self,
        sender: &str,
        properties: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezDbusError> {
        let filter = parse_discovery_filter(properties)?;
        let mut st = self.lock();
        if !st.adapter.powered || st.stopped {
            return Err(BluezDbusError::not_ready());
        }
        let key = sender_key(sender);
        match st.adapter.clients.get_mut(&key) {
            Some(c) => {
                c.filter = filter;
                if c.filter.is_none() && !c.discovering {
                    st.adapter.clients.remove(&key);
                }
            }
            None => {
                if filter.is_some() {
                    st.adapter.clients.insert(
                        key,
                        DiscoveryClient {
                            discovering: false,
                            filter,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    pub async fn remove_device(
        &self,
        conn: &Connection,
        device: &str,
    ) -> Result<(), BluezDbusError> {
        let address = {
            let st = self.lock();
            if st.stopped {
                return Err(BluezDbusError::not_ready());
            }
            st.devices
                .values()
                .find(|d| d.path == device)
                .map(|d| d.address)
                .ok_or_else(BluezDbusError::does_not_exist)?
        };
        self.disconnect_link(conn, address, DisconnectReason::Local)
            .await;
        let _topology = self.topology.lock().await;
        self.remove_device_object(conn, address).await;
        Ok(())
    }

    /// `Powered` was set.
    pub async fn set_powered(&self, conn: &Connection, powered: bool) {
        let (was_discovering, connected) = {
            let mut st = self.lock();
            if st.adapter.powered == powered {
                return;
            }
            st.adapter.powered = powered;
            let was = st.adapter.discovering();
            if !powered {
                st.adapter.clients.clear();
            }
            let connected: Vec<BdAddr> = st
                .devices
                .values()
                .filter(|d| d.connected)
                .map(|d| d.address)
                .collect();
            (was, connected)
        };
        emit_properties_changed(
            conn,
            ADAPTER_PATH,
            ADAPTER_IFACE,
            PropChanges {
                changed: vec![(
                    "PowerState",
                    Value::from(if powered { "on" } else { "off" }),
                )],
                invalidated: vec![],
            },
        )
        .await;
        if !powered {
            for address in connected {
                self.disconnect_link(conn, address, DisconnectReason::Local)
                    .await;
            }
            if was_discovering {
                self.discovery_stopped(conn).await;
            }
        }
    }

    /// A D-Bus client left the bus: its discovery session and notify sessions end.
    pub async fn client_gone(&self, conn: &Connection, sender: &str) {
        let (stopped, notify_off) = {
            let mut st = self.lock();
            let was = st.adapter.discovering();
            st.adapter.clients.remove(sender);
            let stopped = was && !st.adapter.discovering();
            let mut notify_off = Vec::new();
            for d in st.devices.values_mut() {
                let Some(db) = d.gatt.as_mut() else { continue };
                for (i, c) in db.chars.iter_mut().enumerate() {
                    if c.sessions.remove(sender) && c.sessions.is_empty() {
                        notify_off.push((d.address, i));
                    }
                }
            }
            (stopped, notify_off)
        };
        if stopped {
            self.discovery_stopped(conn).await;
        }
        for (address, index) in notify_off {
            self.notifications_off(conn, address, index).await;
        }
    }
}

/// `SetDiscoveryFilter`'s dictionary; an empty dictionary clears the filter.
fn parse_discovery_filter(
    properties: HashMap<String, OwnedValue>,
) -> Result<Option<DiscoveryFilter>, BluezDbusError> {
    if properties.is_empty() {
        return Ok(None);
    }
    let invalid = BluezDbusError::invalid_args;
    let mut f = DiscoveryFilter::default();
    for (key, value) in &properties {
        let value: &Value<'_> = value;
        let value = match value {
            Value::Value(v) => v.as_ref(),
            v => v,
        };
        match key.as_str() {
            "UUIDs" => {
                let Value::Array(items) = value else {
                    return Err(invalid());
                };
                for item in items.iter() {
                    let Value::Str(s) = item else {
                        return Err(invalid());
                    };
                    f.uuids.push(parse_uuid_string(s).ok_or_else(invalid)?);
                }
            }
            "RSSI" => match value {
                Value::I16(r) if (-127..=20).contains(r) => f.rssi = Some(*r),
                _ => return Err(invalid()),
            },
            "Pathloss" => match value {
                Value::U16(p) if *p <= 137 => f.pathloss = Some(*p),
                _ => return Err(invalid()),
            },
            "Transport" => match value {
                Value::Str(s) if matches!(s.as_str(), "auto" | "le" | "bredr") => {}
                _ => return Err(invalid()),
            },
            "DuplicateData" => match value {
                Value::Bool(b) => f.duplicate = *b,
                _ => return Err(invalid()),
            },
            "Discoverable" | "AutoConnect" => match value {
                Value::Bool(_) => {}
                _ => return Err(invalid()),
            },
            "Pattern" => match value {
                Value::Str(s) => f.pattern = Some(s.to_string()),
                _ => return Err(invalid()),
            },
            _ => return Err(invalid()),
        }
    }
    if f.rssi.is_some() && f.pathloss.is_some() {
        return Err(invalid());
    }
    Ok(Some(f))
}
