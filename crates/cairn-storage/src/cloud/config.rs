//! Configuration of the S3, GCS and Azure backends: where credentials come from, and the
//! object_store builders they produce.
//!
//! `from_env` reads each cloud's standard variables and files, as the SDKs the W&B client uses
//! (boto3, google-cloud-storage, azure-identity) do. Nothing is fetched from a network until an
//! object is touched. Each config remembers *where* its credentials came from, never the
//! secrets themselves, so error messages can say what was tried and what to set; the types'
//! `Debug` output is hand-written for the same reason.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use object_store::{ClientOptions, RetryConfig};

use crate::{CONNECT_TIMEOUT, MAX_RETRIES, READ_TIMEOUT};

/// Network settings shared by the cloud backends: finite timeouts, bounded retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Network {
    pub(crate) retries: usize,
    pub(crate) retry_timeout: Duration,
    pub(crate) allow_http: bool,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            retries: MAX_RETRIES,
            retry_timeout: Duration::from_secs(60),
            allow_http: false,
        }
    }
}

impl Network {
    pub(crate) fn client_options(self) -> ClientOptions {
        // No total timeout: a multi-gigabyte body may take minutes. Instead every connect and
        // every read must make progress within its own limit.
        ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout_disabled()
            .with_read_timeout(READ_TIMEOUT)
            .with_allow_http(self.allow_http)
    }

    pub(crate) fn retry(self) -> RetryConfig {
        RetryConfig {
            max_retries: self.retries,
            retry_timeout: self.retry_timeout,
            ..RetryConfig::default()
        }
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .map(PathBuf::from)
}

fn is_true(key: &str) -> bool {
    env(key)
        .is_some_and(|value| matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The settings of one `[section]` of an INI file such as `~/.aws/credentials`.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = Some(name.trim());
            if current == Some(section) {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if current == Some(section)
            && let Some((key, value)) = line.split_once('=')
            && let Some(settings) = found.as_mut()
        {
            settings.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    found
}

fn setting<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
    settings
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

#[cfg(feature = "s3")]
pub use self::s3::S3Config;
#[cfg(feature = "s3")]
mod s3 {
    use object_store::aws::AmazonS3Builder;

    use super::{Network, env, fmt, home, ini_section, is_true, setting};

    /// How the S3 backend connects and authenticates.
    ///
    /// ```
    /// use cairn_storage::S3Config;
    ///
    /// // An S3-compatible endpoint with explicit credentials (MinIO, moto, Ceph, R2, ...).
    /// let config = S3Config::new()
    ///     .with_endpoint("http://127.0.0.1:9000")
    ///     .with_region("us-east-1")
    ///     .with_static_credentials("access-key", "secret-key");
    /// assert!(!format!("{config:?}").contains("secret-key"));
    /// ```
    #[derive(Clone)]
    pub struct S3Config {
        pub(crate) builder: AmazonS3Builder,
        pub(crate) network: Network,
        pub(crate) credentials: String,
        pub(crate) missing_credentials: bool,
    }

    impl fmt::Debug for S3Config {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("S3Config")
                .field("credentials", &self.credentials)
                .field("network", &self.network)
                .finish_non_exhaustive()
        }
    }

    const WHAT_TO_SET: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials";

    impl S3Config {
        /// Nothing from the environment: AWS's public endpoint, `us-east-1`, no credentials
        /// until given.
        pub fn new() -> Self {
            Self {
                builder: AmazonS3Builder::new().with_region("us-east-1"),
                network: Network::default(),
                credentials: format!("no credentials were configured; {WHAT_TO_SET}"),
                missing_credentials: true,
            }
        }

        /// What boto3 would use: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
        /// `AWS_SESSION_TOKEN`, web identity and container credentials, else the profile
        /// `AWS_PROFILE` (or `default`) of `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`),
        /// else the EC2 instance role. The region comes from `AWS_REGION`, `AWS_DEFAULT_REGION`
        /// or the profile in `~/.aws/config` (`AWS_CONFIG_FILE`); the endpoint from
        /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`). `AWS_EC2_METADATA_DISABLED=true`
        /// turns the instance-role fallback off, so a missing credential fails at once;
        /// `AWS_SKIP_SIGNATURE=true` sends unsigned requests (public buckets).
        pub fn from_env() -> Self {
            let mut builder = AmazonS3Builder::from_env();
            let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
            let config_file = env("AWS_CONFIG_FILE")
                .map(Into::into)
                .or_else(|| home().map(|home| home.join(".aws/config")));
            let config_section = if profile == "default" {
                "default".to_owned()
            } else {
                format!("profile {profile}")
            };
            let profile_config = config_file
                .and_then(|path| fs_err::read_to_string(path).ok())
                .and_then(|text| ini_section(&text, &config_section));
            let region = env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or_else(|| {
                    profile_config
                        .as_deref()
                        .and_then(|settings| setting(settings, "region"))
                        .map(str::to_owned)
                });
            builder = builder.with_region(region.unwrap_or_else(|| "us-east-1".to_owned()));
            let mut network = Network::default();
            if let Some(endpoint) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
                network.allow_http = endpoint.starts_with("http://");
                builder = builder.with_endpoint(endpoint);
            }
            network.allow_http |= is_true("AWS_ALLOW_HTTP");
            let (credentials, missing_credentials) = if env("AWS_ACCESS_KEY_ID").is_some() {
                ("AWS_ACCESS_KEY_ID from the environment".to_owned(), false)
            } else if env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
                (
                    "the web identity token in AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
                    false,
                )
            } else if env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
                || env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
            {
                ("the container credentials endpoint".to_owned(), false)
            } else if is_true("AWS_SKIP_SIGNATURE") {
                (
                    "anonymous requests (AWS_SKIP_SIGNATURE is set)".to_owned(),
                    false,
                )
            } else if let Some((path, settings)) = credentials_file(&profile) {
                match (
                    setting(&settings, "aws_access_key_id"),
                    setting(&settings, "aws_secret_access_key"),
                ) {
                    (Some(key), Some(secret)) => {
                        builder = builder
                            .with_access_key_id(key)
                            .with_secret_access_key(secret);
                        if let Some(token) = setting(&settings, "aws_session_token") {
                            builder = builder.with_token(token);
                        }
                        (format!("profile `{profile}` of `{path}`"), false)
                    }
                    _ => (
                        format!(
                            "profile `{profile}` of `{path}` has no aws_access_key_id/aws_secret_access_key; {WHAT_TO_SET}"
                        ),
                        true,
                    ),
                }
            } else if is_true("AWS_EC2_METADATA_DISABLED") {
                (
                    format!(
                        "no AWS credentials were found and AWS_EC2_METADATA_DISABLED is set; {WHAT_TO_SET}"
                    ),
                    true,
                )
            } else {
                (
                    format!(
                        "no AWS credentials in the environment or ~/.aws/credentials, so the EC2 instance role was tried; {WHAT_TO_SET}"
                    ),
                    false,
                )
            };
            Self {
                builder,
                network,
                credentials,
                missing_credentials,
            }
        }

        /// Talks to `endpoint` (an S3-compatible service) instead of AWS; `http://` endpoints
        /// are allowed.
        #[must_use]
        pub fn with_endpoint(mut self, endpoint: &str) -> Self {
            self.network.allow_http |= endpoint.starts_with("http://");
            self.builder = self.builder.with_endpoint(endpoint);
            self
        }

        /// Uses `region`.
        #[must_use]
        pub fn with_region(mut self, region: &str) -> Self {
            self.builder = self.builder.with_region(region);
            self
        }

        /// Signs with this access key.
        #[must_use]
        pub fn with_static_credentials(mut self, access_key_id: &str, secret: &str) -> Self {
            self.builder = self
                .builder
                .with_access_key_id(access_key_id)
                .with_secret_access_key(secret);
            self.credentials = "the access key given in the configuration".to_owned();
            self.missing_credentials = false;
            self
        }

        /// Retries a failed request up to `retries` times, for at most `timeout` in all.
        #[must_use]
        pub fn with_retries(mut self, retries: usize, timeout: std::time::Duration) -> Self {
            self.network.retries = retries;
            self.network.retry_timeout = timeout;
            self
        }

        pub(crate) fn build(
            &self,
            bucket: &str,
        ) -> object_store::Result<object_store::aws::AmazonS3> {
            self.builder
                .clone()
                .with_bucket_name(bucket)
                .with_virtual_hosted_style_request(false)
                .with_client_options(self.network.client_options())
                .with_retry(self.network.retry())
                .build()
        }
    }

    impl Default for S3Config {
        fn default() -> Self {
            Self::from_env()
        }
    }

    /// The profile's settings from the shared credentials file, with the file's path.
    fn credentials_file(profile: &str) -> Option<(String, Vec<(String, String)>)> {
        let path = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(Into::into)
            .or_else(|| home().map(|home| home.join(".aws/credentials")))?;
        let text = fs_err::read_to_string(&path).ok()?;
        let settings = ini_section(&text, profile)?;
        Some((path.display().to_string(), settings))
    }
}

#[cfg(feature = "gs")]
pub use self::gcs::GcsConfig;
#[cfg(feature = "gs")]
mod gcs {
    use object_store::gcp::GoogleCloudStorageBuilder;

    use super::{Network, env, fmt};

    /// How the GCS backend connects and authenticates.
    #[derive(Clone)]
    pub struct GcsConfig {
        pub(crate) builder: GoogleCloudStorageBuilder,
        pub(crate) network: Network,
        pub(crate) credentials: String,
    }

    impl fmt::Debug for GcsConfig {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("GcsConfig")
                .field("credentials", &self.credentials)
                .field("network", &self.network)
                .finish_non_exhaustive()
        }
    }

    const WHAT_TO_SET: &str = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run `gcloud auth application-default login`";

    impl GcsConfig {
        /// What google-cloud-storage would use: `GOOGLE_APPLICATION_CREDENTIALS` (or
        /// object_store's `GOOGLE_SERVICE_ACCOUNT*` variables), else the application-default
        /// credentials written by `gcloud auth application-default login`, else the VM's
        /// service account.
        pub fn from_env() -> Self {
            let mut builder = GoogleCloudStorageBuilder::from_env();
            let credentials = if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
                builder = builder.with_application_credentials(&path);
                format!("GOOGLE_APPLICATION_CREDENTIALS (`{path}`)")
            } else if env("GOOGLE_SERVICE_ACCOUNT").is_some()
                || env("GOOGLE_SERVICE_ACCOUNT_PATH").is_some()
                || env("GOOGLE_SERVICE_ACCOUNT_KEY").is_some()
            {
                "the service account in GOOGLE_SERVICE_ACCOUNT*".to_owned()
            } else {
                format!(
                    "application-default credentials or the VM's service account were tried; {WHAT_TO_SET}"
                )
            };
            Self {
                builder,
                network: Network::default(),
                credentials,
            }
        }

        /// A GCS emulator (fake-gcs-server) at `base_url`, without authentication.
        pub fn emulator(base_url: &str) -> Self {
            let key = serde_json::json!({
                "gcs_base_url": base_url,
                "disable_oauth": true,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            });
            Self {
                builder: GoogleCloudStorageBuilder::new().with_service_account_key(key.to_string()),
                network: Network {
                    allow_http: base_url.starts_with("http://"),
                    ..Network::default()
                },
                credentials: format!("the emulator at {base_url} (no authentication)"),
            }
        }

        /// Retries a failed request up to `retries` times, for at most `timeout` in all.
        #[must_use]
        pub fn with_retries(mut self, retries: usize, timeout: std::time::Duration) -> Self {
            self.network.retries = retries;
            self.network.retry_timeout = timeout;
            self
        }

        pub(crate) fn build(
            &self,
            bucket: &str,
        ) -> object_store::Result<object_store::gcp::GoogleCloudStorage> {
            self.builder
                .clone()
                .with_bucket_name(bucket)
                .with_client_options(self.network.client_options())
                .with_retry(self.network.retry())
                .build()
        }
    }

    impl Default for GcsConfig {
        fn default() -> Self {
            Self::from_env()
        }
    }
}

#[cfg(feature = "azure")]
pub use self::azure::AzureConfig;
#[cfg(feature = "azure")]
mod azure {
    use object_store::azure::MicrosoftAzureBuilder;

    use super::{Network, env, fmt};

    /// How the Azure backend connects and authenticates.
    ///
    /// Blob URLs name their account (`https://<account>.blob.core.windows.net/<container>/..`).
    /// With [`with_endpoint`](Self::with_endpoint) the handler instead serves URLs under that
    /// endpoint (an emulator such as Azurite, or a private endpoint), all for one account.
    #[derive(Clone)]
    pub struct AzureConfig {
        pub(crate) builder: MicrosoftAzureBuilder,
        pub(crate) network: Network,
        pub(crate) credentials: String,
        /// `http://host:port/<account>`: URLs under it belong to this handler.
        pub(crate) endpoint: Option<(String, String)>,
    }

    impl fmt::Debug for AzureConfig {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("AzureConfig")
                .field("credentials", &self.credentials)
                .field("endpoint", &self.endpoint.as_ref().map(|(url, _)| url))
                .field("network", &self.network)
                .finish_non_exhaustive()
        }
    }

    const WHAT_TO_SET: &str = "set AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_KEY, or AZURE_CLIENT_ID with AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or log in with `az login` and set AZURE_USE_AZURE_CLI=true";

    impl AzureConfig {
        /// What azure-identity's `DefaultAzureCredential` would mostly use: an account key or
        /// SAS (`AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_KEY`), a service principal
        /// (`AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET` / `AZURE_TENANT_ID`), workload identity
        /// (`AZURE_FEDERATED_TOKEN_FILE`), the Azure CLI (`AZURE_USE_AZURE_CLI=true`), else the
        /// VM's managed identity.
        pub fn from_env() -> Self {
            let builder = MicrosoftAzureBuilder::from_env();
            let credentials = if env("AZURE_STORAGE_ACCOUNT_KEY").is_some()
                || env("AZURE_STORAGE_ACCESS_KEY").is_some()
            {
                "the account key in AZURE_STORAGE_ACCOUNT_KEY".to_owned()
            } else if env("AZURE_STORAGE_SAS_KEY").is_some()
                || env("AZURE_STORAGE_SAS_TOKEN").is_some()
            {
                "the SAS token in AZURE_STORAGE_SAS_KEY".to_owned()
            } else if env("AZURE_CLIENT_SECRET").is_some() {
                "the service principal in AZURE_CLIENT_ID/AZURE_CLIENT_SECRET".to_owned()
            } else if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                "workload identity (AZURE_FEDERATED_TOKEN_FILE)".to_owned()
            } else {
                format!(
                    "no Azure credentials in the environment, so the managed identity was tried; {WHAT_TO_SET}"
                )
            };
            Self {
                builder,
                network: Network::default(),
                credentials,
                endpoint: None,
            }
        }

        /// Serves blob URLs under `endpoint` (`http://127.0.0.1:10000/devstoreaccount1` for
        /// Azurite) for `account`, signed with `access_key`.
        pub fn with_endpoint(endpoint: &str, account: &str, access_key: &str) -> Self {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            Self {
                builder: MicrosoftAzureBuilder::new()
                    .with_account(account)
                    .with_access_key(access_key)
                    .with_endpoint(endpoint.clone()),
                network: Network {
                    allow_http: endpoint.starts_with("http://"),
                    ..Network::default()
                },
                credentials: format!(
                    "the access key of account `{account}` given in the configuration"
                ),
                endpoint: Some((endpoint, account.to_owned())),
            }
        }

        /// Retries a failed request up to `retries` times, for at most `timeout` in all.
        #[must_use]
        pub fn with_retries(mut self, retries: usize, timeout: std::time::Duration) -> Self {
            self.network.retries = retries;
            self.network.retry_timeout = timeout;
            self
        }

        pub(crate) fn build(
            &self,
            account: &str,
            container: &str,
        ) -> object_store::Result<object_store::azure::MicrosoftAzure> {
            let mut builder = self.builder.clone().with_container_name(container);
            if self.endpoint.is_none() {
                builder = builder.with_account(account);
            }
            builder
                .with_client_options(self.network.client_options())
                .with_retry(self.network.retry())
                .build()
        }
    }

    impl Default for AzureConfig {
        fn default() -> Self {
            Self::from_env()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ini_sections() {
        let text = "[default]\naws_access_key_id = A\n# c\n[profile dev]\nregion=eu-west-1\n[other]\nx=1\n";
        let section = ini_section(text, "default").unwrap();
        assert_eq!(setting(&section, "aws_access_key_id"), Some("A"));
        let dev = ini_section(text, "profile dev").unwrap();
        assert_eq!(setting(&dev, "region"), Some("eu-west-1"));
        assert!(ini_section(text, "missing").is_none());
    }
}
