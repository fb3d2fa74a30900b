//! The site a journey walks through: a real `iotile-cloud serve` on a loopback port, its
//! database (a SQLite file in a fresh data directory, or a fresh database on the test
//! PostgreSQL cluster), and the people and things the journeys need, made the way an
//! operator and the org admins would: accounts with the CLI, the rest over the REST API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud::auth::secret::Secret;
use cloud::auth::tokens::{UserTokens, USER_TOKEN_LIFETIME_SECS};
use serde_json::{json, Value};

use crate::api::Api;
use crate::common::{postgres, Backend};
use crate::{ops, report};

/// Everyone's password; the journeys get it with the rest of the site.
pub const PASSWORD: &str = "correct horse battery";

/// The devices staff register: the first is claimed into the project with a day of
/// readings, the second is left for a journey to claim and upload a report from.
const DEVICE_TEMPLATE: &str = "internaltestingtemplate-v0-1-0";
const SENSOR_GRAPH: &str = "water-meter-v1-1-0";
const CLAIMABLE: u32 = 11;

/// A running server with its seeded world, stopped when dropped.
pub struct Site {
    pub base_url: String,
    /// What the journeys are told about the site (`IOTILE_SITE`).
    pub facts: Value,
    server: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Site {
    pub async fn start(backend: Backend) -> Site {
        let dir = tempfile::tempdir().expect("a data directory");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres::fresh_database_url().await),
        };
        let cli = Cli {
            data_dir: dir.path().to_path_buf(),
            database,
            secret: random_secret(),
        };
        cli.run(&["migrate"]);
        let people = [
            ("admin", "admin@acme.test", false),
            ("member", "member@other.test", false),
            ("staff", "staff@arch.test", true),
            ("dev", "dev@acme.test", false),
        ];
        for (_, email, staff) in people {
            let mut args = vec!["user", "create", "--email", email, "--password", PASSWORD];
            if staff {
                args.push("--staff");
            }
            cli.run(&args);
        }
        let dead_job = ops::dead_job(&cli.database_url()).await;

        let port = free_port();
        let log = dir.path().join("server.log");
        let server = cli.serve(port, &log);
        let base_url = format!("http://127.0.0.1:{port}");
        let mut site = Site {
            base_url,
            facts: Value::Null,
            server,
            log,
            dir,
        };
        site.wait_until_up().await;
        site.facts = site.seed(&cli, &people).await;
        site.facts["deadJob"] = dead_job;
        site
    }

    /// What the server printed, for a failing journey's report.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_until_up(&mut self) {
        let health = format!("{}/api/v1/health/", self.base_url);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                panic!(
                    "iotile-cloud serve exited ({status}):\n{}",
                    self.server_log()
                );
            }
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "iotile-cloud serve did not answer {health} within a minute:\n{}",
                self.server_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Orgs, a project and a device, made by the people who would make them.
    async fn seed(&self, cli: &Cli, people: &[(&str, &str, bool)]) -> Value {
        let api = Api {
            base: format!("{}/api/v1", self.base_url),
            client: reqwest::Client::new(),
        };
        let admin = api.login("admin@acme.test").await;
        let member = api.login("member@other.test").await;
        let staff = api.login("staff@arch.test").await;
        let dev = api.login("dev@acme.test").await;

        let acme = api
            .send(&admin, "POST", "org/", json!({"name": "Acme Water"}))
            .await;
        let beta = api
            .send(&admin, "POST", "org/", json!({"name": "Beta Labs"}))
            .await;
        let other = api
            .send(&member, "POST", "org/", json!({"name": "Other Co"}))
            .await;
        let acme_slug = acme["slug"].as_str().expect("org slug");
        let project = api
            .send(
                &admin,
                "POST",
                "project/",
                json!({"name": "Field trial", "org": acme_slug}),
            )
            .await;
        for id in [10, CLAIMABLE] {
            api.send(
                &staff,
                "POST",
                "device/?staff=1",
                json!({"template": DEVICE_TEMPLATE, "sg": SENSOR_GRAPH, "id": id}),
            )
            .await;
        }
        let device = "d--0000-0000-0000-000a";
        api.send(
            &admin,
            "POST",
            "device/claim/",
            json!({"device": device, "project": project["slug"]}),
        )
        .await;
        // A day of half-hourly readings on the device's first stream, for its charts.
        let gid = project["gid"].as_str().expect("project gid");
        let stream = format!("s--{gid}--0000-0000-0000-000a--5001");
        let now = chrono::Utc::now();
        let readings: Vec<Value> = (0..48i64)
            .map(|i| {
                let at = now - chrono::Duration::minutes(30 * (48 - i));
                json!({
                    "stream": stream,
                    "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "int_value": 100 + (i % 12) * 5,
                })
            })
            .collect();
        api.send(&admin, "POST", "data/", json!(readings)).await;

        // Operations: Acme's gateway, and its OTA release made by a developer (the role
        // that manages OTA).
        let account = api.send(&dev, "GET", "account/", Value::Null).await;
        let developer = json!({"user": account["results"][0]["slug"], "role": "d1"});
        api.send(
            &admin,
            "POST",
            &format!("org/{acme_slug}/register/"),
            developer,
        )
        .await;
        let gateway = ops::gateway(&api, &admin, acme_slug).await;
        let ota = ops::ota(&api, &dev, acme_slug, device, self.dir.path()).await;

        let users: serde_json::Map<String, Value> = people
            .iter()
            .map(|(role, email, _)| (role.to_string(), Value::from(*email)))
            .collect();
        json!({
            "baseUrl": self.base_url,
            "password": PASSWORD,
            "users": users,
            "orgs": {
                "acme": {"slug": acme["slug"], "name": acme["name"]},
                "beta": {"slug": beta["slug"], "name": beta["name"]},
                "other": {"slug": other["slug"], "name": other["name"]},
            },
            "project": {"id": project["id"], "slug": project["slug"], "name": project["name"]},
            "device": {"slug": device, "stream": stream},
            "claimable": {
                "slug": format!("d--0000-0000-0000-{CLAIMABLE:04x}"),
                "report": report::write(self.dir.path(), CLAIMABLE),
            },
            "gateway": gateway,
            "ota": ota,
            "expiredSession": cli.expired_session(&admin),
        })
    }
}

/// The `iotile-cloud` binary pointed at this site's database.
struct Cli {
    data_dir: PathBuf,
    database: Option<String>,
    secret: String,
}

impl Cli {
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iotile-cloud"));
        command
            .env_remove("STREAM_DATABASE_URL")
            .env_remove("IOTILE_CONFIG")
            .env("IOTILE_SECRET_KEY", &self.secret)
            .env("IOTILE_DATA_DIR", &self.data_dir);
        match &self.database {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        command
    }

    fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| cloud::db::default_sqlite_url(&self.data_dir))
    }

    fn run(&self, args: &[&str]) {
        let out = self
            .command()
            .args(args)
            .output()
            .expect("running iotile-cloud");
        assert!(
            out.status.success(),
            "iotile-cloud {}: {}{}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn serve(&self, port: u16, log: &Path) -> Child {
        let out = std::fs::File::create(log).expect("the server log");
        let err = out.try_clone().expect("the server log");
        self.command()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting iotile-cloud serve")
    }

    /// A session token like the one `jwt` is, signed with the server's key but a week past
    /// its expiry: what a browser left unused for too long still holds.
    fn expired_session(&self, jwt: &str) -> String {
        let tokens = UserTokens::new(&Secret::new(self.secret.as_bytes().to_vec()));
        let now = cloud::time::now_micros() / 1_000_000;
        let claims = tokens.verify(jwt, now).expect("a token this server issued");
        let long_ago = now - 2 * USER_TOKEN_LIFETIME_SECS;
        tokens.issue(claims.user_id, &claims.username, &claims.email, long_ago)
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("randomness");
    hex::encode(bytes)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
