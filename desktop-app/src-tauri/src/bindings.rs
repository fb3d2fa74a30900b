//! Every command and event the front end may use, and the TypeScript generated from them
//! into `ui/src/bindings.ts`. The file is committed; `bindings_are_current` fails when it
//! no longer matches, and `cargo test -p iotile-desktop --lib -- --ignored export_bindings`
//! rewrites it.
//!
//! A command goes in `collect_commands!` (see [`crate::commands`]). An event is a type
//! deriving `Serialize, Deserialize, Clone, specta::Type, tauri_specta::Event`, listed in
//! `collect_events!`; Rust sends it with `MyEvent { .. }.emit(&app)`, and the front end
//! hears it with `events.myEvent.listen(...)` from the bindings.

use std::path::{Path, PathBuf};

use specta_typescript::Typescript;
use tauri_specta::{collect_commands, collect_events, Builder};

use crate::{commands, events};

/// The commands and events, for the invoke handler and for the bindings.
pub fn builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::app::app_info,
            commands::session::session,
            commands::session::sign_in,
            commands::session::sign_out,
            commands::session::orgs,
            commands::session::projects,
            commands::pods::start_scan,
            commands::pods::stop_scan,
            commands::pods::nearby,
            commands::pods::claim,
            commands::pods::collect,
            commands::pods::update_offers,
            commands::pods::update,
            commands::pods::readings,
            commands::sync::waiting,
            commands::sync::claims,
            commands::sync::sync_log,
            commands::sync::sync_now,
        ])
        .events(collect_events![
            events::NearbyChanged,
            events::CollectProgressed,
            events::UpdateProgressed,
            events::SyncProgressed,
            events::SyncChanged,
        ])
        // Commands that fail return `Result<_, Error>`; the front end narrows on its code.
        .typ::<crate::Error>()
}

/// The committed bindings file.
pub fn committed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts")
}

/// Writes the TypeScript bindings to `path`.
pub fn export(path: &Path) -> Result<(), specta_typescript::Error> {
    let header = "// From desktop-app/src-tauri/src/bindings.rs. Update: \
                  cargo test -p iotile-desktop --lib -- --ignored export_bindings";
    builder().export(Typescript::default().header(header), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_current() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fresh = dir.path().join("bindings.ts");
        export(&fresh).expect("exporting the bindings");
        let fresh = std::fs::read_to_string(&fresh).expect("reading the fresh bindings");
        let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
        assert!(
            fresh == committed,
            "{} is stale: run `cargo test -p iotile-desktop --lib -- --ignored export_bindings` \
             and commit it",
            committed_path().display()
        );
    }

    #[test]
    #[ignore = "rewrites ui/src/bindings.ts; run by hand after changing a command or event"]
    fn export_bindings() {
        export(&committed_path()).expect("exporting the bindings");
    }
}
