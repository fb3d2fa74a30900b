//! The whole system together: the one-process demo and the tests of the whole system. Tests
//! live in `tests/`: the real cloud server, the gateway library and its daemon, and virtual
//! PODs behind the virtual radios, wired together as in the field; the cloud's test harness
//! is shared from `cloud/tests/common`. This crate exists so that they may depend on both the
//! cloud and the gateway, which never depend on each other.
//!
//! - [`demo`]: `iotile-demo`, a cloud, a demo site, three virtual PODs and the gateway daemon
//!   in one process, until Ctrl-C.
//! - [`binaries`]: where the workspace's programs were built, for tests that run them as
//!   real processes.

pub mod binaries;
pub mod demo;
