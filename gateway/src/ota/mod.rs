//! Over-the-air updates of PODs: the gateway's second job.
//!
//! - [`plan`]: which deployment a POD takes and whether its script may run (hash, release
//!   signature, criteria). Pure code.
//! - [`bridge`]: the remote bridge RPCs that carry and run a script, the identity RPC and
//!   the controller reset.
//! - [`runner`]: one update visit, a durable state machine that resumes after a crash or a
//!   lost link without sending a triggered script twice.
//! - [`updates`]: what collectors ask before visiting: does this POD have update work?
//! - [`client`]: the signed calls to the cloud (feed with ETag, script download, outcome).
//! - [`poller`]: the daemon task that keeps the feed and scripts fresh and sends outcomes.

pub mod bridge;
pub mod client;
pub mod plan;
pub(crate) mod poller;
pub mod runner;
pub mod updates;

pub use runner::{update, Step, Steps, UpdateError, UpdateOptions, UpdateOutcome};
pub use updates::Updates;
