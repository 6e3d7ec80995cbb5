use std::io::BufRead;
use std::net::SocketAddr;

use switchboard::config::{self, AdminCommand, Command};
use switchboard::{build_router, startup};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("switchboard: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let cli = config::load()?;
    let config = cli.config;
    let filter = EnvFilter::try_new(&config.log).map_err(|e| format!("SWITCHBOARD_LOG: {e}"))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Admin(AdminCommand::Create { email, name }) => {
            let state = startup::prepare(&config).await?;
            let password = match std::env::var("SWITCHBOARD_ADMIN_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("Password for {email} (one line):");
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            app::server::setup::create_admin(&state.db, &email, &name, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Admin {email} created. Sign in at {}/signin",
                state.settings.base_url()
            );
            Ok(())
        }
        Command::Admin(AdminCommand::SetupLink) => {
            let state = startup::prepare(&config).await?;
            match app::server::setup::issue_link_if_needed(&state.db, &state.settings.base_url())
                .await
            {
                Ok(Some(link)) => println!("{link}"),
                Ok(None) => println!("An admin exists already; sign in instead."),
                Err(e) => return Err(e.to_string()),
            }
            Ok(())
        }
    }
}

async fn serve(config: config::Config) -> Result<(), String> {
    let state = startup::prepare(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            format!(
                "SWITCHBOARD_LISTEN: cannot listen on {}: {e}",
                config.listen
            )
        })?;
    startup::announce(&state).await?;
    let router = build_router(state.clone());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| e.to_string())?;
    state.db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
