//! The `patchbay` binary: `serve`, `worker`, `migrate`, `workspaces`, `keys`, `connectors`
//! and `config`. Configuration is resolved here and handed to the layers below.

mod commands;
mod config;
mod runtime;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "patchbay", version, about = "Self-hostable integrations hub")]
struct Cli {
    /// Configuration file (default: ./patchbay.toml when present; also PATCHBAY_CONFIG).
    #[arg(long, global = true, env = "PATCHBAY_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (sqlite:PATH or postgres://…).
    #[arg(long, global = true)]
    database_url: Option<patchbay_store::DatabaseUrl>,
    /// Data directory for the default SQLite database and dev keys.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true)]
    log_format: Option<String>,
    /// Zero-setup local mode: generates a master key and an admin key in the data directory.
    /// Not for production.
    #[arg(long, global = true)]
    dev: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API; unless --no-worker, also run the workers in the same process: sync jobs,
    /// the scheduler, webhook processing and event delivery.
    Serve {
        /// Address to listen on (also PATCHBAY_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// Serve the API only, without in-process workers.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run background workers only.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage workspaces.
    Workspaces {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Inspect the connector catalog.
    Connectors {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Syncs.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
}

#[derive(Subcommand, Debug)]
enum SyncCommand {
    /// Run a sync of a connection in the foreground, with progress and a summary.
    Run {
        connection_id: String,
        /// A full sync (detects deletions) instead of an incremental one.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Subcommand, Debug)]
enum WorkspaceCommand {
    /// Create a workspace and print its secret key (shown once).
    Create { name: String },
    /// List workspaces.
    List,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Add a new data key and re-encrypt every stored secret with it, while servers keep running.
    Rotate {
        /// Seconds to wait for running servers to load the new key before the final sweep.
        #[arg(long, default_value_t = 5)]
        settle_seconds: u64,
    },
    /// Print a new random master key (base64) for PATCHBAY_MASTER_KEY.
    Generate,
}

#[derive(Subcommand, Debug)]
enum ConnectorCommand {
    /// List the connectors this binary includes.
    List,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print a commented default configuration file.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that need no configuration.
    match &cli.command {
        Command::Config {
            command: ConfigCommand::Default,
        } => {
            print!("{}", config::DEFAULT_TOML);
            return ExitCode::SUCCESS;
        }
        Command::Keys {
            command: KeyCommand::Generate,
        } => {
            println!("{}", patchbay_vault::MasterKey::generate_base64());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let bind = match &cli.command {
        Command::Serve { bind, .. } => bind.clone(),
        _ => None,
    };
    let cfg = match runtime::load_config(
        &cli.config,
        config::Layer {
            bind,
            database_url: cli.database_url.clone(),
            data_dir: cli.data_dir.clone(),
            log_format: cli.log_format.clone(),
            ..config::Layer::default()
        },
        cli.dev,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("patchbay: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cfg.runtime_threads {
        builder.worker_threads(n);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("patchbay: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve { no_worker, .. } => runtime::serve(cfg, cli.dev, no_worker).await,
            Command::Worker => commands::worker(cfg).await,
            Command::Migrate => commands::migrate(cfg).await,
            Command::Workspaces {
                command: WorkspaceCommand::Create { name },
            } => commands::workspace_create(cfg, &name).await,
            Command::Workspaces {
                command: WorkspaceCommand::List,
            } => commands::workspace_list(cfg).await,
            Command::Keys {
                command: KeyCommand::Rotate { settle_seconds },
            } => commands::keys_rotate(cfg, settle_seconds).await,
            Command::Connectors {
                command: ConnectorCommand::List,
            } => commands::connectors_list(cfg),
            Command::Sync {
                command:
                    SyncCommand::Run {
                        connection_id,
                        full,
                    },
            } => commands::sync_run(cfg, &connection_id, full).await,
            Command::Keys {
                command: KeyCommand::Generate,
            }
            | Command::Config { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patchbay: {e}");
            tracing::error!(error = %e, "exiting");
            ExitCode::FAILURE
        }
    }
}
