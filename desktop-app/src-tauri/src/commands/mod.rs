//! The commands the front end calls, one module per area. A new command is a `pub fn` with
//! `#[tauri::command]` and `#[specta::specta]` in its area's module, listed in
//! [`crate::bindings::builder`].

pub mod app;
pub mod pods;
pub mod session;
pub mod sync;
