//! A real S3-compatible server for tests: moto's `moto_server` (from PyPI, in a venv under
//! the target directory) on a free loopback port, killed when dropped. It accepts any
//! credentials and path-style requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud::auth::secret::Secret;
use cloud::config::S3Settings;

pub struct S3Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// Starts `moto_server` and waits (up to 60 s) until it answers.
    pub fn start() -> S3Server {
        let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3/requirements.txt");
        let python = super::venv::python_with("iotile-cloud-s3-venv", &requirements);
        let moto_server = python.with_file_name("moto_server");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("moto.log");
        let out = std::fs::File::create(&log).expect("create the moto log");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let child = Command::new(&moto_server)
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdout(out.try_clone().expect("clone the log handle"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", moto_server.display()));
        let mut server = S3Server {
            child,
            addr,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(addr) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited with {status}:\n{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {addr} within 60 s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Makes a bucket with a plain path-style `PUT /bucket` (moto needs no signature).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .expect("PUT bucket");
        assert!(
            response.status().is_success(),
            "creating bucket {bucket}: {}",
            response.status()
        );
    }

    /// Settings naming `bucket` on this server.
    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            bucket: bucket.to_string(),
            endpoint: self.endpoint(),
            region: "us-east-1".to_string(),
            access_key_id: "testing-key-id".to_string(),
            secret_access_key: Secret::new(b"testing-secret-access-key".to_vec()),
            allow_http: true,
        }
    }
}

/// Whether the server answers HTTP at all (moto's root lists buckets).
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/")
}
