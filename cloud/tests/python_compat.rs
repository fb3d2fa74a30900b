//! The published Python SDK (`iotile-cloud` from PyPI) against the real `iotile-cloud` binary:
//! migrate a fresh data directory, create a staff and an ordinary account, serve on a free
//! loopback port and run the pytest suite in `tests/compat/` with the server's address and
//! the credentials in its environment.
//!
//! The SDK comes from PyPI into a venv under the target directory, made on first run and
//! made again whenever `tests/compat/requirements.txt` changes. No python3 or no PyPI is a
//! failure, never a skip.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STAFF_EMAIL: &str = "staff@compat.example.com";
const STAFF_PASSWORD: &str = "staff-password-1";
const USER_EMAIL: &str = "user@compat.example.com";
const USER_PASSWORD: &str = "user-password-1";

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat")
}

/// A Python interpreter with the suite's requirements.
fn sdk_python() -> PathBuf {
    common::venv::python_with(
        "iotile-cloud-sdk-venv",
        &compat_dir().join("requirements.txt"),
    )
}

/// The server binary with settings only from its flags: variables that would point it at
/// another database or config file are removed.
fn cloud(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iotile-cloud"));
    for var in [
        "DATABASE_URL",
        "STREAM_DATABASE_URL",
        "IOTILE_CONFIG",
        "IOTILE_BIND",
        "IOTILE_USER_PASSWORD",
    ] {
        command.env_remove(var);
    }
    command.env("IOTILE_LOG", "warn");
    command.env("IOTILE_DATA_DIR", data_dir);
    command
}

fn run_cloud(data_dir: &Path, args: &[&str]) {
    let out = cloud(data_dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "iotile-cloud {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The running server, killed when dropped so a failing assertion never leaves it behind.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `GET /api/v1/server/` answers 200.
fn server_answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /api/v1/server/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

fn start_server(data_dir: &Path) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = data_dir.join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = cloud(data_dir)
        .arg("serve")
        .arg("--bind")
        .arg(addr.to_string())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start iotile-cloud serve");
    let mut server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server_answers(addr) {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("iotile-cloud serve exited with {status}:\n{}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "iotile-cloud serve did not answer on {addr} within 60 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, addr)
}

#[test]
fn python_sdk_works_against_the_server() {
    let python = sdk_python();
    let data = tempfile::tempdir().unwrap();
    run_cloud(data.path(), &["migrate"]);
    run_cloud(
        data.path(),
        &[
            "user",
            "create",
            "--email",
            STAFF_EMAIL,
            "--password",
            STAFF_PASSWORD,
            "--staff",
        ],
    );
    run_cloud(
        data.path(),
        &[
            "user",
            "create",
            "--email",
            USER_EMAIL,
            "--password",
            USER_PASSWORD,
        ],
    );
    let (server, addr) = start_server(data.path());

    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"])
        .arg(compat_dir())
        .current_dir(compat_dir())
        .env("IOTILE_CLOUD_URL", format!("http://{addr}"))
        .env("IOTILE_STAFF_EMAIL", STAFF_EMAIL)
        .env("IOTILE_STAFF_PASSWORD", STAFF_PASSWORD)
        .env("IOTILE_USER_EMAIL", USER_EMAIL)
        .env("IOTILE_USER_PASSWORD", USER_PASSWORD)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run pytest");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let code = out.status.code();
    if code != Some(0) {
        eprintln!("--- server log\n{}", server.log());
    }
    drop(server);
    assert_eq!(code, Some(0), "the SDK compatibility suite failed");
}
