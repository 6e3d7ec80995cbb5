#![recursion_limit = "256"]
use std::io::BufRead;

use switchboard::config::{self, AdminCommand, Command, SandboxCommand};
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
            let (state, _) = startup::prepare(&config).await?;
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
            app::server::accounts::setup::create_admin(&state.db, &email, &name, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Admin {email} created. Sign in at {}/signin",
                state.settings.base_url()
            );
            Ok(())
        }
        Command::Sandbox(command) => sandbox(&config, command).await,
        Command::Backup { folder } => {
            println!("{}", switchboard::backup::backup(&config, &folder).await?);
            Ok(())
        }
        Command::Restore { folder } => {
            println!("{}", switchboard::backup::restore(&config, &folder).await?);
            Ok(())
        }
        Command::Admin(AdminCommand::SetupLink) => {
            let (state, _) = startup::prepare(&config).await?;
            match app::server::accounts::setup::issue_link_if_needed(
                &state.db,
                &state.settings.base_url(),
            )
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
    // One server per SQLite file (several instances share PostgreSQL, not SQLite).
    let _one_server = match switchboard::backup::sqlite_path(&config.database_url()) {
        Some(_) => {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                format!(
                    "SWITCHBOARD_DATA_DIR: cannot create {}: {e}",
                    config.data_dir.display()
                )
            })?;
            Some(switchboard::backup::DataDirLock::acquire(&config.data_dir)?)
        }
        None => None,
    };
    let (state, reports) = startup::prepare(&config).await?;
    state.start_background_work(reports);
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
    // On SIGTERM/Ctrl-C: stop accepting, let requests in flight finish (live streams never
    // end by themselves, so not for long), then let the job lanes finish the jobs in hand
    // (a send the carrier is answering gets recorded) before the database closes.
    switchboard::serving::serve(
        listener,
        router,
        switchboard::serving::ConnectionLimits::default(),
        shutdown_signal(),
        std::time::Duration::from_secs(2),
    )
    .await;
    tracing::info!("stopping: finishing the jobs in hand");
    state
        .stop_background_work(std::time::Duration::from_secs(20))
        .await;
    state.db.close().await;
    Ok(())
}

/// Posts a signed sandbox webhook to the running instance at `public_url`, so the event
/// takes the same path a carrier's would (and reaches open tabs live).
async fn sandbox(config: &config::Config, command: SandboxCommand) -> Result<(), String> {
    use app::server::webhooks::{sandbox_signature, SandboxWebhook, SANDBOX_SIGNATURE_HEADER};
    let (state, _) = startup::prepare(config).await?;
    let id = format!("cli-{}", uuid::Uuid::now_v7());
    let hook = match command {
        SandboxCommand::Inbound {
            from,
            to,
            text,
            picture,
        } => {
            let to = app::server::phone::parse(&to, "US").map_err(|e| format!("--to: {e}"))?;
            let from =
                app::server::phone::parse(&from, "US").map_err(|e| format!("--from: {e}"))?;
            let media = match picture {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| format!("--picture: cannot read {}: {e}", path.display()))?;
                    let kind = app::server::media::sniff_image(&bytes).ok_or_else(|| {
                        format!("--picture: {} is not a JPEG, PNG or GIF", path.display())
                    })?;
                    vec![app::server::media::data_url(kind, &bytes)]
                }
                None => Vec::new(),
            };
            if text.trim().is_empty() && media.is_empty() {
                return Err("give --text, --picture or both".into());
            }
            SandboxWebhook::Inbound {
                id,
                from,
                to,
                body: text,
                media,
            }
        }
        SandboxCommand::Fail {
            carrier_message_id,
            code,
        } => SandboxWebhook::Failed {
            id,
            carrier_message_id,
            error_code: code,
        },
    };
    let body = serde_json::to_vec(&hook).map_err(|e| e.to_string())?;
    let url = format!("{}/webhooks/sandbox", state.settings.base_url());
    let res = reqwest::Client::new()
        .post(&url)
        .header(
            SANDBOX_SIGNATURE_HEADER,
            sandbox_signature(&state.secret, &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot reach Switchboard at {url}: {e}"))?;
    if res.status().is_success() {
        println!("Delivered to {url}");
        Ok(())
    } else {
        Err(format!("{url} answered {}", res.status()))
    }
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
