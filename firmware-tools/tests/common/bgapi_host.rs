//! A small BGAPI host for tests: it opens a serial port with tokio-serial, as a gateway
//! would open `/dev/ttyACM0`, sends commands and waits for the answers and events.

use std::collections::VecDeque;
use std::time::Duration;

use sync_protocol::bgapi::{Command, Event, PacketReader, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

pub struct Host {
    port: SerialStream,
    reader: PacketReader,
    /// Events that arrived while waiting for something else.
    events: VecDeque<Event>,
}

/// What a test waits for when it reads the port.
enum Message {
    Response(Response),
    Event(Event),
}

impl Host {
    pub fn open(path: &std::path::Path) -> Host {
        let port = tokio_serial::new(path.to_string_lossy(), 230_400)
            .open_native_async()
            .expect("the virtual dongle's pty opens as a serial port");
        Host {
            port,
            reader: PacketReader::new(),
            events: VecDeque::new(),
        }
    }

    async fn next(&mut self) -> Message {
        loop {
            if let Some(next) = self.reader.pop() {
                let packet = next.expect("the dongle sends only BGAPI");
                return if packet.event {
                    Message::Event(Event::decode(&packet).expect("a well-formed event"))
                } else {
                    Message::Response(Response::decode(&packet).expect("a well-formed response"))
                };
            }
            let mut buf = [0u8; 256];
            let n = tokio::time::timeout(Duration::from_secs(5), self.port.read(&mut buf))
                .await
                .expect("the dongle answers within 5 s")
                .expect("the port reads");
            self.reader.push(&buf[..n]);
        }
    }

    /// Sends a command and returns its response; events that arrive first are kept.
    pub async fn call(&mut self, command: Command) -> Response {
        let packet = command.encode().expect("a valid command");
        self.port
            .write_all(&packet.encode())
            .await
            .expect("the port writes");
        loop {
            match self.next().await {
                Message::Response(response) => {
                    assert!(
                        response.answers(&command),
                        "{response:?} does not answer {command:?}"
                    );
                    return response;
                }
                Message::Event(event) => self.events.push_back(event),
            }
        }
    }

    /// The next event for which `wanted` gives a value, skipping others (kept for later).
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut skipped = VecDeque::new();
        let found = loop {
            if let Some(position) = self.events.iter().position(|e| wanted(e).is_some()) {
                let event = self.events.remove(position).expect("present");
                break wanted(&event).expect("matched");
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, self.next()).await {
                Ok(Message::Event(event)) => match wanted(&event) {
                    Some(value) => break value,
                    None => skipped.push_back(event),
                },
                Ok(Message::Response(response)) => {
                    panic!("unexpected response {response:?} while waiting for {what}")
                }
                Err(_) => panic!("no {what} within 10 s"),
            }
        };
        self.events.extend(skipped);
        found
    }

    /// Drops events received so far (e.g. advertisements while connecting).
    pub fn forget_events(&mut self) {
        self.events.clear();
    }
}
