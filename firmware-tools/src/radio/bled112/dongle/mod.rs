//! The dongle's state machine: BGAPI commands in, responses and events out, in the order a
//! BLED112 produces them.

use std::sync::Arc;

use sync_protocol::bgapi::{
    attribute_value_type, codes, scan_packet_type, BdAddr, Command, Event, Packet, PacketReader,
    Response,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::gatt_table;
use super::pty::Pty;
use super::{DongleOptions, Peripherals};
use crate::radio::{ConnectError, GattLink, LinkEvent, Peripheral};

/// `connection_status` flags of a live link: connected and completed.
const LINK_UP: u8 = 0x05;
const GAP_APPEARANCE_TAG: u16 = 0x0080;

mod att;
mod discovery;

/// A link event, tagged with the slot and the link's generation (stale events are dropped).
type Tagged = (usize, u64, LinkEvent);

struct Link {
    address: BdAddr,
    generation: u64,
    link: Box<dyn GattLink>,
    peripheral: Arc<dyn Peripheral>,
    /// Characteristics (16-bit UUIDs) whose notifications are on.
    notifying: Vec<u16>,
}

pub(super) struct Dongle {
    pty: Pty,
    peripherals: Peripherals,
    options: DongleOptions,
    reader: PacketReader,
    scanning: bool,
    active_scan: bool,
    /// A connect that waits for its POD to come in range, with the slot it will use.
    pending: Option<(BdAddr, usize)>,
    slots: Vec<Option<Link>>,
    generation: u64,
    events_tx: mpsc::UnboundedSender<Tagged>,
    events_rx: mpsc::UnboundedReceiver<Tagged>,
}

impl Dongle {
    pub(super) fn new(pty: Pty, peripherals: Peripherals, options: DongleOptions) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let slots = (0..options.max_connections.max(1)).map(|_| None).collect();
        Dongle {
            pty,
            peripherals,
            options,
            reader: PacketReader::new(),
            scanning: false,
            active_scan: false,
            pending: None,
            slots,
            generation: 0,
            events_tx,
            events_rx,
        }
    }

    pub(super) async fn run(mut self, stop: CancellationToken) {
        let mut buf = [0u8; 512];
        let mut advertise = tokio::time::interval(self.options.advertising_interval);
        advertise.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let out = tokio::select! {
                _ = stop.cancelled() => return,
                read = self.pty.read(&mut buf) => match read {
                    Ok(n) => {
                        self.reader.push(&buf[..n]);
                        self.drain_commands()
                    }
                    Err(error) => {
                        tracing::error!(%error, "virtual BLED112: the pty failed");
                        return;
                    }
                },
                _ = advertise.tick() => self.advertise(),
                Some((slot, generation, event)) = self.events_rx.recv() => self.link_event(slot, generation, event),
            };
            if out.is_empty() {
                continue;
            }
            let bytes: Vec<u8> = out.iter().flat_map(Packet::encode).collect();
            if let Err(error) = self.pty.write_all(&bytes).await {
                tracing::warn!(%error, "virtual BLED112: cannot write to the host");
            }
        }
    }

    /// Answers every whole command received so far.
    fn drain_commands(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(next) = self.reader.pop() {
            match next {
                Ok(packet) if !packet.event => match Command::decode(&packet) {
                    Ok(command) => self.command(command, &mut out),
                    Err(error) => {
                        tracing::warn!(%error, "virtual BLED112: malformed command ignored")
                    }
                },
                Ok(packet) => tracing::warn!(
                    class = packet.class,
                    id = packet.id,
                    "virtual BLED112: host sent an event"
                ),
                Err(garbage) => tracing::warn!(
                    ?garbage,
                    "virtual BLED112: skipped bytes that are not BGAPI"
                ),
            }
        }
        out
    }

    fn command(&mut self, command: Command, out: &mut Vec<Packet>) {
        let mut respond = |response: Response| out.push(response.encode());
        match command {
            Command::SystemReset { .. } => {
                for slot in 0..self.slots.len() {
                    self.drop_link(slot);
                }
                self.scanning = false;
                self.pending = None;
                push_event(
                    out,
                    Event::SystemBoot {
                        major: 1,
                        minor: 3,
                        patch: 1,
                        build: 118,
                        ll_version: 5,
                        protocol_version: 1,
                        hw: 1,
                    },
                );
            }
            Command::SystemGetConnections => {
                respond(Response::SystemGetConnections {
                    max_connections: self.slots.len() as u8,
                });
                for (index, slot) in self.slots.iter().enumerate() {
                    let (flags, address) = match slot {
                        Some(link) => (LINK_UP, link.address),
                        None => (0, BdAddr::default()),
                    };
                    push_event(out, connection_status(index, flags, address));
                }
            }
            Command::ConnectionDisconnect { connection } => {
                let slot = usize::from(connection);
                if self.slots.get(slot).is_some_and(Option::is_some) {
                    respond(Response::ConnectionDisconnect {
                        connection,
                        result: codes::SUCCESS,
                    });
                    self.drop_link(slot);
                    push_event(
                        out,
                        Event::ConnectionDisconnected {
                            connection,
                            reason: codes::LOCAL_HOST_TERMINATED,
                        },
                    );
                } else if self.pending.is_some_and(|(_, pending)| pending == slot) {
                    // Cancelling a connect in progress: no late connection_status follows.
                    self.pending = None;
                    respond(Response::ConnectionDisconnect {
                        connection,
                        result: codes::SUCCESS,
                    });
                } else {
                    respond(Response::ConnectionDisconnect {
                        connection,
                        result: codes::NOT_CONNECTED,
                    });
                }
            }
            Command::ReadByGroupType {
                connection,
                start,
                end,
                ..
            } => self.read_by_group_type(connection, start, end, out),
            Command::FindInformation {
                connection,
                start,
                end,
            } => self.find_information(connection, start, end, out),
            Command::ReadByHandle { connection, handle } => {
                if !self.connected(connection) {
                    return respond(Response::ReadByHandle {
                        connection,
                        result: codes::NOT_CONNECTED,
                    });
                }
                respond(Response::ReadByHandle {
                    connection,
                    result: codes::SUCCESS,
                });
                push_event(out, self.read(connection, handle));
            }
            Command::AttributeWrite {
                connection,
                handle,
                value,
            } => {
                if !self.connected(connection) {
                    return respond(Response::AttributeWrite {
                        connection,
                        result: codes::NOT_CONNECTED,
                    });
                }
                respond(Response::AttributeWrite {
                    connection,
                    result: codes::SUCCESS,
                });
                let result = self.write(connection, handle, &value, true);
                push_event(
                    out,
                    Event::ProcedureCompleted {
                        connection,
                        result,
                        handle,
                    },
                );
            }
            Command::WriteCommand {
                connection,
                handle,
                value,
            } => {
                let result = if self.connected(connection) {
                    self.write(connection, handle, &value, false)
                } else {
                    codes::NOT_CONNECTED
                };
                respond(Response::WriteCommand { connection, result });
            }
            Command::GapSetMode { .. } => respond(Response::GapSetMode {
                result: codes::SUCCESS,
            }),
            Command::GapSetScanParameters { active, .. } => {
                self.active_scan = active != 0;
                respond(Response::GapSetScanParameters {
                    result: codes::SUCCESS,
                });
            }
            Command::GapDiscover { .. } => {
                let result = if self.scanning {
                    codes::WRONG_STATE
                } else {
                    codes::SUCCESS
                };
                self.scanning = true;
                respond(Response::GapDiscover { result });
            }
            Command::GapEndProcedure => {
                if self.options.link_up_as_host_gives_up {
                    self.establish_pending(out);
                }
                let busy = self.scanning || self.pending.is_some();
                self.scanning = false;
                self.pending = None;
                let result = if busy {
                    codes::SUCCESS
                } else {
                    codes::WRONG_STATE
                };
                out.push(Response::GapEndProcedure { result }.encode());
            }
            Command::GapConnectDirect { address, .. } => self.connect(address, out),
            Command::GapSetAdvData { .. } => respond(Response::GapSetAdvData {
                result: codes::SUCCESS,
            }),
            Command::AttributesSend { .. } => respond(Response::AttributesSend {
                result: codes::WRONG_STATE,
            }),
            Command::SmEncryptStart { connection, .. } => respond(Response::SmEncryptStart {
                connection,
                result: codes::WRONG_STATE,
            }),
            Command::SmSetBondableMode { .. } => respond(Response::SmSetBondableMode),
            Command::SmSetOobData { .. } => respond(Response::SmSetOobData),
            Command::SmSetParameters { .. } => respond(Response::SmSetParameters),
            Command::Other(packet) => {
                tracing::warn!(
                    class = packet.class,
                    id = packet.id,
                    "virtual BLED112: unsupported command ignored"
                )
            }
        }
    }

    fn connected(&self, connection: u8) -> bool {
        self.slots
            .get(usize::from(connection))
            .is_some_and(Option::is_some)
    }

    /// 6/3: answer with a slot; the link comes up at once if the POD is in range, else when it
    /// next advertises (until the host gives up with 6/4).
    fn connect(&mut self, address: BdAddr, out: &mut Vec<Packet>) {
        let free = self.slots.iter().position(Option::is_none);
        let (Some(slot), None) = (free, self.pending) else {
            out.push(
                Response::GapConnectDirect {
                    result: codes::WRONG_STATE,
                    connection: 0,
                }
                .encode(),
            );
            return;
        };
        // A connect ends scanning, as on the real dongle (the host restarts it later).
        self.scanning = false;
        out.push(
            Response::GapConnectDirect {
                result: codes::SUCCESS,
                connection: slot as u8,
            }
            .encode(),
        );
        self.pending = Some((address, slot));
        self.try_pending(out);
    }

    fn try_pending(&mut self, out: &mut Vec<Packet>) {
        if !self.options.link_up_as_host_gives_up {
            self.establish_pending(out);
        }
    }

    /// Brings the pending link up if its POD is in range.
    fn establish_pending(&mut self, out: &mut Vec<Packet>) {
        let Some((address, slot)) = self.pending else {
            return;
        };
        let Some(peripheral) = self.find(address) else {
            return;
        };
        if peripheral.advertising().is_none() {
            return;
        }
        self.pending = None;
        match peripheral.connect() {
            Ok(connection) => {
                self.generation += 1;
                let generation = self.generation;
                let events_tx = self.events_tx.clone();
                let mut events = connection.events;
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        if events_tx.send((slot, generation, event)).is_err() {
                            break;
                        }
                    }
                });
                if let Some(entry) = self.slots.get_mut(slot) {
                    *entry = Some(Link {
                        address,
                        generation,
                        link: connection.link,
                        peripheral,
                        notifying: Vec::new(),
                    });
                }
                push_event(out, connection_status(slot, LINK_UP, address));
            }
            Err(ConnectError::Busy | ConnectError::OutOfRange) => {
                // The link failed right after it started: the host retries the connect.
                push_event(
                    out,
                    Event::ConnectionDisconnected {
                        connection: slot as u8,
                        reason: codes::CONNECTION_FAILED_TO_BE_ESTABLISHED,
                    },
                );
            }
        }
    }

    fn find(&self, address: BdAddr) -> Option<Arc<dyn Peripheral>> {
        let list = self.peripherals.lock().ok()?;
        list.iter().find(|p| p.address() == address).cloned()
    }

    /// One advertisement (and, when scanning actively, its scan response) per POD in range.
    fn advertise(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        self.try_pending(&mut out);
        if !self.scanning {
            return out;
        }
        let peripherals = match self.peripherals.lock() {
            Ok(list) => list.clone(),
            Err(_) => return out,
        };
        for peripheral in peripherals {
            let Some(advertising) = peripheral.advertising() else {
                continue;
            };
            let address = peripheral.address();
            let rssi = peripheral.rssi().clamp(-127, 20) as i8;
            let packet_type = if advertising.connectable {
                scan_packet_type::CONNECTABLE
            } else {
                scan_packet_type::NON_CONNECTABLE
            };
            let scan = |packet_type, data: Vec<u8>| Event::ScanResponse {
                rssi,
                packet_type,
                address,
                address_type: address.address_type(),
                bond: 0xFF,
                data,
            };
            push_event(&mut out, scan(packet_type, advertising.advertisement));
            if let (true, Some(response)) = (self.active_scan, advertising.scan_response) {
                push_event(&mut out, scan(scan_packet_type::SCAN_RESPONSE, response));
            }
        }
        out
    }

    fn link_event(&mut self, slot: usize, generation: u64, event: LinkEvent) -> Vec<Packet> {
        let mut out = Vec::new();
        let current = self
            .slots
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|l| l.generation == generation);
        if !current {
            return out;
        }
        match event {
            LinkEvent::Notify {
                characteristic,
                value,
            } => {
                let Some(handle) = gatt_table::value_handle(characteristic) else {
                    return out;
                };
                let on = self.slots[slot]
                    .as_ref()
                    .is_some_and(|l| l.notifying.contains(&characteristic));
                if on {
                    let kind = attribute_value_type::NOTIFY;
                    push_event(
                        &mut out,
                        Event::AttributeValue {
                            connection: slot as u8,
                            handle,
                            kind,
                            value,
                        },
                    );
                }
            }
            LinkEvent::Disconnected => {
                self.slots[slot] = None;
                push_event(
                    &mut out,
                    Event::ConnectionDisconnected {
                        connection: slot as u8,
                        reason: codes::CONNECTION_TIMEOUT,
                    },
                );
            }
        }
        out
    }

    fn drop_link(&mut self, slot: usize) {
        if let Some(mut link) = self.slots.get_mut(slot).and_then(Option::take) {
            link.link.disconnect();
        }
    }
}

fn push_event(out: &mut Vec<Packet>, event: Event) {
    match event.encode() {
        Ok(packet) => out.push(packet),
        Err(error) => tracing::error!(%error, "virtual BLED112: cannot encode an event"),
    }
}

fn connection_status(slot: usize, flags: u8, address: BdAddr) -> Event {
    Event::ConnectionStatus {
        connection: slot as u8,
        flags,
        address,
        address_type: address.address_type(),
        interval: 6,
        timeout: 100,
        latency: 0,
        bonding: 0xFF,
    }
}
