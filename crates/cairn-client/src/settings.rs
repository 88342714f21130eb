//! Where the server is and which API key to send: environment variables over the saved login.
//!
//! The credentials file (`credentials.json`, see [`Settings::credentials_path`]) maps server URLs
//! to API keys and remembers the last server logged in to:
//!
//! ```json
//! {"version": 1, "default_base_url": "http://127.0.0.1:8080", "api_keys": {"http://127.0.0.1:8080": "cairn-..."}}
//! ```
//!
//! A key is only ever sent to the server it was saved for, so pointing `CAIRN_BASE_URL` at
//! another server never leaks the saved key to it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The server used when neither the environment nor a saved login names one.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// Environment variable: the server's base URL.
pub const BASE_URL_ENV: &str = "CAIRN_BASE_URL";
/// Environment variable: the API key.
pub const API_KEY_ENV: &str = "CAIRN_API_KEY";
/// Environment variable: the directory holding `credentials.json`.
pub const CONFIG_DIR_ENV: &str = "CAIRN_CONFIG_DIR";

const CREDENTIALS_FILE: &str = "credentials.json";
const CREDENTIALS_VERSION: u32 = 1;

/// Which server to talk to and how to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server's base URL, without a trailing `/` (`http://127.0.0.1:8080`).
    pub base_url: String,
    /// The API key, if any (public projects can be read without one).
    pub api_key: Option<String>,
}

impl fmt::Debug for Settings {
    /// The key is never printed.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The on-disk credentials file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_base_url: Option<String>,
    #[serde(default)]
    api_keys: BTreeMap<String, String>,
}

impl Settings {
    /// Settings for `base_url` with an optional key.
    pub fn new(base_url: impl Into<String>, api_key: Option<String>) -> Self {
        Self {
            base_url: normalize_base_url(&base_url.into()),
            api_key,
        }
    }

    /// `CAIRN_BASE_URL` and `CAIRN_API_KEY` override the saved login; the base URL defaults to
    /// [`DEFAULT_BASE_URL`]. The saved key is used only for the server it was saved for.
    pub fn from_env() -> Result<Self> {
        let credentials = read_credentials(&Self::credentials_path()?)?;
        Ok(resolve(
            non_empty_env(BASE_URL_ENV)?,
            non_empty_env(API_KEY_ENV)?,
            &credentials,
        ))
    }

    /// `$CAIRN_CONFIG_DIR/credentials.json`, else `<config dir>/cairn/credentials.json` where the
    /// config dir is `$XDG_CONFIG_HOME` or `~/.config` on Unix and `%APPDATA%` on Windows.
    pub fn credentials_path() -> Result<PathBuf> {
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|dir| !dir.is_empty()) {
            return Ok(PathBuf::from(dir).join(CREDENTIALS_FILE));
        }
        let absolute =
            |dir: std::ffi::OsString| Some(PathBuf::from(dir)).filter(|d| d.is_absolute());
        let config_dir = if cfg!(windows) {
            std::env::var_os("APPDATA").and_then(absolute)
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .and_then(absolute)
                .or_else(|| {
                    std::env::home_dir()
                        .filter(|home| home.is_absolute())
                        .map(|home| home.join(".config"))
                })
        };
        config_dir
            .map(|dir| dir.join("cairn").join(CREDENTIALS_FILE))
            .ok_or_else(|| Error::Setting {
                name: CONFIG_DIR_ENV.to_owned(),
                reason: "no home or config directory is known; set CAIRN_CONFIG_DIR to a private directory".to_owned(),
            })
    }

    /// Saves `api_key` for `base_url` and makes it the default server. The file is replaced
    /// atomically (temporary file + rename), created with mode 0600 in a 0700 directory on Unix.
    /// Returns the file's path.
    pub fn save_login(base_url: &str, api_key: &str) -> Result<PathBuf> {
        let path = Self::credentials_path()?;
        save_login_at(&path, base_url, api_key)?;
        Ok(path)
    }
}

/// The precedence rules: environment, then the saved login, then the default server. A saved key
/// belongs to the server it was saved for.
fn resolve(
    base_url: Option<String>,
    api_key: Option<String>,
    credentials: &Credentials,
) -> Settings {
    let base_url = base_url
        .or_else(|| credentials.default_base_url.clone())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let base_url = normalize_base_url(&base_url);
    let api_key = api_key.or_else(|| credentials.api_keys.get(&base_url).cloned());
    Settings { base_url, api_key }
}

/// [`Settings::save_login`] into an explicit file.
pub(crate) fn save_login_at(path: &Path, base_url: &str, api_key: &str) -> Result<()> {
    let base_url = normalize_base_url(base_url);
    let mut credentials = read_credentials(path)?;
    credentials.version = CREDENTIALS_VERSION;
    credentials.default_base_url = Some(base_url.clone());
    credentials.api_keys.insert(base_url, api_key.to_owned());
    let mut text = serde_json::to_string_pretty(&credentials).map_err(|error| Error::Setting {
        name: path.display().to_string(),
        reason: error.to_string(),
    })?;
    text.push('\n');
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    create_private_dir(parent)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".credentials-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The mode is set when the file is created, so the key is never readable by others.
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temporary = builder
        .tempfile_in(parent)
        .map_err(Error::io("create a file in", parent))?;
    temporary
        .write_all(text.as_bytes())
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(Error::io("write", temporary.path().to_owned()))?;
    temporary
        .persist(path)
        .map_err(|error| Error::io("write", path)(error.error))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(Error::io("create", dir))
}

fn read_credentials(path: &Path) -> Result<Credentials> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Credentials::default());
        }
        Err(error) => return Err(Error::io("read", path)(error)),
    };
    serde_json::from_str(&text).map_err(|error| Error::Setting {
        name: path.display().to_string(),
        reason: format!(
            "the credentials file is not valid ({error}); run `cairn login` again or delete it"
        ),
    })
}

fn non_empty_env(name: &'static str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Setting {
            name: name.to_owned(),
            reason: "not valid UTF-8".to_owned(),
        }),
    }
}

/// `http://host:port/` and `http://host:port` name the same server.
pub(crate) fn normalize_base_url(base_url: &str) -> String {
    base_url.trim().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_is_saved_atomically_and_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/cairn/credentials.json");
        save_login_at(&path, "http://a:1/", "cairn-key-a").unwrap();
        save_login_at(&path, "http://b:2", "cairn-key-b").unwrap();
        let credentials = read_credentials(&path).unwrap();
        assert_eq!(credentials.default_base_url.as_deref(), Some("http://b:2"));
        assert_eq!(
            credentials.api_keys.get("http://a:1").map(String::as_str),
            Some("cairn-key-a")
        );
        assert_eq!(credentials.api_keys.len(), 2);
        // No temporary files are left next to it.
        let names: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("credentials.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let file_mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(file_mode & 0o777, 0o600);
            let dir_mode = fs_err::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
    }

    #[test]
    fn environment_beats_the_saved_login_and_keys_stay_with_their_server() {
        let saved = Credentials {
            version: 1,
            default_base_url: Some("http://saved:1".to_owned()),
            api_keys: [("http://saved:1".to_owned(), "cairn-saved".to_owned())].into(),
        };
        let check = |base: Option<&str>,
                     key: Option<&str>,
                     credentials: &Credentials,
                     expect: (&str, Option<&str>)| {
            let settings = resolve(base.map(str::to_owned), key.map(str::to_owned), credentials);
            assert_eq!(
                (settings.base_url.as_str(), settings.api_key.as_deref()),
                expect
            );
        };
        check(None, None, &saved, ("http://saved:1", Some("cairn-saved")));
        check(
            None,
            Some("cairn-env"),
            &saved,
            ("http://saved:1", Some("cairn-env")),
        );
        check(
            Some("http://saved:1/"),
            None,
            &saved,
            ("http://saved:1", Some("cairn-saved")),
        );
        // Another server never receives the saved key.
        check(
            Some("http://other:2"),
            None,
            &saved,
            ("http://other:2", None),
        );
        check(
            None,
            None,
            &Credentials::default(),
            (DEFAULT_BASE_URL, None),
        );
    }

    #[test]
    fn broken_credentials_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        fs_err::write(&path, "{not json").unwrap();
        let error = read_credentials(&path).unwrap_err().to_string();
        assert!(error.contains("credentials.json"), "{error}");
        assert!(error.contains("cairn login"), "{error}");
    }

    #[test]
    fn keys_never_reach_debug_output() {
        let settings = Settings::new("http://h/", Some("cairn-secret".to_owned()));
        assert_eq!(settings.base_url, "http://h");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
