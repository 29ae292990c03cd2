//! How node agents and clients connect to NATS: the server, NATS's own
//! authentication and TLS, passed through to `async-nats` unchanged.

use std::path::PathBuf;
use std::time::Duration;

/// Where NATS is and how to prove who we are. Every field maps to one
/// `async_nats::ConnectOptions` setting; bulkhead adds no authentication
/// of its own. Also the node agent's command-line options.
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct NatsOptions {
    /// Server URL(s), comma-separated.
    #[arg(
        long = "nats",
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// User name, with `--password`.
    #[arg(long, env = "NATS_USER")]
    pub user: Option<String>,
    /// Password, with `--user`.
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Authentication token.
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// NKey seed (`SU…`).
    #[arg(long, env = "NATS_NKEY", hide_env_values = true)]
    pub nkey: Option<String>,
    /// A `.creds` file (JWT and NKey seed).
    #[arg(long, env = "NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// CA certificate (PEM) to verify the server with.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with `--tls-key`.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Client key (PEM), with `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Refuse a connection without TLS.
    #[arg(long)]
    pub require_tls: bool,
}

/// Why a connection to NATS could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The credentials file could not be read.
    #[error("could not read the NATS credentials file {}: {source}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `--user` came without `--password`, or the reverse.
    #[error("a NATS user name needs a password, and a password a user name")]
    UserWithoutPassword,
    /// The server could not be reached or refused us.
    #[error("could not connect to NATS at {url}: {source}")]
    Connect {
        /// The server URL(s).
        url: String,
        /// Cause.
        #[source]
        source: async_nats::ConnectError,
    },
}

impl NatsOptions {
    /// Options for the server at `url`, without authentication or TLS.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The `async-nats` options these stand for, named `name` on the
    /// server.
    pub async fn connect_options(
        &self,
        name: &str,
    ) -> Result<async_nats::ConnectOptions, ConnectError> {
        let mut options = match &self.creds {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|source| ConnectError::Credentials {
                    path: path.clone(),
                    source,
                })?,
            None => async_nats::ConnectOptions::new(),
        };
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => {
                options = options.user_and_password(user.clone(), password.clone());
            }
            (None, None) => {}
            _ => return Err(ConnectError::UserWithoutPassword),
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(seed) = &self.nkey {
            options = options.nkey(seed.clone());
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(options
            .require_tls(self.require_tls)
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            // Reconnect for ever once connected: a server restart must not
            // end a node. The first connection fails at once instead, so
            // that a wrong address or credentials are told.
            .max_reconnects(None))
    }

    /// Connects, named `name` on the server.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, ConnectError> {
        let options = self.connect_options(name).await?;
        options
            .connect(self.url.as_str())
            .await
            .map_err(|source| ConnectError::Connect {
                url: self.url.clone(),
                source,
            })
    }
}
