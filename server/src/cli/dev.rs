//! `yiwang dev …`: synthetic data for benchmarks (never for production data).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use yiwang_server::Config;
use yiwang_server::db::Db;
use yiwang_server::push::providers::ProviderKind;

use super::CliError;

#[derive(Debug, clap::Subcommand)]
pub enum DevCommand {
    /// Add N synthetic citizens, each with one signed-in device registered for push.
    SeedDevices(SeedArgs),
    /// Add the demo service catalog's matters whose codes are not taken yet
    /// (what `serve` does at start unless `seed_demo_catalog = false`).
    SeedCatalog(DatabaseArgs),
}

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// TOML configuration file naming the database (as for `serve`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (overrides YIWANG_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many citizens (and devices) to add.
    #[arg(long)]
    count: u64,
    /// Providers to spread the devices over, comma-separated.
    #[arg(long, default_value = "fcm,huawei,xiaomi,oppo,vivo,honor,apns")]
    providers: String,
    /// Region code (6 digits) of the seeded citizens.
    #[arg(long, default_value = "330106")]
    region: String,
    #[command(flatten)]
    database: DatabaseArgs,
}

pub fn run(command: DevCommand) -> Result<ExitCode, CliError> {
    match command {
        DevCommand::SeedDevices(args) => seed_devices(args),
        DevCommand::SeedCatalog(args) => seed_catalog(args),
    }
}

/// The configured database, opened (its directory made) on a new runtime.
fn open(args: DatabaseArgs) -> Result<(tokio::runtime::Runtime, Config), CliError> {
    let mut config = Config::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CliError::Io {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    Ok((runtime, config))
}

fn seed_catalog(args: DatabaseArgs) -> Result<ExitCode, CliError> {
    let (runtime, config) = open(args)?;
    runtime.block_on(async {
        let db = Db::connect(&config.database_url()).await?;
        let added = yiwang_server::catalog::seed_demo(&db)
            .await
            .map_err(|e| CliError::Usage(format!("{} ({})", e.message, e.code)))?;
        println!("added {added} demo matters");
        db.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn seed_devices(args: SeedArgs) -> Result<ExitCode, CliError> {
    let mut providers = Vec::new();
    for name in args.providers.split(',').filter(|s| !s.is_empty()) {
        providers.push(ProviderKind::parse(name.trim()).ok_or_else(|| {
            CliError::Usage(
                "--providers: unknown provider (known: apns, fcm, huawei, honor, xiaomi, oppo, vivo)"
                    .to_owned(),
            )
        })?);
    }
    if providers.is_empty() {
        return Err(CliError::Usage("--providers: give at least one".into()));
    }
    let (runtime, config) = open(args.database)?;
    runtime.block_on(async {
        let db = Db::connect(&config.database_url()).await?;
        let started = Instant::now();
        let seeded = yiwang_server::dev::seed_devices(&db, args.count, &providers, &args.region)
            .await
            .map_err(|e| CliError::Usage(format!("{} ({})", e.message, e.code)))?;
        println!(
            "seeded {} citizens with devices (seed-{:09}..) in {:.1} s",
            seeded.accounts,
            seeded.first,
            started.elapsed().as_secs_f64()
        );
        db.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
