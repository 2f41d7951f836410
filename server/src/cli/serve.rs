use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use yiwang_server::push::dispatch::{DispatchSettings, Dispatcher};
use yiwang_server::push::providers::Providers;
use yiwang_server::{AppState, Config, app, db::Db};

use super::CliError;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides YIWANG_BIND; port 0 picks a free port).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Data directory (overrides YIWANG_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file (overrides YIWANG_CONFIG; environment variables override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the configuration in force (secrets masked) and exit.
    #[arg(long)]
    print_config: bool,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    init_tracing();
    let mut config = Config::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if args.print_config {
        print!("{}", config.redacted());
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(mut config: Config) -> Result<(), CliError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CliError::Io {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = Db::connect(&config.database_url()).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| CliError::Io {
            path: config.bind.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| CliError::Io {
        path: config.bind.to_string(),
        source,
    })?;
    tracing::info!(address = %local, data_dir = %config.data_dir.display(), "yiwang listening");
    // With port 0 the address is known only now.
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{local}"));
    }
    if config.key_encryption_key.is_none() {
        tracing::warn!(
            "private keys are stored unencrypted in the database: set key_encryption_key"
        );
    }
    if config.admin_token.is_none() {
        tracing::info!("admin routes disabled (no admin_token configured)");
    }
    let providers = Providers::new(&config.push.providers)
        .map_err(|e| CliError::Usage(format!("push provider configuration: {e}")))?;
    let dispatch_settings = DispatchSettings::from_config(&config.push);
    let dispatching = config.push.dispatch;
    let state = AppState::with_config(db.clone(), config)
        .await
        .map_err(|e| CliError::Usage(format!("{} ({})", e.message, e.code)))?;
    let (stop_dispatch, dispatch_stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = if dispatching {
        let dispatcher = Dispatcher::new(db.clone(), Arc::new(providers), dispatch_settings)
            .map_err(|e| CliError::Usage(format!("{} ({})", e.message, e.code)))?;
        tracing::info!(
            providers = ?state.config().push.configured_providers(),
            "push dispatch on"
        );
        let wake = state.push_wake();
        Some(tokio::spawn(dispatcher.run(wake, async move {
            let _ = dispatch_stopped.await;
        })))
    } else {
        tracing::info!("push dispatch off in this process");
        None
    };
    // Event matching runs in every process; the database shares the work.
    let (stop_matching, matching_stopped) = tokio::sync::watch::channel(false);
    let matcher = yiwang_server::recommend::worker::Matcher::new(
        db.clone(),
        state.config().push.clone(),
        state.push_wake(),
    );
    let mut matching = tokio::task::JoinSet::new();
    for _ in 0..state.config().matcher_loops.max(1) {
        let mut stopped = matching_stopped.clone();
        matching.spawn(matcher.clone().run(
            state.events_wake(),
            std::time::Duration::from_millis(state.config().push.poll_ms),
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
    }
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|source| CliError::Io {
        path: local.to_string(),
        source,
    })?;
    let _ = stop_matching.send(true);
    while matching.join_next().await.is_some() {}
    let _ = stop_dispatch.send(());
    if let Some(task) = dispatcher {
        let _ = task.await;
    }
    db.close().await;
    tracing::info!("yiwang stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM: axum then stops accepting and finishes in-flight requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("YIWANG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
