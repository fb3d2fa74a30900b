//! The IOTile gateway: it collects reports from PODs, keeps them safe on disk, and syncs
//! them to the cloud under its own signed identity.
//!
//! Module map:
//! - [`buffer`]: the store-and-forward buffer, one SQLite file (WAL, `synchronous=FULL`)
//!   with a disk budget, quarantine, per-streamer progress and recovery of a corrupt file.
//! - [`collect`]: one visit to a POD, from connect to acknowledgement, into the buffer.
//! - [`config`]: the TOML configuration, every key with a default.
//! - [`daemon`]: `iotile-gateway run`: every radio's collector and the uploader, together
//!   until shutdown.
//! - [`doctor`]: `iotile-gateway doctor`, a one-line-each check of key, buffer, disk, cloud,
//!   clock and radios.
//! - [`identity`]: the gateway's ed25519 key file (mode 0600), created on first start.
//! - [`ota`]: over-the-air updates: the deployment feed, checked scripts, and the update
//!   visit that runs them on PODs over either radio.
//! - [`status_query`]: `iotile-gateway status`, asking the daemon's status API.
//! - [`sync`]: registration with the cloud, and signed uploads of pending reports.
//! - [`transport`]: the radios PODs are reached through (BLED112 serial, BlueZ), each a
//!   small GATT link under one TileBus implementation (RPCs, report streaming, scripts).

pub mod buffer;
pub mod collect;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod identity;
pub mod ota;
pub mod status_query;
pub mod sync;
pub mod transport;
