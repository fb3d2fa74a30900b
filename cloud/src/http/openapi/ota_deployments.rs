//! OTA operations on deployment requests, actions, versions and the device view, and the
//! gateway's signed OTA feed.

use super::operations::Operation;

pub const OPERATIONS: &[Operation] = &[];
