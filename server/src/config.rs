//! Configuration: command-line flags, each with an environment variable, optionally read
//! from a `KEY=value` file (`--config` / `SWITCHBOARD_CONFIG`; real env vars win).
//! Any invalid value stops start-up with a message naming its key.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use app::server::carrier::config::{CarrierConfig, CarrierKind, TelnyxConfig, TwilioConfig};

/// `switchboard --version`: the release and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SWITCHBOARD_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version = VERSION,
    about = "Switchboard: own virtual phone numbers and use them from any browser.",
    long_about = "Switchboard: own virtual phone numbers and use them from any browser.\n\n\
Every option can also be set by the environment variable shown, or in a file of KEY=value \
lines named by --config / SWITCHBOARD_CONFIG."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (the default).
    Serve,
    /// Manage admins without the web interface.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Drive the sandbox carrier of a running instance (as its Simulator page does).
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Back up the SQLite database, instance secret and pictures into a new folder, while
    /// the server keeps running.
    Backup {
        /// The folder to create (it must not exist, or be empty).
        folder: PathBuf,
    },
    /// Replace this instance's data with a backup (stop the server first). What was there
    /// is moved to <data dir>/before-restore-<time>/.
    Restore {
        /// A folder written by `switchboard backup`.
        folder: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// An outside phone texts one of the numbers owned here.
    Inbound {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        text: String,
        /// A JPEG, PNG or GIF file to send along (an MMS).
        #[arg(long)]
        picture: Option<std::path::PathBuf>,
    },
    /// The carrier reports that a sent message failed (e.g. code 40300, 30034).
    Fail {
        /// The carrier's message id (shown by the Simulator page).
        #[arg(long)]
        carrier_message_id: String,
        #[arg(long)]
        code: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is read from SWITCHBOARD_ADMIN_PASSWORD or
    /// from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        name: String,
    },
    /// Print a new one-time setup link (only while no admin exists).
    SetupLink,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// A file of KEY=value lines to read settings from.
    #[arg(long, env = "SWITCHBOARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:3000", value_parser = parse_listen, global = true)]
    pub listen: SocketAddr,

    /// The URL people, carriers and push links use to reach this instance
    /// (default: http://<listen>). Use https in production: it turns on Secure cookies.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<url::Url>,

    /// Directory for the SQLite database, keys and media (created on first start).
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Database URL: sqlite://path or postgres://… (default: SQLite in the data directory).
    #[arg(long, env = "DATABASE_URL", value_parser = parse_database_url, global = true)]
    pub database_url: Option<String>,

    /// 64 hex characters. Instances sharing one database must share this key.
    /// Default: generated into <data_dir>/secret.key on first start.
    #[arg(long, env = "SWITCHBOARD_SECRET_KEY", hide_env_values = true, value_parser = parse_secret_key, global = true)]
    pub secret_key: Option<SecretKey>,

    /// Also bind sessions to the client IP (users on mobile networks get signed out more often).
    #[arg(long, env = "SWITCHBOARD_BIND_SESSION_TO_IP", default_value = "false",
          value_parser = parse_bool("SWITCHBOARD_BIND_SESSION_TO_IP"), action = clap::ArgAction::Set, global = true)]
    pub bind_session_to_ip: bool,

    /// Days of inactivity after which a session ends (each use extends it).
    #[arg(long, env = "SWITCHBOARD_SESSION_IDLE_DAYS", default_value = "30", value_parser = parse_idle_days, global = true)]
    pub session_idle_days: i64,

    /// Directory holding the built client (pkg/) and public files.
    #[arg(
        long,
        env = "SWITCHBOARD_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    /// The carrier numbers and texts go through: sandbox (built in, offline), telnyx or twilio.
    #[arg(long, env = "SWITCHBOARD_CARRIER", default_value = "sandbox", value_parser = ["sandbox", "telnyx", "twilio"], global = true)]
    pub carrier: String,

    /// Twilio account SID (required with SWITCHBOARD_CARRIER=twilio).
    #[arg(long, env = "SWITCHBOARD_TWILIO_ACCOUNT_SID", global = true)]
    pub twilio_account_sid: Option<String>,

    /// Twilio API base URL.
    #[arg(long, env = "SWITCHBOARD_TWILIO_API_BASE", default_value = "https://api.twilio.com", value_parser = parse_api_base, global = true)]
    pub twilio_api_base: String,

    /// Telnyx API key (required with SWITCHBOARD_CARRIER=telnyx).
    #[arg(
        long,
        env = "SWITCHBOARD_TELNYX_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub telnyx_api_key: Option<String>,

    /// Telnyx API base URL.
    #[arg(long, env = "SWITCHBOARD_TELNYX_API_BASE", default_value = "https://api.telnyx.com/v2", value_parser = parse_api_base, global = true)]
    pub telnyx_api_base: String,

    /// An existing Telnyx messaging profile to put numbers in (default: one is created,
    /// with its webhooks pointing at this instance).
    #[arg(long, env = "SWITCHBOARD_TELNYX_MESSAGING_PROFILE_ID", global = true)]
    pub telnyx_messaging_profile_id: Option<String>,

    /// Telnyx webhook public key (base64, from the Telnyx portal): accepts Telnyx webhooks.
    #[arg(
        long,
        env = "SWITCHBOARD_TELNYX_PUBLIC_KEY",
        hide_env_values = true,
        global = true
    )]
    pub telnyx_public_key: Option<String>,

    /// Twilio auth token: accepts Twilio webhooks.
    #[arg(
        long,
        env = "SWITCHBOARD_TWILIO_AUTH_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub twilio_auth_token: Option<String>,

    /// The contact push services may reach the operator at (VAPID `sub`): mailto:… or https://….
    /// Default: mailto:admin@<public_url host> when that host is a real domain; otherwise
    /// push alerts are off until this is set.
    #[arg(long, env = "SWITCHBOARD_PUSH_CONTACT", value_parser = parse_push_contact, global = true)]
    pub push_contact: Option<String>,

    /// Reverse proxies in front of this server, as comma-separated addresses or CIDRs
    /// (e.g. 127.0.0.1/32,10.0.0.0/8). Only from these is X-Forwarded-For / Forwarded
    /// believed: it then names the client for throttling, session binding and the devices
    /// list. Default: none (the connecting address is the client).
    #[arg(long, env = "SWITCHBOARD_TRUSTED_PROXIES", value_parser = parse_trusted_proxies, default_value = "", global = true)]
    pub trusted_proxies: TrustedProxies,

    /// STUN/TURN servers for calls between different networks, as the JSON list a browser's
    /// RTCPeerConnection takes, e.g. [{"urls":"turn:turn.example.com:3478","username":"u",
    /// "credential":"p"}]. Default: none (calls connect within one network).
    #[arg(long, env = "SWITCHBOARD_ICE_SERVERS", value_parser = parse_ice_servers, default_value = "[]", global = true)]
    pub ice_servers: IceServers,

    /// The OpenID Connect provider behind "Sign in with Google" (Admin → Sign-in sets its
    /// client id and secret). Google's unless pointed at a compatible provider.
    #[arg(long, env = "SWITCHBOARD_GOOGLE_ISSUER", default_value = "https://accounts.google.com", value_parser = parse_issuer, global = true)]
    pub google_issuer: String,

    /// Megabytes of MMS pictures one user may keep (sent and received together).
    #[arg(long, env = "SWITCHBOARD_MEDIA_QUOTA_MB", default_value = "1000", value_parser = parse_media_quota, global = true)]
    pub media_quota_mb: i64,

    /// Seconds a text whose send was never answered (the server stopped, the carrier timed
    /// out) waits for the carrier's delivery report before it is sent again.
    #[arg(long, env = "SWITCHBOARD_DELIVERY_REPORT_WAIT_SECS", default_value = "120", value_parser = clap::value_parser!(i64).range(1..=86_400), global = true)]
    pub delivery_report_wait_secs: i64,

    /// Log filter, e.g. info or switchboard=debug,info.
    #[arg(long, env = "SWITCHBOARD_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: text or json.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
}

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

/// The ICE servers' JSON, checked: a list of objects each naming `urls`.
#[derive(Debug, Clone)]
pub struct IceServers(pub String);

fn parse_ice_servers(s: &str) -> Result<IceServers, String> {
    let fail = |why: &str| {
        format!("SWITCHBOARD_ICE_SERVERS: {why} (a JSON list such as [{{\"urls\":\"stun:stun.example.com:3478\"}}])")
    };
    let s = if s.trim().is_empty() { "[]" } else { s.trim() };
    let value: serde_json::Value = serde_json::from_str(s).map_err(|_| fail("not JSON"))?;
    let servers = value.as_array().ok_or_else(|| fail("not a list"))?;
    for server in servers {
        let urls = server
            .get("urls")
            .ok_or_else(|| fail("a server without urls"))?;
        let all_urls = match urls {
            serde_json::Value::String(u) => vec![u.as_str()],
            serde_json::Value::Array(list) => list.iter().filter_map(|u| u.as_str()).collect(),
            _ => return Err(fail("urls must be a string or a list of strings")),
        };
        if all_urls.is_empty()
            || !all_urls.iter().all(|u| {
                u.starts_with("stun:") || u.starts_with("turn:") || u.starts_with("turns:")
            })
        {
            return Err(fail("each url starts with stun:, turn: or turns:"));
        }
    }
    Ok(IceServers(value.to_string()))
}

fn parse_trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("SWITCHBOARD_TRUSTED_PROXIES: {p:?} is not an address or CIDR (such as 10.0.0.0/8)")
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(TrustedProxies)
}

fn parse_media_quota(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "SWITCHBOARD_MEDIA_QUOTA_MB must be a whole number of megabytes from 1, not {s:?}"
        )),
    }
}

#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!("SWITCHBOARD_LISTEN must be an address and port such as 127.0.0.1:3000, not {s:?}")
    })
}

fn parse_public_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s)
        .map_err(|e| format!("SWITCHBOARD_PUBLIC_URL is not a URL ({e}): {s:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "SWITCHBOARD_PUBLIC_URL must be an http:// or https:// URL, not {s:?}"
        ));
    }
    Ok(url)
}

fn parse_api_base(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(s.trim_end_matches('/').to_string()),
        _ => Err(format!(
            "SWITCHBOARD_TELNYX_API_BASE / SWITCHBOARD_TWILIO_API_BASE must be an http(s) URL, not {s:?}"
        )),
    }
}

fn parse_issuer(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(s.trim_end_matches('/').to_string())
        }
        _ => Err(format!(
            "SWITCHBOARD_GOOGLE_ISSUER must be an http(s) URL, not {s:?}"
        )),
    }
}

fn is_real_host(host: &str) -> bool {
    host.contains('.')
        && host != "localhost"
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.ends_with(".localhost")
}

fn parse_push_contact(s: &str) -> Result<String, String> {
    let ok = match s.split_once(':') {
        Some(("mailto", rest)) => rest
            .rsplit_once('@')
            .is_some_and(|(_, host)| is_real_host(host)),
        Some(("https", _)) => url::Url::parse(s)
            .ok()
            .and_then(|u| u.host_str().map(is_real_host))
            .unwrap_or(false),
        _ => false,
    };
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("SWITCHBOARD_PUSH_CONTACT must be a mailto: or https: contact on a real domain (not localhost), not {s:?}"))
    }
}

fn parse_database_url(s: &str) -> Result<String, String> {
    if s.starts_with("sqlite:") || s.starts_with("postgres:") || s.starts_with("postgresql:") {
        Ok(s.to_string())
    } else {
        Err("DATABASE_URL must start with sqlite: or postgres:".into())
    }
}

fn parse_secret_key(s: &str) -> Result<SecretKey, String> {
    let bytes = hex::decode(s.trim())
        .map_err(|_| "SWITCHBOARD_SECRET_KEY must be 64 hex characters".to_string())?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "SWITCHBOARD_SECRET_KEY must be 64 hex characters (32 bytes)".to_string())?;
    Ok(SecretKey(key))
}

fn parse_idle_days(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if (1..=365).contains(&n) => Ok(n),
        _ => Err(format!(
            "SWITCHBOARD_SESSION_IDLE_DAYS must be a whole number of days from 1 to 365, not {s:?}"
        )),
    }
}

fn parse_bool(
    key: &'static str,
) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{key} must be true or false, not {s:?}")),
    }
}

impl Config {
    pub fn public_url(&self) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{}", self.listen))
                .expect("a socket address makes a URL")
        })
    }

    /// The carrier settings from the configuration, checked: the chosen carrier must have
    /// its credentials. (Settings saved in Admin → Carrier take their place at run time.)
    pub fn carrier_config(&self) -> Result<CarrierConfig, String> {
        let config = CarrierConfig {
            active: CarrierKind::parse(&self.carrier).unwrap_or_default(),
            telnyx: TelnyxConfig {
                api_base: self.telnyx_api_base.clone(),
                api_key: self.telnyx_api_key.clone(),
                messaging_profile_id: self.telnyx_messaging_profile_id.clone(),
                public_key: self.telnyx_public_key.clone(),
            },
            twilio: TwilioConfig {
                api_base: self.twilio_api_base.clone(),
                account_sid: self.twilio_account_sid.clone(),
                auth_token: self.twilio_auth_token.clone(),
            },
        }
        .normalized();
        config.check().map_err(|why| {
            let prefix = match config.active {
                CarrierKind::Telnyx => "SWITCHBOARD_CARRIER=telnyx: set SWITCHBOARD_TELNYX_API_KEY and SWITCHBOARD_TELNYX_PUBLIC_KEY",
                CarrierKind::Twilio => "SWITCHBOARD_CARRIER=twilio: set SWITCHBOARD_TWILIO_ACCOUNT_SID and SWITCHBOARD_TWILIO_AUTH_TOKEN",
                CarrierKind::Sandbox => "SWITCHBOARD_CARRIER",
            };
            format!("{prefix} ({why})")
        })?;
        Ok(config)
    }

    /// The VAPID contact: configured, or derived from a public URL on a real domain.
    pub fn push_contact(&self) -> Option<String> {
        self.push_contact.clone().or_else(|| {
            let url = self.public_url();
            let host = url.host_str()?;
            is_real_host(host).then(|| format!("mailto:admin@{host}"))
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("switchboard.db").display()
            )
        })
    }
}

/// Reads the config file named by `--config` or `SWITCHBOARD_CONFIG` into the environment
/// (without overriding variables already set), then parses the command line.
pub fn load() -> Result<Cli, String> {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--config=").map(str::to_owned))
        });
    if let Some(path) = from_flag.or_else(|| std::env::var("SWITCHBOARD_CONFIG").ok()) {
        dotenvy::from_path(&path)
            .map_err(|e| format!("SWITCHBOARD_CONFIG: cannot read {path}: {e}"))?;
    }
    unset_blank_variables();
    Ok(Cli::parse())
}

/// Our variables set to nothing (`SWITCHBOARD_TWILIO_AUTH_TOKEN=`, a `KEY=` line in the
/// config file) count as unset: a blank secret must never switch a feature on, and a blank
/// setting means its default. Runs before any other thread exists.
fn unset_blank_variables() {
    for (key, value) in std::env::vars_os() {
        let ours = key
            .to_str()
            .is_some_and(|k| k.starts_with("SWITCHBOARD_") || k == "DATABASE_URL");
        if ours && value.to_str().is_some_and(|v| v.trim().is_empty()) {
            std::env::remove_var(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        assert!(parse_trusted_proxies("").unwrap().0.is_empty());
        let parsed = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8,::1")
            .unwrap()
            .0;
        assert_eq!(parsed.len(), 3);
        assert!(parsed[1].contains(&"10.9.8.7".parse::<std::net::IpAddr>().unwrap()));
        let err = parse_trusted_proxies("10.0.0.0/8,proxy.local").unwrap_err();
        assert!(err.contains("SWITCHBOARD_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn ice_servers_are_a_list_of_stun_or_turn_urls() {
        assert_eq!(parse_ice_servers("").unwrap().0, "[]");
        let turn = r#"[{"urls":["turn:turn.example.com:3478"],"username":"u","credential":"p"}]"#;
        assert!(parse_ice_servers(turn)
            .unwrap()
            .0
            .contains("turn.example.com"));
        assert!(parse_ice_servers(r#"[{"urls":"stun:stun.example.com"}]"#).is_ok());
        for bad in [
            "stun:stun.example.com",
            r#"{"urls":"stun:x"}"#,
            r#"[{"username":"u"}]"#,
            r#"[{"urls":"https://evil.example.com"}]"#,
            r#"[{"urls":[]}]"#,
        ] {
            let err = parse_ice_servers(bad).unwrap_err();
            assert!(err.contains("SWITCHBOARD_ICE_SERVERS"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_blank_secret_on_the_command_line_is_no_secret() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "--twilio-auth-token=",
            "--telnyx-public-key= ",
        ])
        .unwrap();
        let carrier = cli.config.carrier_config().unwrap();
        assert_eq!(carrier.twilio.auth_token, None);
        assert_eq!(carrier.telnyx.public_key, None);
    }
}
