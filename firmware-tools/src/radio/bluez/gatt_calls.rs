//! GATT calls on a connected device: `ReadValue`/`WriteValue` on characteristics (write
//! types and offsets as BlueZ parses them) and on CCCDs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedValue, Value};
use zbus::Connection;

use super::error::{read_error, write_error, BluezDbusError};
use super::gatt::{self, char_index_by_handle, CharDef, TILEBUS_CHARACTERISTICS};
use super::signals::{bytes_value, emit_properties_changed, PropChanges, CHAR_IFACE, DESC_IFACE};
use super::state::{blocking, lock_link, Core, LinkRef};
use crate::radio::{AttError, BdAddr};

/// How long a write-without-response keeps retrying while the peripheral says `Busy` (the
/// kernel queues ATT commands; it never fails them for flow control).
const COMMAND_RETRY_FOR: Duration = Duration::from_secs(2);

impl Core {
    /// The link and characteristic for a GATT call, or BlueZ's "Not connected".
    fn gatt_target(
        &self,
        address: BdAddr,
        decl_handle: u16,
    ) -> Result<(LinkRef, &'static CharDef, usize, String), BluezDbusError> {
        let st = self.lock();
        let d = st
            .devices
            .get(&address)
            .ok_or_else(BluezDbusError::not_connected_failure)?;
        let index = char_index_by_handle(decl_handle).ok_or_else(BluezDbusError::does_not_exist)?;
        let link = d
            .link
            .clone()
            .filter(|_| d.connected)
            .ok_or_else(BluezDbusError::not_connected_failure)?;
        let def = &TILEBUS_CHARACTERISTICS[index];
        Ok((link, def, index, gatt::char_path(&d.path, def)))
    }

    pub async fn read_value(
        &self,
        conn: &Connection,
        address: BdAddr,
        decl_handle: u16,
        options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezDbusError> {
        let (link, def, index, path) = self.gatt_target(address, decl_handle)?;
        let (offset, _) = parse_gatt_options(&options, false)?;
        let uuid = def.uuid16;
        let value = blocking(move || lock_link(&link).read(uuid))
            .await
            .unwrap_or(Err(AttError::Disconnected))
            .map_err(read_error)?;
        let offset = usize::from(offset);
        if offset > value.len() {
            return Err(BluezDbusError::InvalidArguments("Invalid offset".into()));
        }
        let value = value[offset..].to_vec();
        // BlueZ stores what it read in its cache and announces it (PropertiesChanged Value):
        // clients watching for notifications see reads too.
        let changes = {
            let mut st = self.lock();
            match st
                .devices
                .get_mut(&address)
                .and_then(|d| d.gatt.as_mut())
                .map(|db| &mut db.chars[index])
            {
                Some(c) => {
                    c.value.truncate(offset);
                    c.value.extend_from_slice(&value);
                    if c.value.is_empty() {
                        PropChanges {
                            changed: vec![],
                            invalidated: vec!["Value"],
                        }
                    } else {
                        PropChanges {
                            changed: vec![("Value", bytes_value(&c.value))],
                            invalidated: vec![],
                        }
                    }
                }
                None => PropChanges::default(),
            }
        };
        emit_properties_changed(conn, &path, CHAR_IFACE, changes).await;
        Ok(value)
    }

    pub async fn write_value(
        &self,
        address: BdAddr,
        decl_handle: u16,
        value: Vec<u8>,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezDbusError> {
        let (link, def, _, _) = self.gatt_target(address, decl_handle)?;
        let (offset, write_type) = parse_gatt_options(&options, true)?;
        let uuid = def.uuid16;
        let t = write_type.as_deref();

        // characteristic_write_value: reliable > request (flag "write") > command.
        if t.is_some_and(|t| t.eq_ignore_ascii_case("reliable"))
            || (t.is_none() && def.props().write)
            || t.is_some_and(|t| t.eq_ignore_ascii_case("request"))
        {
            if offset != 0 {
                return Err(BluezDbusError::InvalidArguments("Invalid offset".into()));
            }
            return blocking(move || lock_link(&link).write(uuid, &value, true))
                .await
                .unwrap_or(Err(AttError::Disconnected))
                .map_err(write_error);
        }
        let command = t.is_some_and(|t| t.eq_ignore_ascii_case("command"))
            || (t.is_none() && def.props().write_without_response);
        if command && offset == 0 {
            if value.len() > usize::from(self.options.att_mtu.saturating_sub(3)) {
                return Err(BluezDbusError::Failed("Failed to initiate write".into()));
            }
            let started = Instant::now();
            loop {
                let link = link.clone();
                let v = value.clone();
                let result = blocking(move || lock_link(&link).write(uuid, &v, false))
                    .await
                    .unwrap_or(Err(AttError::Disconnected));
                match result {
                    // ATT commands have no response: whatever the peripheral thought of it,
                    // the host only learns that the packet went out.
                    Ok(()) | Err(AttError::NotPermitted | AttError::InvalidLength) => return Ok(()),
                    Err(AttError::InvalidHandle) => return Ok(()),
                    Err(AttError::Busy) if started.elapsed() < COMMAND_RETRY_FOR => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err(AttError::Busy) => return Ok(()),
                    Err(AttError::Disconnected) => {
                        return Err(BluezDbusError::Failed("Failed to initiate write".into()))
                    }
                }
            }
        }
        // An unknown type, an offset on a command, or no usable property.
        Err(BluezDbusError::not_supported())
    }

    /// Reads a CCCD: the host's own configuration (`01 00` while notifications are on).
    pub async fn read_cccd(
        &self,
        conn: &Connection,
        address: BdAddr,
        decl_handle: u16,
        options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezDbusError> {
        let index = char_index_by_handle(decl_handle).ok_or_else(BluezDbusError::does_not_exist)?;
        let def = &TILEBUS_CHARACTERISTICS[index];
        let (offset, _) = parse_gatt_options(&options, false)?;
        let (value, path) = {
            let mut st = self.lock();
            let d = st
                .devices
                .get_mut(&address)
                .filter(|d| d.connected)
                .ok_or_else(BluezDbusError::not_connected_failure)?;
            let path = d.path.clone();
            let c = d
                .gatt
                .as_mut()
                .map(|db| &mut db.chars[index])
                .ok_or_else(BluezDbusError::not_connected_failure)?;
            let value = vec![u8::from(!c.sessions.is_empty()), 0];
            let offset = usize::from(offset);
            if offset > value.len() {
                return Err(BluezDbusError::InvalidArguments("Invalid offset".into()));
            }
            c.cccd_value = value.clone();
            (value[offset..].to_vec(), path)
        };
        if let Some(cccd) = def.cccd_handle {
            emit_properties_changed(
                conn,
                &gatt::cccd_path(&path, def, cccd),
                DESC_IFACE,
                PropChanges {
                    changed: vec![("Value", bytes_value(&value))],
                    invalidated: vec![],
                },
            )
            .await;
        }
        Ok(value)
    }

    pub fn write_cccd(
        &self,
        address: BdAddr,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezDbusError> {
        let connected = self
            .lock()
            .devices
            .get(&address)
            .is_some_and(|d| d.connected);
        if !connected {
            return Err(BluezDbusError::not_connected_failure());
        }
        parse_gatt_options(&options, false)?;
        // BlueZ refuses direct CCCD writes: StartNotify/StopNotify do that.
        Err(BluezDbusError::NotPermitted("Write not permitted".into()))
    }
}

/// `offset` (must be `q`) and `type` (must be `s`) from a ReadValue/WriteValue options dict.
fn parse_gatt_options(
    options: &HashMap<String, OwnedValue>,
    with_type: bool,
) -> Result<(u16, Option<String>), BluezDbusError> {
    let mut offset = 0u16;
    let mut write_type = None;
    for (key, value) in options {
        let value: &Value<'_> = value;
        let inner = match value {
            Value::Value(v) => v.as_ref(),
            v => v,
        };
        if key.eq_ignore_ascii_case("offset") {
            match inner {
                Value::U16(o) => offset = *o,
                _ => return Err(BluezDbusError::invalid_args()),
            }
        }
        if with_type && key.eq_ignore_ascii_case("type") {
            match inner {
                Value::Str(s) => write_type = Some(s.to_string()),
                _ => return Err(BluezDbusError::invalid_args()),
            }
        }
    }
    Ok((offset, write_type))
}
