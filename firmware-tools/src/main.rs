//! `iotile-fw`: build, inspect and sign IOTile reports and update scripts, and run virtual
//! PODs.
//!
//! Exit status: 0 when the file decodes (and verifies, when signed); 1 when it decodes but a
//! signature or hash does not verify, or cannot be checked without a key; 2 when it cannot be
//! read or decoded at all.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use firmware_tools::build::{self, BuildOptions, ReportKind, Signing};
use firmware_tools::inspect::report::{Keys, ReportView};
use firmware_tools::inspect::script::ScriptView;
use firmware_tools::inspect::Outcome;
use firmware_tools::{keys, script_build};

mod pod_run;
mod release_cli;
use sync_protocol::auth::RootKey;
use sync_protocol::Report;

#[derive(Parser)]
#[command(
    name = "iotile-fw",
    version,
    about = "Build, inspect and sign IOTile device reports and update scripts",
    after_help = "Exit status: 0 decoded (and verified, when signed); 1 decoded but not \
                  verified (bad signature or hash, or no key given); 2 not readable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Device reports (signed list, individual, broadcast, flexible dictionary)
    #[command(subcommand)]
    Report(ReportCommand),
    /// Update scripts (.trub)
    #[command(subcommand)]
    Script(ScriptCommand),
    /// Device root keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Virtual PODs
    #[command(subcommand)]
    Pod(PodCommand),
}

#[derive(Subcommand)]
enum PodCommand {
    /// Put virtual PODs on the air: a virtual BlueZ (btleplug hosts) and/or a virtual BLED112
    Run(PodRun),
}

#[derive(Args)]
struct PodRun {
    /// A TOML file of [[pod]] tables (identity, tags, user key, outputs, clock speed, state file)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run a default POD with this device id (repeatable; ignored with --config)
    #[arg(long = "device", value_parser = parse_number)]
    devices: Vec<u32>,
    /// Device seconds per real second
    #[arg(long)]
    speed: Option<f64>,
    /// Keep each POD's state here so a restarted POD continues
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Serve a virtual BlueZ (org.bluez) on a private D-Bus bus
    #[arg(long)]
    bluez: bool,
    /// Serve the virtual BlueZ on this bus instead of a private one
    #[arg(long, requires = "bluez")]
    bus: Option<String>,
    /// Serve a virtual BLED112 dongle on a pty
    #[arg(long)]
    bled112: bool,
    /// A stable symlink to the dongle's pty
    #[arg(long, requires = "bled112")]
    link: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Decode a report, verify its signature and list its readings
    Inspect(ReportInspect),
    /// Build a signed report from readings in a JSON or CSV file
    Build(ReportBuild),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a random 32-byte device user key, or with --release an OTA release key pair
    Gen(KeysGen),
}

#[derive(Args)]
struct ReportBuild {
    /// Readings: JSON (a list of {stream, reading_id, raw_time, value}) or CSV with that header
    readings: PathBuf,
    /// Where to write the report
    #[arg(short, long)]
    out: PathBuf,
    /// The device id (decimal or 0x hex)
    #[arg(long, value_parser = parse_number)]
    device: u32,
    /// Report format
    #[arg(long, value_enum, default_value = "signed-list")]
    format: ReportKind,
    /// Report id (default: highest reading id + 1, as a POD numbers its reports)
    #[arg(long, value_parser = parse_number)]
    report_id: Option<u32>,
    /// Device uptime when sent (default: the latest uptime among the readings)
    #[arg(long, value_parser = parse_number)]
    sent_timestamp: Option<u32>,
    /// Streamer index
    #[arg(long, default_value_t = 0)]
    streamer: u8,
    /// Streamer selector (default 0xD7FF, all outputs, as a POD's streamer 0)
    #[arg(long, value_parser = parse_number, default_value = "0xD7FF")]
    selector: u32,
    /// Sign with this user key (64 hex digits) and encrypt the readings
    #[arg(long, value_name = "HEX", conflicts_with = "device_key")]
    user_key: Option<String>,
    /// Sign with this device key (64 hex digits) and encrypt the readings
    #[arg(long, value_name = "HEX")]
    device_key: Option<String>,
}

#[derive(Args)]
struct KeysGen {
    /// Write the key to this new file (mode 0600) instead of printing it
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// An ed25519 release key for signing update scripts; its public id goes to <out>.pub
    #[arg(long)]
    release: bool,
}

#[derive(Subcommand)]
enum ScriptCommand {
    /// Decode an update script, check its header hash and list its records
    Inspect(ScriptInspect),
    /// Build an update script from a TOML description of its records
    Build(ScriptBuild),
    /// Sign a script for release (writes <script>.sig; the script is unchanged)
    Sign(release_cli::ScriptSign),
    /// Check a script's release signature against trusted release keys
    Verify(release_cli::ScriptVerify),
}

#[derive(Args)]
struct ScriptBuild {
    /// The description: `[[record]]` tables with a `type` (see the script_build module docs)
    description: PathBuf,
    /// Where to write the script (.trub)
    #[arg(short, long)]
    out: PathBuf,
}

#[derive(Args)]
struct ReportInspect {
    /// The report file (`-` for standard input)
    file: PathBuf,
    /// The device's user key, 64 hex digits; defaults to $USER_KEY_<uuid as 8 upper-case hex>
    #[arg(long, value_name = "HEX")]
    user_key: Option<String>,
    /// The device key, 64 hex digits, for reports signed with it
    #[arg(long, value_name = "HEX")]
    device_key: Option<String>,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ScriptInspect {
    /// The script file (`-` for standard input)
    file: PathBuf,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(ReportCommand::Inspect(args)) => inspect_report(&args),
        Command::Script(ScriptCommand::Inspect(args)) => inspect_script(&args),
        Command::Report(ReportCommand::Build(args)) => build_report(&args),
        Command::Keys(KeysCommand::Gen(args)) if args.release => {
            release_cli::generate(args.out.as_deref())
        }
        Command::Keys(KeysCommand::Gen(args)) => generate_key(&args),
        Command::Script(ScriptCommand::Build(args)) => build_script(&args),
        Command::Script(ScriptCommand::Sign(args)) => release_cli::sign(&args),
        Command::Script(ScriptCommand::Verify(args)) => release_cli::verify(&args),
        Command::Pod(PodCommand::Run(args)) => run_pods(args),
    };
    match result {
        Ok(Outcome::Good) => ExitCode::SUCCESS,
        Ok(Outcome::NotVerified) => ExitCode::from(1),
        Err(error) => {
            eprintln!("iotile-fw: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn inspect_report(args: &ReportInspect) -> Result<Outcome> {
    let bytes = read_input(&args.file)?;
    let report = Report::decode(&bytes)
        .with_context(|| format!("{} is not a valid report", args.file.display()))?;
    let env_key = std::env::var(format!("USER_KEY_{:08X}", report.device_id())).ok();
    let keys = Keys {
        user_key: parse_key(
            args.user_key.as_deref().or(env_key.as_deref()),
            "--user-key",
        )?,
        device_key: parse_key(args.device_key.as_deref(), "--device-key")?,
    };
    let view = ReportView::new(&bytes, &report, &keys);
    print_view(&view, args.json, || view.table())?;
    if view.outcome == Outcome::NotVerified {
        eprintln!(
            "iotile-fw: {}: the report is not verified",
            args.file.display()
        );
    }
    Ok(view.outcome)
}

fn inspect_script(args: &ScriptInspect) -> Result<Outcome> {
    let bytes = read_input(&args.file)?;
    let view = ScriptView::new(&bytes)
        .with_context(|| format!("{} is not a valid update script", args.file.display()))?;
    print_view(&view, args.json, || view.table())?;
    Ok(view.outcome)
}

fn build_report(args: &ReportBuild) -> Result<Outcome> {
    let readings = build::read_readings(&args.readings)?;
    let signing = match (&args.user_key, &args.device_key) {
        (Some(hex), _) => Signing::UserKey(RootKey::from_hex(hex).context("bad --user-key")?),
        (None, Some(hex)) => {
            Signing::DeviceKey(RootKey::from_hex(hex).context("bad --device-key")?)
        }
        (None, None) => Signing::Hash,
    };
    let options = BuildOptions {
        device_id: args.device,
        report_id: args.report_id,
        sent_timestamp: args.sent_timestamp,
        streamer: args.streamer,
        selector: u16::try_from(args.selector).context("--selector is a 16-bit value")?,
    };
    let bytes = build::build_report(args.format, &options, &readings, &signing)
        .map_err(anyhow::Error::msg)?;
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, {} readings)",
        args.out.display(),
        bytes.len(),
        readings.len()
    );
    Ok(Outcome::Good)
}

fn run_pods(args: PodRun) -> Result<Outcome> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let options = pod_run::RunOptions {
        config: args.config,
        devices: args.devices.into_iter().map(u64::from).collect(),
        speed: args.speed,
        state_dir: args.state_dir,
        bluez: args.bluez,
        bus: args.bus,
        bled112: args.bled112,
        link: args.link,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(pod_run::run(options, async {
        // Ctrl-C, or SIGTERM as service managers and `docker stop` send it.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }))?;
    Ok(Outcome::Good)
}

fn build_script(args: &ScriptBuild) -> Result<Outcome> {
    let script = script_build::build_script(&args.description)?;
    let bytes = script.encode();
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, {} records)",
        args.out.display(),
        bytes.len(),
        script.records.len()
    );
    Ok(Outcome::Good)
}

fn generate_key(args: &KeysGen) -> Result<Outcome> {
    let key = keys::generate().context("the operating system gave no randomness")?;
    match &args.out {
        Some(path) => {
            keys::write_new(path, &key)
                .with_context(|| format!("cannot create {}", path.display()))?;
            eprintln!("wrote a new user key to {} (mode 0600)", path.display());
        }
        None => println!("{}", keys::to_hex(&key)),
    }
    Ok(Outcome::Good)
}

/// A number in decimal or with a `0x` prefix.
fn parse_number(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a 32-bit number (decimal or 0x hex)"))
}

fn print_view(
    view: &impl serde::Serialize,
    json: bool,
    table: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
    } else {
        print!("{}", table());
    }
    Ok(())
}

fn parse_key(hex: Option<&str>, flag: &str) -> Result<Option<RootKey>> {
    hex.map(|text| RootKey::from_hex(text).with_context(|| format!("bad {flag}")))
        .transpose()
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
