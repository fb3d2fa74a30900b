//! `iotile-cloud`: serve the API, migrate its databases, manage accounts.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cloud::config::{Overrides, Settings};
use cloud::http::HttpOptions;
use cloud::store::users;
use cloud::worker::WorkerOptions;

#[derive(Parser)]
#[command(
    name = "iotile-cloud",
    version,
    about = "IOTile Cloud compatible REST API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Optional TOML settings file (flags and env vars take precedence over it).
    #[arg(long, env = "IOTILE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://… [default: a SQLite file in the data directory]
    #[arg(long = "database", env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Separate database for stream data [default: the main database]
    #[arg(long = "stream-database", env = "STREAM_DATABASE_URL", global = true)]
    stream_database_url: Option<String>,
    /// Directory for the default SQLite file and the signing secret [default: ./data]
    #[arg(long, env = "IOTILE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct WorkArgs {
    /// Report workers in this process (0: none; run `iotile-cloud worker` elsewhere)
    #[arg(long, env = "IOTILE_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Seconds a worker holds a job without a heartbeat before another may take it over
    #[arg(long, env = "IOTILE_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    job_lease_secs: u64,
}

impl WorkArgs {
    fn options(&self) -> WorkerOptions {
        WorkerOptions {
            workers: self.workers,
            lease: std::time::Duration::from_secs(self.job_lease_secs),
            ..WorkerOptions::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, with report workers, until Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8000]
        #[arg(long, env = "IOTILE_BIND")]
        bind: Option<SocketAddr>,
        #[command(flatten)]
        work: WorkArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Process queued jobs (uploaded reports) without serving HTTP, until Ctrl-C or SIGTERM.
    /// Any number of these may share one PostgreSQL database.
    Worker {
        #[command(flatten)]
        work: WorkArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create the databases or bring them to the latest schema, then exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Check that a server answers its health endpoint (or, with --database-only, that the
    /// database answers) and exit 0, else print why and exit 1. For container health checks.
    Health {
        /// The health endpoint to GET (plain HTTP)
        #[arg(
            long,
            env = "IOTILE_HEALTH_URL",
            default_value = "http://127.0.0.1:8000/api/v1/health/"
        )]
        url: String,
        /// Query the configured database instead of a server (for `iotile-cloud worker`)
        #[arg(long)]
        database_only: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (active, able to log in at once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, env = "IOTILE_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// [default: the part of the email before the @]
        #[arg(long)]
        username: Option<String>,
        /// Staff users see and may change everything.
        #[arg(long)]
        staff: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace an account's password.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long, env = "IOTILE_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn settings(db: DbArgs, bind: Option<SocketAddr>) -> anyhow::Result<Settings> {
    Settings::resolve(Overrides {
        config: db.config,
        bind,
        data_dir: db.data_dir,
        database_url: db.database_url,
        stream_database_url: db.stream_database_url,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IOTILE_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { bind, work, db } => serve(settings(db, bind)?, work.options()).await,
        Command::Worker { work, db } => {
            let settings = settings(db, None)?;
            let state = cloud::server::build_state(&settings).await?;
            let options = work.options();
            println!(
                "iotile-cloud worker: {} workers on {}",
                options.workers,
                cloud::db::redact(&settings.database_url)
            );
            cloud::server::work(state, options, shutdown_signal()).await?;
            println!("iotile-cloud worker stopped");
            Ok(())
        }
        Command::Migrate { db } => {
            let settings = settings(db, None)?;
            cloud::server::open_db(&settings).await?.close().await;
            println!(
                "{}: schema up to date",
                cloud::db::redact(&settings.database_url)
            );
            Ok(())
        }
        Command::Health {
            url,
            database_only,
            db,
        } => health(&url, database_only.then_some(db)).await,
        Command::User { command } => user(command).await,
    }
}

/// Exits 1 (not anyhow's error exit) so the failure reads as one line in `docker ps`/logs.
async fn health(url: &str, database: Option<DbArgs>) -> anyhow::Result<()> {
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
    let checked = match database {
        Some(db) => {
            let settings = settings(db, None)?;
            let mut result = cloud::probe::database(&settings.database_url, TIMEOUT).await;
            if let (Ok(()), Some(stream)) = (&result, &settings.stream_database_url) {
                result = cloud::probe::database(stream, TIMEOUT).await;
            }
            result
        }
        None => cloud::probe::http(url, TIMEOUT).await,
    };
    match checked {
        Ok(()) => {
            println!("ok");
            Ok(())
        }
        Err(error) => {
            eprintln!("unhealthy: {error}");
            std::process::exit(1);
        }
    }
}

async fn serve(settings: Settings, workers: WorkerOptions) -> anyhow::Result<()> {
    let state = cloud::server::build_state(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    let addr = listener.local_addr()?;
    println!("iotile-cloud listening on http://{addr}/api/v1/");
    println!("database: {}", cloud::db::redact(&settings.database_url));
    if let Some(url) = &settings.stream_database_url {
        println!("stream database: {}", cloud::db::redact(url));
    }
    let options = HttpOptions {
        cors_origins: settings.cors_origins.clone(),
    };
    cloud::server::serve(listener, state, &options, workers, shutdown_signal()).await?;
    println!("iotile-cloud stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            password,
            username,
            staff,
            db,
        } => {
            let settings = settings(db, None)?;
            let db = cloud::server::open_db(&settings).await?;
            let username =
                username.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
            anyhow::ensure!(
                !username.is_empty() && !username.contains(' '),
                "invalid username {username:?}"
            );
            anyhow::ensure!(email.contains('@'), "invalid email {email:?}");
            anyhow::ensure!(
                password.chars().count() >= 8,
                "the password must have at least 8 characters"
            );
            if users::by_email(&db.meta, &email).await?.is_some() {
                anyhow::bail!("an account with email {email} already exists");
            }
            let user = cloud::auth::password::create_account(
                &db.meta,
                &email,
                Some(&username),
                &password,
                staff,
            )
            .await
            .with_context(|| format!("creating {email}"))?;
            db.close().await;
            println!(
                "created user {} <{}>{}",
                user.username,
                user.email,
                if staff { " (staff)" } else { "" }
            );
            Ok(())
        }
        UserCommand::SetPassword {
            email,
            password,
            db,
        } => {
            let settings = settings(db, None)?;
            let db = cloud::server::open_db(&settings).await?;
            anyhow::ensure!(
                password.chars().count() >= 8,
                "the password must have at least 8 characters"
            );
            let user = users::by_email(&db.meta, &email)
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            let hash = cloud::auth::password::hash(&password)?;
            users::set_password(&db.meta, user.id, &hash, cloud::time::now_micros()).await?;
            db.close().await;
            println!("password changed for {}", user.email);
            Ok(())
        }
    }
}
