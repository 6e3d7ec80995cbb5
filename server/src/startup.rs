//! Start-up: data directory, database and migrations, instance secret, first-admin link.

use std::path::Path;

use leptos::config::LeptosOptions;
use rand::RngCore;

use app::server::accounts::setup;
use app::server::{AppState, Db, Settings};

use crate::config::Config;

pub type Reports = tokio::sync::mpsc::UnboundedReceiver<app::server::carrier::CarrierEvent>;

/// Everything `serve` needs, ready to answer requests, and the carrier reports channel that
/// [`AppState::start_background_work`] consumes.
pub async fn prepare(config: &Config) -> Result<(AppState, Reports), String> {
    let carrier = config.carrier_config()?;
    restrict_new_files();
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "SWITCHBOARD_DATA_DIR: cannot create {}: {e}",
            config.data_dir.display()
        )
    })?;
    #[cfg(unix)]
    {
        // Also for a data directory made by an older version, or by hand.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| {
                format!(
                    "SWITCHBOARD_DATA_DIR: cannot restrict {} to its owner: {e}",
                    config.data_dir.display()
                )
            })?;
    }
    refuse_what_would_bite(config)?;
    let secret = match &config.secret_key {
        Some(key) => key.0,
        None => load_or_create_secret(&config.data_dir.join("secret.key"))?,
    };
    let settings = Settings {
        public_url: config.public_url(),
        bind_session_to_ip: config.bind_session_to_ip,
        session_idle_ms: config.session_idle_days * 24 * 60 * 60 * 1000,
        sandbox_step_ms: 400,
        carrier,
        push_contact: config.push_contact(),
        media_dir: config.data_dir.join("media"),
        fetch_reach: app::server::safe_http::Reach::Public,
        media_quota_bytes: config.media_quota_mb * 1_000_000,
        trusted_proxies: config.trusted_proxies.0.clone(),
        report_wait_ms: config.delivery_report_wait_secs * 1000,
        ice_servers: config.ice_servers.0.clone(),
        google_issuer: config.google_issuer.clone(),
    };
    if app::server::crypto::cheap_test_hashing() {
        tracing::warn!(
            "new passwords are hashed at a test-only cost ({}=1, honoured by debug builds only)",
            app::server::crypto::CHEAP_TEST_HASHING_VAR
        );
    }
    if settings.push_contact.is_none() {
        tracing::warn!("push alerts are off: set SWITCHBOARD_PUSH_CONTACT (mailto: or https:) or a public URL on a real domain");
    }
    open(
        &config.database_url(),
        settings,
        secret,
        leptos_options(config)?,
    )
    .await
}

/// The app on its database: connected, migrated, its Web Push key and the carrier settings
/// saved in the app loaded. The binary (through [`prepare`]) and the tests start here.
pub async fn open(
    database_url: &str,
    settings: Settings,
    secret: [u8; 32],
    options: LeptosOptions,
) -> Result<(AppState, Reports), String> {
    let db = Db::connect(database_url)
        .await
        .map_err(|e| format!("DATABASE_URL: cannot open the database: {e}"))?;
    if let Some(version) = db
        .unknown_migration()
        .await
        .map_err(|e| format!("cannot read the database's schema: {e}"))?
    {
        return Err(crate::backup::newer_schema_message(version));
    }
    db.migrate()
        .await
        .map_err(|e| format!("database migration failed: {e}"))?;
    let vapid = app::server::push::vapid_keys(&db, &secret)
        .await
        .map_err(|e| format!("cannot prepare the Web Push key: {e}"))?;
    let (state, reports) = AppState::new(db, settings, secret, vapid, options);
    state
        .reload_carrier()
        .await
        .map_err(|e| format!("cannot load the carrier settings saved in the app: {e}"))?;
    Ok((state, reports))
}

/// Stops (or warns) at start-up on what would otherwise fail later, when it is harder to
/// tell why.
fn refuse_what_would_bite(config: &Config) -> Result<(), String> {
    let url = config.public_url();
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => true,
    };
    if url.scheme() == "http" && !local {
        tracing::warn!(
            %url,
            "SWITCHBOARD_PUBLIC_URL is plain http on a network address: passwords, session \
             cookies and texts cross the network readable by anyone on the way, and browsers \
             refuse push alerts and the microphone. Put it behind a TLS proxy and use https."
        );
    }
    // Pictures are written beside their final name and renamed, and a restore moves the
    // media folder aside by renaming it: both need it on the data directory's filesystem.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let media = config.data_dir.join("media");
        if let (Ok(data), Ok(pictures)) = (
            std::fs::metadata(&config.data_dir),
            std::fs::metadata(&media),
        ) {
            if data.dev() != pictures.dev() {
                return Err(format!(
                    "{} is on another filesystem than the data directory {}: keep the whole \
                     data directory on one filesystem (mount the volume at the data directory \
                     itself), or restores and picture writes fail half-way",
                    media.display(),
                    config.data_dir.display()
                ));
            }
        }
    }
    Ok(())
}

/// Leptos's view of the built client. When the build named the files by their content
/// (`hash.txt`, written by scripts/lib.sh), pages link those names, which browsers may keep
/// for good; without it, the plain names (always revalidated). A release binary carries its
/// client (`crate::site`); leptos reads the hashes from a file, so they are written into the
/// data directory at each start.
pub fn leptos_options(config: &Config) -> Result<LeptosOptions, String> {
    let hash_file = match crate::site::hashes() {
        Some(hashes) => {
            let path = std::path::absolute(config.data_dir.join("client-hashes.txt"))
                .unwrap_or_else(|_| config.data_dir.join("client-hashes.txt"));
            std::fs::write(&path, hashes).map_err(|e| {
                format!("SWITCHBOARD_DATA_DIR: cannot write {}: {e}", path.display())
            })?;
            path
        }
        None => std::path::absolute(config.site_root.join("hash.txt"))
            .unwrap_or_else(|_| config.site_root.join("hash.txt")),
    };
    Ok(LeptosOptions::builder()
        .output_name("switchboard")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .hash_files(hash_file.is_file())
        .hash_file(std::sync::Arc::<str>::from(hash_file.display().to_string()))
        .build())
}

/// Everything this process creates from here on (the database and its WAL, the media
/// folder and pictures, keys) is readable by the service user only: texts and pictures are
/// nobody else's business on a shared machine.
pub fn restrict_new_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The instance secret, generated on first start into the data directory (owner-only).
fn load_or_create_secret(path: &Path) -> Result<[u8; 32], String> {
    let describe =
        |e: std::io::Error| format!("SWITCHBOARD_SECRET_KEY: cannot use {}: {e}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .map_err(|_| format!("{} is not 64 hex characters", path.display()))?;
            bytes
                .try_into()
                .map_err(|_| format!("{} is not 64 hex characters", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            write_private(path, &hex::encode(key)).map_err(describe)?;
            Ok(key)
        }
        Err(e) => Err(describe(e)),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Prints where to find the app and, while no admin exists, a fresh one-time setup link.
pub async fn announce(state: &AppState) -> Result<(), String> {
    let base = state.settings.base_url();
    println!("Switchboard is running at {base}");
    match setup::issue_link_if_needed(&state.db, &base).await {
        Ok(Some(link)) => {
            println!("No admin yet. Open this one-time link within 1 hour to create the first admin account:");
            println!("  {link}");
        }
        Ok(None) => {}
        Err(e) => return Err(format!("could not create a setup link: {e}")),
    }
    Ok(())
}
