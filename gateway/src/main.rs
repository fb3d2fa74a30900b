//! `iotile-gateway`: the gateway's command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::buffer::{Budget, Buffer};
use gateway::config::Config;

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
    /// Print what the buffer holds.
    Status {
        /// Read the buffer file directly rather than asking a running daemon.
        #[arg(long, required = true)]
        offline: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Identity => identity(&config),
        Command::Status { .. } => status(&config),
    }
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
