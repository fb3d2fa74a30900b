//! The gateway binary as a real process: a config file written for the test's cloud and
//! dongles, started, killed with SIGKILL or stopped with SIGTERM, its logs appended to a
//! file in its directory.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct GatewayProcess {
    pub dir: PathBuf,
    pub config: PathBuf,
    /// Where its status API listens.
    pub status: std::net::SocketAddr,
    child: Option<Child>,
}

impl GatewayProcess {
    /// Writes `gateway.toml` in `dir` for the cloud at `cloud`, one BLED112 adapter per
    /// port, quick visits and syncs, and `extra` TOML appended as is.
    pub fn new(dir: &Path, cloud: &str, ports: &[&Path], extra: &str) -> GatewayProcess {
        // A port free now; the gateway binds it at each start.
        let status = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut toml = format!(
            "[cloud]\nurl = \"{cloud}\"\n\
             [paths]\nbuffer = \"{}\"\nkey = \"{}\"\n\
             [visits]\nmin_interval = \"300 ms\"\nrevisit = \"2 s\"\nbackoff_max = \"2 s\"\n\
             [sync]\ninterval = \"200 ms\"\nbackoff_max_secs = 1\n\
             [status]\nbind = \"{status}\"\n",
            dir.join("buffer.sqlite").display(),
            dir.join("gateway.key").display(),
        );
        for port in ports {
            toml.push_str(&format!(
                "[[adapters]]\nkind = \"bled112\"\nport = \"{}\"\nmax_connections = 2\n",
                port.display()
            ));
        }
        toml.push_str(extra);
        let config = dir.join("gateway.toml");
        std::fs::write(&config, toml).unwrap();
        GatewayProcess {
            dir: dir.to_owned(),
            config,
            status,
            child: None,
        }
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("gateway.key")
    }

    pub fn buffer(&self) -> PathBuf {
        self.dir.join("buffer.sqlite")
    }

    /// Starts `iotile-gateway run`.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("gateway.log"))
            .unwrap();
        let child = Command::new(system_tests::binaries::path("iotile-gateway"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env(
                "RUST_LOG",
                std::env::var("IOTILE_TEST_GATEWAY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, as a power cut would; returns once the process is gone.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        // A process that already exited cannot be killed; either way it is gone.
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM, as systemd stops it; returns its exit status.
    pub fn stop(&mut self, within: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("the gateway did not stop within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its `/status` document, or `None` while it does not answer.
    pub async fn status(&self, client: &reqwest::Client) -> Option<serde_json::Value> {
        let response = client
            .get(format!("http://{}/status", self.status))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// The log so far, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("gateway.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The log outlives the test's temporary directory where IOTILE_TEST_LOGS says.
        if let Some(keep) = std::env::var_os("IOTILE_TEST_LOGS") {
            let name = format!("gateway-{}-{}.log", std::process::id(), self.status.port());
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(self.dir.join("gateway.log"), Path::new(&keep).join(name));
        }
    }
}
