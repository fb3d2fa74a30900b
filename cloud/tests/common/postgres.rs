//! A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` from the machine's
//! PostgreSQL packages, on a random loopback port, in a temporary directory. One cluster per
//! test binary; each test gets a database of its own. A watchdog stops the cluster when the
//! test process exits. When PostgreSQL is not installed the tests fail: they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub struct Cluster {
    pub port: u16,
    _dir: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A URL to a fresh, empty database on the shared cluster.
pub async fn fresh_database_url() -> String {
    let cluster = CLUSTER.get_or_init(start);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connecting to the test PostgreSQL cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("IOTILE_PG_BIN") {
        return PathBuf::from(dir);
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    }) {
        return found;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .filter(|p| p.join("initdb").is_file())
        .unwrap_or_else(|| {
            panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql \
             package or set IOTILE_PG_BIN. The PostgreSQL tests do not skip."
        )
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn run(bin: &Path, tool: &str, args: &[&str]) {
    let exe = bin.join(tool);
    let status = if is_root() {
        Command::new("runuser")
            .arg("-u")
            .arg("postgres")
            .arg("--")
            .arg(&exe)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
    } else {
        Command::new(&exe)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
    }
    .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(status.success(), "{tool} {args:?} failed: {status}");
}

fn start() -> Cluster {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("iotile-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the cluster directory");
    if is_root() {
        let ok = Command::new("chown")
            .arg("-R")
            .arg("postgres:")
            .arg(&dir)
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "chown of {} to postgres failed",
            dir.display()
        );
    }
    let data = dir.join("data");
    let data_s = data.to_str().expect("utf-8 temp path");
    run(
        &bin,
        "initdb",
        &[
            "-D",
            data_s,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    );
    let port = free_port();
    let opts = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let log = dir.join("server.log");
    run(
        &bin,
        "pg_ctl",
        &[
            "-D",
            data_s,
            "-o",
            &opts,
            "-l",
            log.to_str().expect("utf-8"),
            "-w",
            "start",
        ],
    );
    watchdog(&bin, &data);
    Cluster { port, _dir: dir }
}

/// Stops the cluster and removes its files once this test process has exited.
fn watchdog(bin: &Path, data: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if is_root() {
        format!(
            "runuser -u postgres -- {} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "{} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    };
    let dir = data.parent().expect("data dir has a parent");
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    // Deliberately not waited for: it must outlive this process.
    #[allow(clippy::zombie_processes)]
    let _watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting the cluster watchdog");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
