//! The connection task: one per link, it sends every notification in order through the
//! link's event channel, applying the radio effects.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::gatt::ConnShared;
use super::{characteristic, lock, Inner, CHUNK};
use crate::radio::LinkEvent;

pub(super) enum Outgoing {
    Notify(u16, Vec<u8>),
    /// The notifications of one RPC answer (Receive Header, then Receive Payload).
    Rpc(Vec<(u16, Vec<u8>)>),
}

/// Why the connection task stopped sending.
enum Stop {
    /// The POD dropped the link (effects, out of range, reset, stop).
    Peripheral,
    /// The host went away (disconnect, or its event receiver was dropped).
    Host,
}

/// Sends one link's notifications in order: queued RPC answers and traces first, then the
/// reports the model hands out, chunk by chunk.
pub(super) async fn connection_task(
    inner: Arc<Inner>,
    conn: Arc<ConnShared>,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut chunks: VecDeque<Vec<u8>> = VecDeque::new();
    let mut report_token = None;
    let stop = loop {
        if conn.cancel.is_cancelled() {
            break Stop::Peripheral;
        }
        match queue.try_recv() {
            Ok(item) => {
                if let Err(stop) = handle_outgoing(&inner, &conn, &events, item).await {
                    break stop;
                }
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break Stop::Host,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let streaming = lock(&conn.gatt).streaming;
        if let Some(token) = report_token {
            let current = streaming && lock(&inner.model).outgoing_token() == Some(token);
            if !current {
                chunks.clear();
                report_token = None;
                continue;
            }
            if let Some(chunk) = chunks.pop_front() {
                if let Err(stop) =
                    deliver(&inner, &conn, &events, characteristic::STREAMING, chunk).await
                {
                    break stop;
                }
                if chunks.is_empty() {
                    lock(&inner.model).report_delivered(token);
                    report_token = None;
                    inner.after_model_change();
                }
                continue;
            }
        }
        if streaming {
            let next = {
                let mut model = lock(&inner.model);
                inner.sync_clock(&mut model);
                model.next_report()
            };
            if let Some(report) = next {
                chunks = report.bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
                report_token = Some(report.token);
                continue;
            }
        }
        tokio::select! {
            _ = conn.cancel.cancelled() => break Stop::Peripheral,
            item = queue.recv() => match item {
                Some(item) => {
                    if let Err(stop) = handle_outgoing(&inner, &conn, &events, item).await {
                        break stop;
                    }
                }
                None => break Stop::Host,
            },
            _ = inner.wake.notified() => {}
        }
    };
    let host_ended = match stop {
        Stop::Host => true,
        Stop::Peripheral => false,
    };
    inner.end_connection(conn.id, host_ended);
    let host_ended = lock(&conn.host_ended).unwrap_or(host_ended);
    if !host_ended {
        let _ = tokio::time::timeout(Duration::from_secs(1), events.send(LinkEvent::Disconnected))
            .await;
    }
}

async fn handle_outgoing(
    inner: &Inner,
    conn: &ConnShared,
    events: &mpsc::Sender<LinkEvent>,
    item: Outgoing,
) -> Result<(), Stop> {
    match item {
        Outgoing::Notify(characteristic, value) => {
            deliver(inner, conn, events, characteristic, value).await
        }
        Outgoing::Rpc(answer) => {
            // Taken for delivery: the next RPC is no longer "busy", and its answer queues
            // behind this one.
            conn.pending_rpcs.fetch_sub(1, Ordering::SeqCst);
            for (characteristic, value) in answer {
                {
                    let mut gatt = lock(&conn.gatt);
                    match characteristic {
                        characteristic::RECEIVE_HEADER => gatt.receive_header = value.clone(),
                        _ => gatt.receive_payload = value.clone(),
                    }
                }
                deliver(inner, conn, events, characteristic, value).await?;
            }
            Ok(())
        }
    }
}

/// Sends one notification through the radio effects.
async fn deliver(
    inner: &Inner,
    conn: &ConnShared,
    events: &mpsc::Sender<LinkEvent>,
    characteristic: u16,
    mut value: Vec<u8>,
) -> Result<(), Stop> {
    let delay = lock(&inner.effects).effects.notification_delay;
    if let Some(delay) = delay {
        tokio::select! {
            _ = conn.cancel.cancelled() => return Err(Stop::Peripheral),
            _ = tokio::time::sleep(delay) => {}
        }
    }
    {
        let mut state = lock(&inner.effects);
        if state.effects.out_of_range {
            return Err(Stop::Peripheral);
        }
        if state.effects.disconnect_after_notifications == Some(0) {
            state.effects.disconnect_after_notifications = None;
            return Err(Stop::Peripheral);
        }
        state.attempts += 1;
        if let Some(n) = state.effects.drop_every_nth_notification {
            if n >= 2 && state.attempts % n == 0 {
                return Ok(());
            }
        }
        if characteristic == characteristic::STREAMING {
            if let Some(n) = state.effects.corrupt_streaming_notification {
                if n <= 1 {
                    state.effects.corrupt_streaming_notification = None;
                    let middle = value.len() / 2;
                    if let Some(byte) = value.get_mut(middle) {
                        *byte ^= 0x10;
                    }
                } else {
                    state.effects.corrupt_streaming_notification = Some(n - 1);
                }
            }
        }
    }
    let event = LinkEvent::Notify {
        characteristic,
        value,
    };
    tokio::select! {
        _ = conn.cancel.cancelled() => return Err(Stop::Peripheral),
        sent = events.send(event) => sent.map_err(|_| Stop::Host)?,
    }
    let mut state = lock(&inner.effects);
    if let Some(remaining) = &mut state.effects.disconnect_after_notifications {
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            state.effects.disconnect_after_notifications = None;
            return Err(Stop::Peripheral);
        }
    }
    Ok(())
}
