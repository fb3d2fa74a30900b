//! The shared vocabulary of the IOTile edge system: it turns bytes into types and back,
//! and verifies. It does no I/O, has no async and no unsafe code, and never panics on input.
//!
//! Module map:
//! - [`ids`]: object ids and their slugs (`p--`, `d--`, `b--`, `v--`, `s--`, `t--`, `g--`,
//!   `z--`, `a--`, `f--`), parsed leniently and always printed canonically.
//! - [`stream`]: the 16-bit stream code (`output 1`, `system input 1025`) and stream selectors.
//! - [`reading`]: a reading and the packed 16-byte reading record.
//! - [`report`]: device reports: individual (format 0), signed list (1), broadcast (3) and
//!   the msgpack flexible dictionary, with explicit verification results.
//! - [`auth`]: report keys, signatures and reading-area encryption.
//! - [`rpc`]: RPC calls and answers: framing and the status byte.
//! - [`ble`]: BLE advertisements (v1 and v2, with encrypted broadcasts) and the TileBus GATT
//!   table.
//! - [`bgapi`]: the BLED112 dongle's binary protocol: packet framing, commands, events.
//! - [`script`]: update scripts (`.trub`): every record kind, parsed and encoded byte-exact.
//! - [`time`]: device time to UTC, the one conversion every component uses.
//! - [`gateway`]: gateway⇄cloud sync: the gateway's ed25519 key, signed request headers,
//!   registration with a one-time code, upload batches and the cloud's answer.
//! - [`ota`]: OTA: deployment criteria, release keys and script signatures, the gateway's
//!   deployment feed.
//! - [`version`]: packed tag and version words (`0x5C08`/`0x5C09`, RPC `0x1008`).

pub mod auth;
pub mod bgapi;
pub mod ble;
pub mod gateway;
pub mod ids;
pub mod ota;
pub mod reading;
pub mod report;
pub mod rpc;
pub mod script;
pub mod stream;
pub mod time;
pub mod version;

pub use reading::Reading;
pub use report::{Report, ReportError, Verification};
pub use stream::{DataStream, StreamSelector, StreamType};
