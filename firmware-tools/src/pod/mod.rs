//! The virtual POD: a device model that behaves like IOTile POD firmware at the RPC and
//! report level, and its BLE personality for the virtual radios.
//!
//! - [`model`]: [`PodModel`], pure synchronous state with an explicit clock: identity and
//!   tags, the sensor log (one reading-id counter that never goes back), a simplified but
//!   running sensor graph, streamers with persistent acknowledgements and at-least-once
//!   report delivery, the controller RPC table, the remote bridge and a script runner that
//!   executes every record kind. Its files: `mod.rs` the state layout (flash and RAM) and
//!   the RPC entry point, `boot` power-on and reset, `identity` identity and advertisement
//!   data, `clock` time, ticks and configured outputs, `readings` the log's readings,
//!   `status` streamer and graph status, `log`, `graph`, `streaming`, `rpc`, `bridge`,
//!   `config_db`, `state` (persistence) and `tests`.
//! - [`store`]: the state file (atomic save, load = power cycle).
//! - [`link`]: [`VirtualPod`], the model behind the TileBus GATT table as a
//!   [`radio::Peripheral`](crate::radio::Peripheral), with a real-time (or faster) clock.
//!   Its files: `mod.rs` the handle and its shared state, `peripheral` the `Peripheral` impl,
//!   connect and the link's lifecycle, `gatt` the GATT link and its characteristic handling,
//!   `connection` the connection task and notification delivery, `clock` the clock task and
//!   state-file saving.
//! - [`advertising`]: its advertising packets (v2 by default, v1 on request).
//! - [`config`]: [`PodConfig`], one POD as a TOML table (`iotile-fw pod run --config`);
//!   `stream_code` holds [`StreamCode`], `tests` its unit tests.
//!
//! Architecture invariant: the model does no I/O and never reads the wall clock; only
//! `store` touches files and only `link` knows about time and tasks.

pub mod advertising;
pub mod config;
pub mod link;
pub mod model;
pub mod store;

pub use config::{ConfigError, Generator, OutputConfig, PodConfig, PodsFile, StreamCode};
pub use link::{PodError, VirtualPod};
pub use model::{
    AdvertisementData, BridgeStatus, InstalledImage, OutgoingReport, PeripheralTile, PodModel,
    ResetCause, StateError, StreamerStatus,
};
