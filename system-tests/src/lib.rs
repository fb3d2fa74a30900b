//! The whole system together. Tests live in `tests/`: the real cloud server, the gateway
//! library and its daemon, and virtual PODs behind the virtual radios, wired together as in
//! the field; the cloud's test harness is shared from `cloud/tests/common`. This crate exists
//! so that they may depend on both the cloud and the gateway, which never depend on each
//! other.
//!
//! - [`binaries`]: where the workspace's programs were built, for tests that run them as
//!   real processes.

pub mod binaries;
