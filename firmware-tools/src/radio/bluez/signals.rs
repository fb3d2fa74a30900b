//! `PropertiesChanged`: the interface names it carries, byte-array values, batches of changed
//! and invalidated properties, and their emission.

use std::borrow::Cow;
use std::collections::HashMap;

use zbus::names::InterfaceName;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};
use zbus::Connection;

pub(crate) const DEVICE_IFACE: &str = "org.bluez.Device1";
pub(crate) const ADAPTER_IFACE: &str = "org.bluez.Adapter1";
pub(crate) const CHAR_IFACE: &str = "org.bluez.GattCharacteristic1";
pub(crate) const DESC_IFACE: &str = "org.bluez.GattDescriptor1";

pub(crate) fn bytes_value(v: &[u8]) -> Value<'static> {
    Value::from(v.to_vec())
}

/// A byte array as an owned variant value (`ay`); converting bytes cannot fail.
pub(super) fn owned_bytes(v: &[u8]) -> OwnedValue {
    OwnedValue::try_from(bytes_value(v)).unwrap_or_else(|_| OwnedValue::from(0u8))
}

/// A batch of property changes for one PropertiesChanged signal.
#[derive(Default)]
pub(crate) struct PropChanges {
    pub changed: Vec<(&'static str, Value<'static>)>,
    pub invalidated: Vec<&'static str>,
}

impl PropChanges {
    fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.invalidated.is_empty()
    }
}

pub(crate) async fn emit_properties_changed(
    conn: &Connection,
    path: &str,
    interface: &'static str,
    changes: PropChanges,
) {
    if changes.is_empty() {
        return;
    }
    let Ok(emitter) = SignalEmitter::new(conn, path.to_string()) else {
        return;
    };
    let changed: HashMap<&str, Value<'_>> = changes.changed.into_iter().collect();
    let result = zbus::fdo::Properties::properties_changed(
        &emitter,
        InterfaceName::from_static_str_unchecked(interface),
        changed,
        Cow::Owned(changes.invalidated),
    )
    .await;
    if let Err(e) = result {
        tracing::debug!("PropertiesChanged on {path}: {e}");
    }
}
