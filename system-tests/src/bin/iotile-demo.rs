//! `iotile-demo`: a cloud, a gateway and three virtual PODs in one process, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use system_tests::demo::{self, Options};

#[derive(Parser)]
#[command(
    name = "iotile-demo",
    version,
    about = "The whole IOTile edge system in one process: a cloud, a gateway and three virtual PODs"
)]
struct Cli {
    /// Where the cloud listens (127.0.0.1:0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8000")]
    bind: SocketAddr,
    /// Keep the cloud's database, the gateway's buffer and the PODs here, and continue from
    /// them next time [default: a temporary directory removed at exit]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Every POD behind the virtual BLED112: no BlueZ, no D-Bus daemon needed
    #[arg(long)]
    bled112_only: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,iotile_demo=info,system_tests=info".into()),
        )
        .init();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    demo::run(
        Options {
            bind: cli.bind,
            data_dir: cli.data_dir,
            bluez: !cli.bled112_only,
        },
        shutdown,
    )
    .await
}
