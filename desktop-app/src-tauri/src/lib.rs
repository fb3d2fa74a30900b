//! IOTile Field, the field technicians' desktop app: a Tauri window around the front end in
//! `desktop-app/ui`, and the commands that front end calls. The Rust side stays thin; the
//! logic lives in library crates.
//!
//! - [`commands`]: one module per command area, each command a small call into the logic.
//! - [`bindings`]: every command and event the front end may use; `ui/src/bindings.ts` is
//!   generated from it, and a test fails when the committed file is stale.
//! - [`data_dir`]: where the app keeps its data, resolved once at start.
//! - [`error`]: the one error type commands return, seen by the front end as
//!   `{code, message}`.
//!
//! Outside this crate: the screens are in `ui/src/screens/` (one component each, listed in
//! `screens/index.ts`), and `tests/window.rs` drives the built app in a real window.

pub mod bindings;
pub mod commands;
pub mod data_dir;
pub mod error;

pub use error::Error;

/// Opens the window and runs until it closes.
pub fn run() {
    let specta = bindings::builder();
    tauri::Builder::default()
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            let dir = data_dir::DataDir::resolve(app.handle())?;
            tauri::Manager::manage(app, dir);
            Ok(())
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("iotile-desktop: {e}");
            std::process::exit(1);
        });
}
