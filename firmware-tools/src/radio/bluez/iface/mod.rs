//! The D-Bus objects: `org.bluez.Adapter1`, `Device1`, `GattService1`, `GattCharacteristic1`,
//! `GattDescriptor1`. They are thin views of [`Core`]. Adapter and GATT methods are dispatched
//! in arrival order (`spawn = false`), like BlueZ's single main loop, so back-to-back writes
//! reach the peripheral in the order they were sent; `Device1` methods run concurrently
//! (`Connect` to one peripheral does not hold up calls to another) and are serialised per
//! device by the core.

mod adapter;
mod device;
mod gatt;

use zbus::fdo;
use zbus::message::Header;
use zbus::zvariant::OwnedObjectPath;

#[cfg(doc)]
use super::state::Core;
pub(crate) use adapter::AdapterIface;
pub(crate) use device::DeviceIface;
pub(crate) use gatt::{export_gatt_objects, remove_gatt_objects};

fn no_such_property(name: &str) -> fdo::Error {
    fdo::Error::InvalidArgs(format!("No such property '{name}'"))
}

fn sender(hdr: &Header<'_>) -> String {
    hdr.sender().map(|s| s.to_string()).unwrap_or_default()
}

fn object_path(path: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(path.to_string()).unwrap_or_default()
}
