//! The workspace's programs, as built by the same `cargo test` or `cargo bench` run.
//!
//! Cargo gives a test the path of its own package's binaries only (`CARGO_BIN_EXE_*`). The
//! other packages' binaries sit in the same profile directory: `cargo test --workspace`
//! builds every package's binaries before it runs any test, so they are there and current.
//! Running this package's tests alone does not build them: run `cargo build --workspace --bins`
//! first. `IOTILE_BIN_DIR` names another directory to take them from (release builds,
//! installed packages).

use std::path::PathBuf;

/// The path of the workspace binary `name` in the running test's profile directory.
///
/// # Panics
/// When the binary was not built (see the module's note): a test that needs it cannot run.
#[must_use]
pub fn path(name: &str) -> PathBuf {
    let dir = match std::env::var_os("IOTILE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("the test knows its own path");
            // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
            exe.parent()
                .and_then(|deps| deps.parent())
                .expect("a test binary lives in <target>/<profile>/deps")
                .to_owned()
        }
    };
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} was not built: run `cargo build --workspace --bins` first",
        binary.display()
    );
    binary
}
