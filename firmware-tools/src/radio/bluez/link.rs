//! Links: `Device1.Connect` (GATT objects exported, GAP name read, services resolved), the
//! link's event task, and every way a link ends (host `Disconnect`, the peripheral dropping
//! it or leaving the radio) with BlueZ's teardown.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::Value;
use zbus::Connection;

use super::device::GattDb;
use super::error::BluezDbusError;
use super::gatt::{self, TILEBUS_CHARACTERISTICS};
use super::iface::{export_gatt_objects, remove_gatt_objects, DeviceIface};
use super::signals::{emit_properties_changed, PropChanges, CHAR_IFACE, DEVICE_IFACE};
use super::state::{blocking, lock_link, Core, LinkRef};
use super::GattCache;
use crate::radio::{BdAddr, LinkEvent};

/// Why a link went down (BlueZ's `Device1.Disconnected` reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisconnectReason {
    /// The host asked (`Disconnect`, `RemoveDevice`, power off, shutdown).
    Local,
    /// The peripheral stopped answering (out of range, reset): supervision timeout.
    Timeout,
}

impl DisconnectReason {
    fn name_and_message(self) -> (&'static str, &'static str) {
        match self {
            DisconnectReason::Local => (
                "org.bluez.Reason.Local",
                "Connection terminated by local host",
            ),
            DisconnectReason::Timeout => ("org.bluez.Reason.Timeout", "Connection timeout"),
        }
    }
}

impl Core {
    pub async fn connect(
        self: &Arc<Self>,
        conn: &Connection,
        address: BdAddr,
    ) -> Result<(), BluezDbusError> {
        let (peripheral, emit_lock) = {
            let mut st = self.lock();
            if st.stopped {
                return Err(BluezDbusError::not_ready());
            }
            let powered = st.adapter.powered;
            let d = st
                .devices
                .get_mut(&address)
                .ok_or_else(BluezDbusError::does_not_exist)?;
            if d.busy {
                return Err(BluezDbusError::in_progress());
            }
            if d.connected {
                return Ok(());
            }
            if !powered {
                return Err(BluezDbusError::Failed(
                    "le-connection-adapter-not-powered".into(),
                ));
            }
            d.busy = true;
            (d.peripheral.clone(), d.emit_lock.clone())
        };
        let _emit = emit_lock.lock().await;
        let attempt = blocking(move || {
            let result = peripheral.connect();
            // BlueZ's GAP plugin reads the Device Name right after connecting.
            let name = peripheral.name();
            (result, name)
        })
        .await;
        let (connection, gap_name) = match attempt {
            Some((Ok(c), name)) => (c, name),
            Some((Err(e), _)) => {
                self.unbusy(address);
                tracing::debug!("connecting {address}: {e}");
                return Err(BluezDbusError::Failed(
                    "le-connection-abort-by-local".into(),
                ));
            }
            None => {
                self.unbusy(address);
                return Err(BluezDbusError::Failed(
                    "le-connection-abort-by-local".into(),
                ));
            }
        };
        let link: LinkRef = Arc::new(Mutex::new(connection.link));
        let registered = {
            let mut st = self.lock();
            match st.devices.get_mut(&address) {
                None => None,
                Some(d) => {
                    d.connected = true;
                    d.busy = false;
                    d.generation += 1;
                    d.link = Some(link.clone());
                    let export = d.gatt.is_none();
                    if export {
                        d.gatt = Some(GattDb::new());
                    }
                    let resubscribe: Vec<usize> = d
                        .gatt
                        .as_ref()
                        .map(|db| {
                            db.chars
                                .iter()
                                .enumerate()
                                .filter(|(_, c)| !c.sessions.is_empty())
                                .map(|(i, _)| i)
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((d.path.clone(), d.generation, export, resubscribe))
                }
            }
        };
        let Some((path, generation, export, resubscribe)) = registered else {
            // RemoveDevice won the race: the device object is gone.
            let _ = blocking(move || lock_link(&link).disconnect()).await;
            return Err(BluezDbusError::does_not_exist());
        };
        emit_properties_changed(
            conn,
            &path,
            DEVICE_IFACE,
            PropChanges {
                changed: vec![("Connected", Value::from(true))],
                invalidated: vec![],
            },
        )
        .await;

        if export {
            export_gatt_objects(self, conn, address, &path).await;
        } else {
            // Cached database: the objects stayed; MTU exists again.
            for def in TILEBUS_CHARACTERISTICS.iter() {
                emit_properties_changed(
                    conn,
                    &gatt::char_path(&path, def),
                    CHAR_IFACE,
                    PropChanges {
                        changed: vec![("MTU", Value::from(self.options.att_mtu))],
                        invalidated: vec![],
                    },
                )
                .await;
            }
        }
        for index in resubscribe {
            let uuid = TILEBUS_CHARACTERISTICS[index].uuid16;
            let link = link.clone();
            let _ = blocking(move || lock_link(&link).set_notify(uuid, true)).await;
        }

        let changes = {
            let mut st = self.lock();
            match st.devices.get_mut(&address) {
                Some(d) if d.generation == generation => {
                    let mut names = Vec::new();
                    let old_uuids = d.uuids();
                    if d.name.as_ref() != Some(&gap_name) {
                        d.name = Some(gap_name);
                        names.push("Name");
                        if d.alias.is_none() {
                            names.push("Alias");
                        }
                    }
                    d.services_resolved = true;
                    if d.uuids() != old_uuids {
                        names.push("UUIDs");
                    }
                    names.push("ServicesResolved");
                    d.changes(&names)
                }
                _ => PropChanges::default(),
            }
        };
        emit_properties_changed(conn, &path, DEVICE_IFACE, changes).await;

        let core = self.clone();
        let conn2 = conn.clone();
        let events = connection.events;
        let task = tokio::spawn(async move {
            core.link_events(conn2, address, generation, events).await;
        });
        self.lock().tasks.push(task.abort_handle());
        Ok(())
    }

    fn unbusy(&self, address: BdAddr) {
        if let Some(d) = self.lock().devices.get_mut(&address) {
            d.busy = false;
        }
    }

    async fn link_events(
        self: Arc<Self>,
        conn: Connection,
        address: BdAddr,
        generation: u64,
        mut events: mpsc::Receiver<LinkEvent>,
    ) {
        while let Some(event) = events.recv().await {
            match event {
                LinkEvent::Notify {
                    characteristic,
                    value,
                } => {
                    self.deliver_notification(&conn, address, generation, characteristic, value)
                        .await;
                }
                LinkEvent::Disconnected => break,
            }
        }
        self.link_lost(&conn, address, generation).await;
    }

    /// The lock that orders everything one device's link emits, if the device is known.
    pub(super) fn emit_lock(&self, address: BdAddr) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.lock()
            .devices
            .get(&address)
            .map(|d| d.emit_lock.clone())
    }

    /// The peripheral dropped the link (its event channel said so, or closed).
    async fn link_lost(&self, conn: &Connection, address: BdAddr, generation: u64) {
        let Some(emit_lock) = self.emit_lock(address) else {
            return;
        };
        let _emit = emit_lock.lock().await;
        let taken = {
            let mut st = self.lock();
            match st.devices.get_mut(&address) {
                Some(d) if d.generation == generation && d.connected => {
                    d.generation += 1;
                    d.link.take()
                }
                _ => None,
            }
        };
        if taken.is_some() {
            self.teardown(conn, address, DisconnectReason::Timeout)
                .await;
        }
    }

    /// `Device1.Disconnect` and friends: drops the link from the host side.
    pub async fn disconnect_link(
        &self,
        conn: &Connection,
        address: BdAddr,
        reason: DisconnectReason,
    ) {
        let Some(emit_lock) = self.emit_lock(address) else {
            return;
        };
        let _emit = emit_lock.lock().await;
        let taken = {
            let mut st = self.lock();
            match st.devices.get_mut(&address) {
                Some(d) if d.connected => {
                    d.generation += 1;
                    d.link.take()
                }
                _ => None,
            }
        };
        if let Some(link) = taken {
            let _ = blocking(move || lock_link(&link).disconnect()).await;
            self.teardown(conn, address, reason).await;
        }
    }

    /// After a link went down (state already has no link; emit lock held): Connected and
    /// ServicesResolved false, the Disconnected signal, GATT objects removed unless cached.
    async fn teardown(&self, conn: &Connection, address: BdAddr, reason: DisconnectReason) {
        let cache = self.options.gatt_cache == GattCache::Always;
        let (path, changes, remove_gatt) = {
            let mut st = self.lock();
            let Some(d) = st.devices.get_mut(&address) else {
                return;
            };
            let old_uuids = d.uuids();
            d.connected = false;
            d.services_resolved = false;
            d.last_seen = Instant::now();
            let mut names = vec!["ServicesResolved", "Connected"];
            if d.uuids() != old_uuids {
                names.push("UUIDs");
            }
            let remove_gatt = if cache {
                false
            } else {
                d.gatt.take().is_some()
            };
            (d.path.clone(), d.changes(&names), remove_gatt)
        };
        emit_properties_changed(conn, &path, DEVICE_IFACE, changes).await;
        let (name, message) = reason.name_and_message();
        if let Ok(emitter) = SignalEmitter::new(conn, path.clone()) {
            if let Err(e) = DeviceIface::disconnected(&emitter, name, message).await {
                tracing::debug!("Disconnected signal on {path}: {e}");
            }
        }
        if remove_gatt {
            remove_gatt_objects(conn, &path).await;
        } else if cache {
            for def in TILEBUS_CHARACTERISTICS.iter() {
                emit_properties_changed(
                    conn,
                    &gatt::char_path(&path, def),
                    CHAR_IFACE,
                    PropChanges {
                        changed: vec![],
                        invalidated: vec!["MTU"],
                    },
                )
                .await;
            }
        }
    }

    /// Ends a link because its peripheral left the radio.
    pub async fn peripheral_removed(&self, conn: &Connection, address: BdAddr) {
        self.disconnect_link(conn, address, DisconnectReason::Timeout)
            .await;
    }
}
