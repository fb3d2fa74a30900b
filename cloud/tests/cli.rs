//! The `iotile-cloud` binary as an operator runs it: migrate, user create, set-password and
//! serve, against a fresh data directory.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `serve`, killed if the test ends before it stops it.
struct Server(Option<std::process::Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cloud(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotile-cloud"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("STREAM_DATABASE_URL")
        .env_remove("IOTILE_SECRET_KEY")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn migrate_then_manage_users() {
    let dir = tempfile::tempdir().unwrap();
    let out = cloud(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("iotile-cloud.sqlite3").is_file());

    let create = [
        "user",
        "create",
        "--email",
        "ops@arch.io",
        "--password",
        "long enough pw",
        "--staff",
    ];
    let out = cloud(dir.path(), &create);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("created user ops <ops@arch.io> (staff)"),
        "{}",
        text(&out)
    );
    // The password never shows in what the command prints.
    assert!(!text(&out).contains("long enough pw"));

    let again = cloud(dir.path(), &create);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let short = cloud(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "x@arch.io",
            "--password",
            "short",
        ],
    );
    assert!(!short.status.success());
    assert!(text(&short).contains("at least 8"), "{}", text(&short));

    let out = cloud(
        dir.path(),
        &[
            "user",
            "set-password",
            "--email",
            "ops@arch.io",
            "--password",
            "another long pw",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let missing = cloud(
        dir.path(),
        &[
            "user",
            "set-password",
            "--email",
            "nobody@arch.io",
            "--password",
            "another long pw",
        ],
    );
    assert!(!missing.status.success());
}

#[test]
fn serve_announces_itself_creates_a_private_secret_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server(Some(
        Command::new(env!("CARGO_BIN_EXE_iotile-cloud"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("IOTILE_SECRET_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "server did not start");
    let mode = std::fs::metadata(dir.path().join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The container health checks: the endpoint over HTTP, and the database directly.
    let health_url = format!("http://127.0.0.1:{port}/api/v1/health/");
    let out = cloud(dir.path(), &["health", "--url", &health_url]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cloud(dir.path(), &["health", "--database-only"]);
    assert!(out.status.success(), "{}", text(&out));
    let child = server.0.take().unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!("listening on http://127.0.0.1:{port}/api/v1/")),
        "{printed}"
    );
    assert!(printed.contains("database: sqlite://"), "{printed}");
    assert!(printed.contains("iotile-cloud stopped"), "{printed}");
    let out = cloud(dir.path(), &["health", "--url", &health_url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("unhealthy: cannot reach"),
        "{}",
        text(&out)
    );
    let empty = tempfile::tempdir().unwrap();
    let out = cloud(empty.path(), &["health", "--database-only"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
