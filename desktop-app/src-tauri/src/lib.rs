//! IOTile Field, the field technicians' desktop app: a Tauri window around the front end in
//! `desktop-app/ui`, and the commands that front end calls. The Rust side stays thin: the
//! logic is `desktop-core` (over the gateway library), held here as one `Desktop`.
//!
//! - [`commands`]: one module per command area, each command a small call into the logic.
//! - [`bindings`]: every command and event the front end may use; `ui/src/bindings.ts` is
//!   generated from it, and a test fails when the committed file is stale.
//! - [`data_dir`]: where the app keeps its data, resolved once at start.
//! - [`events`]: what the core tells the window as things happen, as typed events.
//! - [`error`]: the one error type commands return, seen by the front end as
//!   `{code, message}`.
//!
//! Outside this crate: the screens are in `ui/src/screens/` (one component each, listed in
//! `screens/index.ts`), and `tests/window.rs` drives the built app in a real window.

pub mod bindings;
pub mod commands;
pub mod data_dir;
pub mod error;
pub mod events;

use std::sync::Arc;

use desktop_core::{Desktop, RadioChoice};
use tokio_util::sync::CancellationToken;

pub use error::Error;

/// Opens the window and runs until it closes.
pub fn run() {
    desktop_core::quiet_stream_cleanup_panics();
    let specta = bindings::builder();
    tauri::Builder::default()
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            let dir = data_dir::DataDir::resolve(app.handle())?;
            let emitter = Arc::new(events::Emitter(app.handle().clone()));
            let desktop = Arc::new(Desktop::open(dir.path(), RadioChoice::from_env(), emitter)?);
            // Whatever waits goes up by itself whenever the network is there.
            let background = desktop.clone();
            tauri::async_runtime::spawn(async move {
                background.run_background(CancellationToken::new()).await;
            });
            tauri::Manager::manage(app, dir);
            tauri::Manager::manage(app, desktop);
            Ok(())
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("iotile-desktop: {e}");
            std::process::exit(1);
        });
}
