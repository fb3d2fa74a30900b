//! Tools for people who build and test IOTile PODs.
//!
//! Module map:
//! - [`inspect`]: readable and JSON views of reports and update scripts, used by
//!   `iotile-fw report inspect` and `iotile-fw script inspect`.

pub mod inspect;
