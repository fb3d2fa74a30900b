//! The GATT link one host sees: TileBus characteristic writes, reads and notification
//! switches (RPCs, streaming, high-speed script chunks, tracing). Writes without response
//! may be refused as "buffers full" when the radio effects say so, as a real controller
//! does under load, so hosts' resend paths can be tested.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sync_protocol::rpc::{RpcRequest, RpcResponse, MAX_PAYLOAD};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::connection::Outgoing;
use super::{characteristic, lock, Inner};
use crate::radio::{AttError, GattLink};

pub(super) struct ConnShared {
    pub(super) id: u64,
    pub(super) cancel: CancellationToken,
    /// Set by whoever ends the link: whether the host asked for it.
    pub(super) host_ended: Mutex<Option<bool>>,
    /// The model's reboot count when the link opened: a reset drops the link.
    pub(super) boot: u32,
    pub(super) queue: mpsc::UnboundedSender<Outgoing>,
    pub(super) pending_rpcs: AtomicUsize,
    pub(super) gatt: Mutex<GattState>,
}

#[derive(Default)]
pub(super) struct GattState {
    pub(super) rpc_header_notify: bool,
    pub(super) rpc_payload_notify: bool,
    pub(super) streaming: bool,
    pub(super) tracing: bool,
    pub(super) send_payload: Vec<u8>,
    pub(super) receive_header: Vec<u8>,
    pub(super) receive_payload: Vec<u8>,
}

/// One host's view of the GATT table.
pub(super) struct PodLink {
    pub(super) inner: Arc<Inner>,
    pub(super) conn: Arc<ConnShared>,
}

impl PodLink {
    fn alive(&self) -> Result<(), AttError> {
        if self.conn.cancel.is_cancelled() {
            Err(AttError::Disconnected)
        } else {
            Ok(())
        }
    }

    /// Whether the radio effects refuse this write-without-response as "buffers full".
    fn buffers_full(&self) -> bool {
        let mut state = lock(&self.inner.effects);
        let Some(n) = state.effects.buffers_full_every_nth_write else {
            return false;
        };
        state.writes += 1;
        n >= 2 && state.writes % n == 0
    }

    fn run_rpc(&self, header: &[u8]) -> Result<(), AttError> {
        let (request, rpc_open) = {
            let gatt = lock(&self.conn.gatt);
            let mut payload = gatt.send_payload.clone();
            payload.resize(MAX_PAYLOAD, 0);
            let request =
                RpcRequest::from_header(header, &payload).map_err(|_| AttError::InvalidLength)?;
            (request, gatt.rpc_header_notify && gatt.rpc_payload_notify)
        };
        if !rpc_open {
            return Ok(());
        }
        let response = if self.conn.pending_rpcs.load(Ordering::SeqCst) > 0 {
            RpcResponse::busy()
        } else {
            let (response, reset) = {
                let mut model = lock(&self.inner.model);
                self.inner.sync_clock(&mut model);
                let boot = model.reboot_count();
                let response = model.rpc(request.address, request.rpc_id, request.payload());
                (response, model.reboot_count() != boot)
            };
            if reset {
                // The POD reset instead of answering: the host sees the link drop.
                self.inner.end_connection(self.conn.id, false);
                return Ok(());
            }
            response
        };
        let mut answer = vec![(characteristic::RECEIVE_HEADER, response.header().to_vec())];
        if RpcResponse::expects_payload(&response.header()) {
            answer.push((characteristic::RECEIVE_PAYLOAD, response.payload().to_vec()));
        }
        self.conn.pending_rpcs.fetch_add(1, Ordering::SeqCst);
        let _ = self.conn.queue.send(Outgoing::Rpc(answer));
        self.inner.after_model_change();
        Ok(())
    }
}

impl GattLink for PodLink {
    fn write(
        &mut self,
        characteristic: u16,
        value: &[u8],
        with_response: bool,
    ) -> Result<(), AttError> {
        self.alive()?;
        if !with_response && self.buffers_full() {
            return Err(AttError::Busy);
        }
        match characteristic {
            characteristic::SEND_PAYLOAD => {
                if value.len() > MAX_PAYLOAD {
                    return Err(AttError::InvalidLength);
                }
                lock(&self.conn.gatt).send_payload = value.to_vec();
                Ok(())
            }
            characteristic::SEND_HEADER => self.run_rpc(value),
            characteristic::HIGH_SPEED => {
                if value.len() > 512 {
                    return Err(AttError::InvalidLength);
                }
                self.inner.with_model_raw(|model| {
                    model.script_chunk(value);
                });
                Ok(())
            }
            characteristic::RECEIVE_HEADER
            | characteristic::RECEIVE_PAYLOAD
            | characteristic::STREAMING
            | characteristic::TRACING => Err(AttError::NotPermitted),
            _ => Err(AttError::InvalidHandle),
        }
    }

    fn read(&mut self, characteristic: u16) -> Result<Vec<u8>, AttError> {
        self.alive()?;
        let gatt = lock(&self.conn.gatt);
        match characteristic {
            characteristic::RECEIVE_HEADER => Ok(gatt.receive_header.clone()),
            characteristic::RECEIVE_PAYLOAD => Ok(gatt.receive_payload.clone()),
            characteristic::STREAMING => Ok(Vec::new()),
            characteristic::SEND_HEADER
            | characteristic::SEND_PAYLOAD
            | characteristic::HIGH_SPEED
            | characteristic::TRACING => Err(AttError::NotPermitted),
            _ => Err(AttError::InvalidHandle),
        }
    }

    fn set_notify(&mut self, characteristic: u16, enabled: bool) -> Result<(), AttError> {
        self.alive()?;
        match characteristic {
            characteristic::RECEIVE_HEADER => lock(&self.conn.gatt).rpc_header_notify = enabled,
            characteristic::RECEIVE_PAYLOAD => lock(&self.conn.gatt).rpc_payload_notify = enabled,
            characteristic::TRACING => lock(&self.conn.gatt).tracing = enabled,
            characteristic::STREAMING => {
                let changed = {
                    let mut gatt = lock(&self.conn.gatt);
                    std::mem::replace(&mut gatt.streaming, enabled) != enabled
                };
                if changed {
                    self.inner.with_model_raw(|model| {
                        if enabled {
                            model.open_streaming();
                        } else {
                            model.close_streaming();
                        }
                    });
                }
            }
            characteristic::SEND_HEADER
            | characteristic::SEND_PAYLOAD
            | characteristic::HIGH_SPEED => return Err(AttError::NotPermitted),
            _ => return Err(AttError::InvalidHandle),
        }
        Ok(())
    }

    fn disconnect(&mut self) {
        self.inner.end_connection(self.conn.id, true);
    }
}

impl Drop for PodLink {
    fn drop(&mut self) {
        self.inner.end_connection(self.conn.id, true);
    }
}
