//! A hook for one known panic of the BlueZ client. bluez-async 0.9 drops each D-Bus
//! message stream by spawning a task that unwraps the answer to its `RemoveMatch`; when the
//! match is already gone (its link or the bus went first), that task panics. Nothing waits
//! on it and tokio contains it, so it changes nothing, but its message and backtrace read
//! as a crash. Binaries that use BlueZ install this hook at start: that one panic becomes a
//! debug log line, and every other panic goes to the default hook as before.

use std::panic::PanicHookInfo;

/// Whether a panic comes from bluez-async's stream clean-up.
fn is_stream_cleanup(info: &PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|at| {
        let file = at.file().replace('\\', "/");
        file.contains("bluez-async") && file.ends_with("src/messagestream.rs")
    })
}

/// Installs the hook, keeping the one in place for every other panic.
pub fn quiet_stream_cleanup_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_stream_cleanup(info) {
            tracing::debug!(%info, "the BlueZ client's clean-up of a dropped D-Bus stream failed");
            return;
        }
        default(info);
    }));
}
