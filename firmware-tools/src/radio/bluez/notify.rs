//! Notifications: per-client notify sessions (`StartNotify`/`StopNotify`, the CCCD written
//! when the first starts and the last ends) and delivery of the peripheral's notifications as
//! `PropertiesChanged` of `Value`, one signal per notification, in order.

use zbus::zvariant::Value;
use zbus::Connection;

use super::error::{write_error, BluezDbusError};
use super::gatt::{self, char_index_by_handle, char_index_by_uuid16, TILEBUS_CHARACTERISTICS};
use super::signals::{bytes_value, emit_properties_changed, PropChanges, CHAR_IFACE};
use super::state::{blocking, lock_link, Core};
use crate::radio::{AttError, BdAddr};

impl Core {
    pub async fn start_notify(
        &self,
        conn: &Connection,
        address: BdAddr,
        decl_handle: u16,
        sender: &str,
    ) -> Result<(), BluezDbusError> {
        let index = char_index_by_handle(decl_handle).ok_or_else(BluezDbusError::does_not_exist)?;
        let def = &TILEBUS_CHARACTERISTICS[index];
        let (link, first, path) = {
            let mut st = self.lock();
            let d = st
                .devices
                .get_mut(&address)
                .ok_or_else(BluezDbusError::not_connected_failure)?;
            if !def.props().notify {
                return Err(BluezDbusError::not_supported());
            }
            let link = d.link.clone().filter(|_| d.connected);
            let path = gatt::char_path(&d.path, def);
            let Some(c) = d.gatt.as_mut().map(|db| &mut db.chars[index]) else {
                return Err(BluezDbusError::not_connected_failure());
            };
            if c.sessions.contains(sender) {
                return Ok(());
            }
            let first = c.sessions.is_empty();
            c.sessions.insert(sender.to_string());
            (link, first, path)
        };
        // Not connected (cached database): the session is kept and registered on reconnect.
        let Some(link) = link else { return Ok(()) };
        if first {
            let uuid = def.uuid16;
            let result = blocking(move || lock_link(&link).set_notify(uuid, true))
                .await
                .unwrap_or(Err(AttError::Disconnected));
            if let Err(e) = result {
                if let Some(c) = self
                    .lock()
                    .devices
                    .get_mut(&address)
                    .and_then(|d| d.gatt.as_mut())
                    .map(|db| &mut db.chars[index])
                {
                    c.sessions.remove(sender);
                }
                return Err(write_error(e));
            }
            emit_properties_changed(
                conn,
                &path,
                CHAR_IFACE,
                PropChanges {
                    changed: vec![("Notifying", Value::from(true))],
                    invalidated: vec![],
                },
            )
            .await;
        }
        Ok(())
    }

    pub async fn stop_notify(
        &self,
        conn: &Connection,
        address: BdAddr,
        decl_handle: u16,
        sender: &str,
    ) -> Result<(), BluezDbusError> {
        let index = char_index_by_handle(decl_handle).ok_or_else(BluezDbusError::does_not_exist)?;
        let last = {
            let mut st = self.lock();
            let c = st
                .devices
                .get_mut(&address)
                .and_then(|d| d.gatt.as_mut())
                .map(|db| &mut db.chars[index]);
            match c {
                Some(c) if c.sessions.contains(sender) => {
                    c.sessions.remove(sender);
                    c.sessions.is_empty()
                }
                _ => return Err(BluezDbusError::Failed("No notify session started".into())),
            }
        };
        if last {
            self.notifications_off(conn, address, index).await;
        }
        Ok(())
    }

    /// The last notify session of a characteristic ended: CCCD off, Notifying=false.
    pub(super) async fn notifications_off(&self, conn: &Connection, address: BdAddr, index: usize) {
        let def = &TILEBUS_CHARACTERISTICS[index];
        let (link, path) = {
            let st = self.lock();
            let Some(d) = st.devices.get(&address) else {
                return;
            };
            (
                d.link.clone().filter(|_| d.connected),
                gatt::char_path(&d.path, def),
            )
        };
        if let Some(link) = link {
            let uuid = def.uuid16;
            let _ = blocking(move || lock_link(&link).set_notify(uuid, false)).await;
        }
        emit_properties_changed(
            conn,
            &path,
            CHAR_IFACE,
            PropChanges {
                changed: vec![("Notifying", Value::from(false))],
                invalidated: vec![],
            },
        )
        .await;
    }

    pub(super) async fn deliver_notification(
        &self,
        conn: &Connection,
        address: BdAddr,
        generation: u64,
        uuid16: u16,
        value: Vec<u8>,
    ) {
        let Some(emit_lock) = self.emit_lock(address) else {
            return;
        };
        let _emit = emit_lock.lock().await;
        let path = {
            let mut st = self.lock();
            let Some(d) = st.devices.get_mut(&address) else {
                return;
            };
            if d.generation != generation || !d.connected {
                return;
            }
            let Some(index) = char_index_by_uuid16(uuid16) else {
                return;
            };
            let def = &TILEBUS_CHARACTERISTICS[index];
            let path = gatt::char_path(&d.path, def);
            let Some(c) = d.gatt.as_mut().map(|db| &mut db.chars[index]) else {
                return;
            };
            // Notifications on a handle nobody registered for are dropped by BlueZ.
            if c.sessions.is_empty() {
                return;
            }
            c.value = value.clone();
            path
        };
        emit_properties_changed(
            conn,
            &path,
            CHAR_IFACE,
            PropChanges {
                changed: vec![("Value", bytes_value(&value))],
                invalidated: vec![],
            },
        )
        .await;
    }
}
