//! The radio loop: every advertising interval, each in-range peripheral is heard once while
//! discovering; reports create or refresh device objects, and devices not heard for
//! [`BluezOptions::temporary_timeout`](super::BluezOptions::temporary_timeout) expire.

use std::sync::Arc;

use zbus::Connection;

use super::ad::ParsedAd;
use super::device::Device;
use super::iface::DeviceIface;
use super::signals::{emit_properties_changed, DEVICE_IFACE};
use super::state::{blocking, Core};
use crate::radio::{BdAddr, Peripheral};

/// What a blocking call on a peripheral reported during a scan.
struct Report {
    peripheral: Arc<dyn Peripheral>,
    address: BdAddr,
    data: Option<(Vec<u8>, bool)>,
    rssi: i16,
}

impl Core {
    /// The radio loop: every advertising interval, hear every in-range peripheral once.
    pub async fn run_scanner(self: Arc<Self>, conn: Connection) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.options.advertising_interval) => {}
                _ = self.scan_now.notified() => {}
            }
            if self.lock().stopped {
                return;
            }
            self.scan_tick(&conn).await;
        }
    }

    async fn scan_tick(self: &Arc<Self>, conn: &Connection) {
        let (peripherals, discovering) = {
            let st = self.lock();
            (
                st.peripherals.clone(),
                st.adapter.powered && st.adapter.discovering(),
            )
        };
        if discovering && !peripherals.is_empty() {
            let reports = blocking(move || {
                peripherals
                    .into_iter()
                    .map(|p| {
                        let address = p.address();
                        let data = p.advertising().map(|a| {
                            // Active scanning: the kernel merges ADV_IND and SCAN_RSP.
                            let mut d = a.advertisement.clone();
                            if let Some(sr) = &a.scan_response {
                                d.extend_from_slice(sr);
                            }
                            (d, a.connectable)
                        });
                        let rssi = p.rssi();
                        Report {
                            peripheral: p,
                            address,
                            data,
                            rssi,
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            for report in reports {
                self.process_report(conn, report).await;
            }
        }
        self.expire_devices(conn).await;
        self.lock().tasks.retain(|t| !t.is_finished());
    }

    async fn process_report(self: &Arc<Self>, conn: &Connection, report: Report) {
        let Some((data, connectable)) = report.data else {
            return;
        };
        let ad = ParsedAd::parse(&data);
        let rssi = report.rssi.clamp(-127, 20);
        let _topology = self.topology.lock().await;
        let (path, changes, created) = {
            let mut st = self.lock();
            if st.stopped || !st.adapter.powered || !st.adapter.discovering() {
                return;
            }
            if !st
                .peripherals
                .iter()
                .any(|p| Arc::ptr_eq(p, &report.peripheral))
            {
                return;
            }
            if !st.adapter.discoverable_report(&ad, report.address) {
                return;
            }
            if st.adapter.filtered() && !st.adapter.filter_match(&ad, rssi) {
                return;
            }
            let duplicate = st.adapter.duplicate();
            let proximity = st.adapter.proximity();
            let created = !st.devices.contains_key(&report.address);
            let device = st
                .devices
                .entry(report.address)
                .or_insert_with(|| Device::new(report.peripheral.clone(), report.address));
            if !Arc::ptr_eq(&device.peripheral, &report.peripheral) && !device.connected {
                // A new peripheral took over an address whose device object still exists.
                device.peripheral = report.peripheral.clone();
            }
            let names = device.apply_report(&ad, rssi, connectable, duplicate, proximity);
            (device.path.clone(), device.changes(&names), created)
        };
        if created {
            let iface = DeviceIface::new(self.clone(), report.address);
            if let Err(e) = conn.object_server().at(path.as_str(), iface).await {
                tracing::warn!("exporting {path}: {e}");
            }
        } else {
            emit_properties_changed(conn, &path, DEVICE_IFACE, changes).await;
        }
    }

    /// Removes devices not seen for `temporary_timeout` (BlueZ's temporary-device timer).
    async fn expire_devices(&self, conn: &Connection) {
        let timeout = self.options.temporary_timeout;
        let expired: Vec<BdAddr> = {
            let st = self.lock();
            st.devices
                .values()
                .filter(|d| !d.connected && !d.busy && d.last_seen.elapsed() >= timeout)
                .map(|d| d.address)
                .collect()
        };
        for address in expired {
            let _topology = self.topology.lock().await;
            let still_expired = {
                let st = self.lock();
                st.devices
                    .get(&address)
                    .is_some_and(|d| !d.connected && !d.busy && d.last_seen.elapsed() >= timeout)
            };
            if still_expired {
                self.remove_device_object(conn, address).await;
            }
        }
    }
}
