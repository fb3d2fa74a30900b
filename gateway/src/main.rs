//! `iotile-gateway`: the gateway's command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::buffer::{Budget, Buffer};
use gateway::config::{Config, LogFormat};
use gateway::daemon::Daemon;
use gateway::sync::{sync_pending, BatchLimits, SyncClient};
use tokio_util::sync::CancellationToken;

/// How long one request to the cloud may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Short: the status API answers from memory, and health checkers have their own timeouts.
const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the configuration is read from when `--config` is not given; when that file does
/// not exist either, the built-in defaults apply.
const DEFAULT_CONFIG: &str = "/etc/iotile-gateway/gateway.toml";

#[derive(Parser)]
#[command(name = "iotile-gateway", version, about = "IOTile edge gateway")]
struct Cli {
    /// The TOML configuration file.
    #[arg(long, env = "IOTILE_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the gateway's key id and public key, creating the key on first use.
    Identity,
    /// Ask the running daemon's status API what it is doing; exits 1 when it does not
    /// answer, so it serves as a health check.
    Status {
        /// Read the buffer file directly rather than asking a running daemon.
        #[arg(long)]
        offline: bool,
    },
    /// Bind this gateway's key to an org with a one-time code made by an org admin.
    Register {
        /// The cloud's base URL (default: `cloud.url` of the configuration).
        #[arg(long)]
        cloud: Option<String>,
        /// The one-time code.
        #[arg(long)]
        code: String,
        /// A name for this gateway, shown to admins.
        #[arg(long)]
        name: Option<String>,
    },
    /// Upload every pending report now, in signed batches, and exit.
    Sync,
    /// Check the key, the buffer and its disk, the cloud and the clock, and each radio;
    /// exits 1 if anything fails.
    Doctor,
    /// Collect from PODs and sync to the cloud until Ctrl-C or SIGTERM.
    Run,
}

fn main() -> anyhow::Result<()> {
    gateway::transport::bluez_panics::quiet_stream_cleanup_panics();
    let cli = Cli::parse();
    let config = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Identity => identity(&config),
        Command::Status { offline: true } => status(&config),
        Command::Status { offline: false } => runtime()?.block_on(live_status(&config)),
        Command::Register { cloud, code, name } => {
            let url = cloud.unwrap_or_else(|| config.cloud.url.clone());
            runtime()?.block_on(register(&config, &url, &code, name))
        }
        Command::Sync => runtime()?.block_on(sync(&config)),
        Command::Doctor => runtime()?.block_on(doctor(&config)),
        Command::Run => run(config),
    }
}

async fn doctor(config: &Config) -> anyhow::Result<()> {
    use gateway::doctor::Status;
    let checks = gateway::doctor::run(config).await;
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        println!("{mark} {:<24} {}", c.name, c.detail);
    }
    if checks.iter().any(|c| c.status == Status::Fail) {
        std::process::exit(1);
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn register(
    config: &Config,
    url: &str,
    code: &str,
    name: Option<String>,
) -> anyhow::Result<()> {
    let identity = gateway::identity::load_or_create(&config.paths.key)?;
    let client = SyncClient::new(url, identity.secret, REQUEST_TIMEOUT)?;
    let registered = client
        .register(code, name)
        .await
        .with_context(|| format!("registering with {url}"))?;
    println!(
        "registered {} with org {} at {url}",
        registered.id, registered.org
    );
    Ok(())
}

async fn sync(config: &Config) -> anyhow::Result<()> {
    let secret = gateway::identity::load(&config.paths.key)
        .context("no gateway key: run `iotile-gateway register` first")?;
    let budget = Budget {
        max_bytes: config.budget.max_bytes.0,
    };
    let (buffer, _) = Buffer::open(&config.paths.buffer, budget)?;
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(buffer));
    let client = SyncClient::new(&config.cloud.url, secret, REQUEST_TIMEOUT)?;
    let limits = BatchLimits {
        reports: config.sync.batch_reports,
        bytes: usize::try_from(config.sync.batch_bytes.0).unwrap_or(usize::MAX),
    };
    let pass = sync_pending(&buffer, &client, limits)
        .await
        .with_context(|| format!("syncing with {}", config.cloud.url))?;
    println!(
        "{} batches: {} reports accepted, {} already in the cloud, {} rejected (kept aside)",
        pass.batches, pass.accepted, pass.duplicates, pass.rejected
    );
    Ok(())
}

fn run(config: Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match config.log.format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        Daemon::run(config, shutdown).await
    })?;
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what systemd sends).
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::error!(%error, "SIGTERM cannot be caught; only Ctrl-C stops the gateway");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    shutdown.cancel();
}

fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    let path = match explicit {
        Some(p) => p,
        None if Path::new(DEFAULT_CONFIG).exists() => Path::new(DEFAULT_CONFIG),
        None => return Ok(Config::default()),
    };
    Config::load(path).with_context(|| format!("configuration {}", path.display()))
}

fn identity(config: &Config) -> anyhow::Result<()> {
    let identity = gateway::identity::load_or_create(&config.paths.key)?;
    let public = identity.secret.public();
    println!("key id:     {public}");
    println!("public key: {}", hex_string(&public.to_bytes()));
    println!("key file:   {}", config.paths.key.display());
    if identity.created {
        println!("(new key created)");
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn live_status(config: &Config) -> anyhow::Result<()> {
    let doc = gateway::status_query::fetch(config.status.bind, STATUS_TIMEOUT).await?;
    println!("{}", gateway::status_query::summary(&doc));
    Ok(())
}

fn status(config: &Config) -> anyhow::Result<()> {
    let path = &config.paths.buffer;
    let budget = Budget {
        max_bytes: config.budget.max_bytes.0,
    };
    if !path.exists() {
        anyhow::bail!(
            "no buffer at {}: the gateway has not collected anything yet",
            path.display()
        );
    }
    let buffer = Buffer::open_read_only(path, budget)?;
    let s = buffer.stats()?;
    println!("buffer:           {}", path.display());
    println!(
        "pending:          {} reports, {} readings, {} bytes",
        s.pending_reports, s.pending_readings, s.pending_bytes
    );
    match s.oldest_pending {
        Some(us) => println!("oldest pending:   received at {us} µs (unix)"),
        None => println!("oldest pending:   none"),
    }
    println!("synced, kept:     {} reports", s.synced_reports);
    println!("quarantined:      {}", s.quarantined);
    println!(
        "file:             {} bytes of a {} byte budget{}",
        s.file_bytes,
        s.budget,
        if s.over_budget {
            " — OVER BUDGET: collection is stopped"
        } else {
            ""
        }
    );
    Ok(())
}
