//! What the D-Bus objects and background tasks share: [`Core`] and its [`State`], plus the
//! peripherals on the air and shutdown.
//!
//! The behaviour lives in sibling modules, each adding an `impl Core` block: `adapter`
//! (power, discovery, `RemoveDevice`), `scan` (the radio loop), `device` (device objects),
//! `link` (connections), `gatt_calls` (reads and writes), `notify` (notify sessions and
//! notification delivery).
//!
//! Locking: `Core::state` is a std mutex, never held across an `.await`. Object-server changes
//! for device objects are serialised by `Core::topology`; everything a link emits (connect,
//! notifications, teardown) is serialised per device by `Device::emit_lock`, so a
//! `Connected=false` or `InterfacesRemoved` never overtakes a notification of the same link.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::adapter::AdapterState;
use super::device::Device;
use super::BluezOptions;
use crate::radio::{BdAddr, GattLink, Peripheral};

pub(crate) type LinkRef = Arc<Mutex<Box<dyn GattLink>>>;

pub(super) fn lock_link(link: &LinkRef) -> MutexGuard<'_, Box<dyn GattLink>> {
    link.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a blocking call on a peripheral or link off the async threads; `None` if it panicked.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The mutable state, behind `Core::state`.
pub(crate) struct State {
    pub adapter: AdapterState,
    pub peripherals: Vec<Arc<dyn Peripheral>>,
    pub devices: BTreeMap<BdAddr, Device>,
    pub tasks: Vec<AbortHandle>,
    pub stopped: bool,
}

/// Everything the D-Bus objects and background tasks share.
pub(crate) struct Core {
    pub options: BluezOptions,
    pub state: Mutex<State>,
    pub topology: tokio::sync::Mutex<()>,
    pub scan_now: Notify,
}

impl Core {
    pub fn new(options: BluezOptions, peripherals: Vec<Arc<dyn Peripheral>>) -> Core {
        Core {
            options,
            state: Mutex::new(State {
                adapter: AdapterState {
                    powered: true,
                    discoverable: false,
                    discoverable_timeout: 180,
                    pairable: false,
                    pairable_timeout: 0,
                    connectable: true,
                    alias: None,
                    clients: BTreeMap::new(),
                },
                peripherals,
                devices: BTreeMap::new(),
                tasks: Vec::new(),
                stopped: false,
            }),
            topology: tokio::sync::Mutex::new(()),
            scan_now: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts a peripheral on the air; `false` if one with its address already is.
    pub fn add_peripheral(&self, peripheral: Arc<dyn Peripheral>) -> bool {
        let address = peripheral.address();
        let mut st = self.lock();
        if st.peripherals.iter().any(|p| p.address() == address) {
            return false;
        }
        st.peripherals.push(peripheral);
        drop(st);
        self.scan_now.notify_one();
        true
    }

    /// Takes a peripheral off the air (its link and device object are left to the caller).
    pub fn take_peripheral(&self, address: BdAddr) -> Option<Arc<dyn Peripheral>> {
        let mut st = self.lock();
        let index = st.peripherals.iter().position(|p| p.address() == address)?;
        Some(st.peripherals.remove(index))
    }

    /// Stops everything: tasks aborted, links dropped (host side).
    pub fn shutdown(&self) -> Vec<LinkRef> {
        let mut st = self.lock();
        st.stopped = true;
        for t in st.tasks.drain(..) {
            t.abort();
        }
        let mut links = Vec::new();
        for d in st.devices.values_mut() {
            if let Some(link) = d.link.take() {
                d.connected = false;
                d.generation += 1;
                links.push(link);
            }
        }
        links
    }
}
