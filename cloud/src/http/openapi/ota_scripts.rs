//! OTA operations on device scripts, their files and signatures, and release keys.

use super::operations::Operation;

pub const OPERATIONS: &[Operation] = &[];
