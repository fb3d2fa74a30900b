//! Tools for people who build and test IOTile PODs.
//!
//! Module map:
//! - [`build`]: reports built from readings written as JSON or CSV (`iotile-fw report build`).
//! - [`keys`]: device root keys, made at random and kept in 0600 files (`iotile-fw keys gen`).
//! - [`inspect`]: readable and JSON views of reports and update scripts, used by
//!   `iotile-fw report inspect` and `iotile-fw script inspect`.
//! - [`pod`]: the virtual POD: device model (sensor log, streamers, RPC table, update-script
//!   runner, persistence) and its BLE GATT personality.
//! - [`release`]: OTA release keys (0600 files) and detached script signatures
//!   (`iotile-fw keys gen --release`, `script sign`, `script verify`).
//! - [`script_build`]: update scripts from a readable TOML description
//!   (`iotile-fw script build`).
//! - [`radio`]: what virtual radios see of a POD ([`radio::Peripheral`], [`radio::GattLink`]),
//!   and the radios themselves: a virtual BlueZ on D-Bus and a virtual BLED112 on a pty.

pub mod build;
pub mod inspect;
pub mod keys;
pub mod pod;
pub mod radio;
pub mod release;
pub mod script_build;
