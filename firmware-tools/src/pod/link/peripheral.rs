//! The [`Peripheral`] side of a [`VirtualPod`]: advertising, connect, and the link's
//! lifecycle (who ends it, and what the model learns when it ends).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::connection::connection_task;
use super::gatt::{ConnShared, GattState, PodLink};
use super::{lock, Inner, VirtualPod};
use crate::pod::model::PodModel;
use crate::radio::{Advertising, BdAddr, ConnectError, Connection, Peripheral};

/// Events a link buffers before the POD waits for the host.
const EVENT_QUEUE: usize = 64;

impl Peripheral for VirtualPod {
    fn address(&self) -> BdAddr {
        self.inner.address
    }

    fn name(&self) -> String {
        self.inner.gap_name.clone()
    }

    fn advertising(&self) -> Option<Advertising> {
        if self.inner.stop.is_cancelled() || lock(&self.inner.effects).effects.out_of_range {
            return None;
        }
        let data = self.with_model(|model| model.advertisement_data());
        let advertiser = lock(&self.inner.advertiser).clone();
        Some(advertiser(&data))
    }

    fn rssi(&self) -> i16 {
        self.inner.rssi
    }

    fn connect(&self) -> Result<Connection, ConnectError> {
        if self.inner.stop.is_cancelled() || lock(&self.inner.effects).effects.out_of_range {
            return Err(ConnectError::OutOfRange);
        }
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let conn = {
            let mut slot = lock(&self.inner.connection);
            if slot.is_some() {
                return Err(ConnectError::Busy);
            }
            let boot = {
                let mut model = lock(&self.inner.model);
                self.inner.sync_clock(&mut model);
                model.set_user_connected(true);
                model.reboot_count()
            };
            let conn = Arc::new(ConnShared {
                id: self.inner.next_connection.fetch_add(1, Ordering::Relaxed),
                cancel: CancellationToken::new(),
                host_ended: Mutex::new(None),
                boot,
                queue: queue_tx,
                pending_rpcs: AtomicUsize::new(0),
                gatt: Mutex::new(GattState::default()),
            });
            *slot = Some(conn.clone());
            conn
        };
        self.inner.runtime.spawn(connection_task(
            self.inner.clone(),
            conn.clone(),
            queue_rx,
            events_tx,
        ));
        Ok(Connection {
            link: Box::new(PodLink {
                inner: self.inner.clone(),
                conn,
            }),
            events: events_rx,
        })
    }
}

impl Inner {
    pub(super) fn current(&self) -> Option<Arc<ConnShared>> {
        lock(&self.connection).clone()
    }

    /// After the model changed outside the connection task: a reset drops the link, and the
    /// connection may have something new to send.
    pub(super) fn after_model_change(&self) {
        let boot = lock(&self.model).reboot_count();
        if let Some(conn) = self.current() {
            if conn.boot != boot {
                self.end_connection(conn.id, false);
            }
        }
        self.wake.notify_one();
    }

    pub(super) fn drop_link(&self) {
        if let Some(conn) = self.current() {
            self.end_connection(conn.id, false);
        }
    }

    /// Ends link `id` (idempotent): the model learns the link is gone, the connection task
    /// stops and, unless the host ended it, tells the host it was dropped.
    pub(super) fn end_connection(&self, id: u64, host: bool) {
        let conn = {
            let mut slot = lock(&self.connection);
            match slot.as_ref() {
                Some(conn) if conn.id == id => slot.take(),
                _ => None,
            }
        };
        let Some(conn) = conn else {
            return;
        };
        lock(&conn.host_ended).get_or_insert(host);
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            model.link_lost();
        }
        conn.cancel.cancel();
    }

    pub(super) fn with_model_raw(&self, f: impl FnOnce(&mut PodModel)) {
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            f(&mut model);
        }
        self.after_model_change();
    }
}
