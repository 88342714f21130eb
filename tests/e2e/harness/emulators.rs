//! The S3 emulator (moto) that `cargo xtask test` starts and announces in
//! `CAIRN_TEST_S3_ENDPOINT`, used as the server's blob store. Without the variable a scenario
//! skips, unless `CAIRN_TEST_EMULATORS=required` says a missing emulator is a failure (as under
//! `cargo xtask test`), the same rule as the storage tests follow.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::harness::unique_u64;

/// moto's endpoint (`http://127.0.0.1:PORT`), or `None` when the scenario should skip.
pub(crate) fn s3_endpoint() -> Result<Option<String>> {
    if let Ok(endpoint) = std::env::var("CAIRN_TEST_S3_ENDPOINT")
        && !endpoint.is_empty()
    {
        return Ok(Some(endpoint.trim_end_matches('/').to_owned()));
    }
    if std::env::var("CAIRN_TEST_EMULATORS").is_ok_and(|value| value == "required") {
        bail!(
            "CAIRN_TEST_S3_ENDPOINT is not set but CAIRN_TEST_EMULATORS=required; run the tests \
             with `cargo xtask test`, or start the emulators with `cargo xtask emulators start`"
        );
    }
    Ok(None)
}

/// Creates a fresh bucket on moto (a plain `PUT /bucket`) and returns its name.
pub(crate) fn create_s3_bucket(endpoint: &str) -> Result<String> {
    let bucket = format!("cairn-e2e-{:016x}", unique_u64());
    let url = format!("{endpoint}/{bucket}");
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?
        .put(&url)
        .send()
        .with_context(|| format!("cannot create the bucket: `PUT {url}` failed"))?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "cannot create the bucket: `PUT {url}` answered {status}: {}",
            response.text().unwrap_or_default()
        );
    }
    Ok(bucket)
}

/// What the server needs to reach moto: the endpoint and moto's any-will-do credentials, with
/// the instance-role fallback off so a mistake fails at once instead of timing out.
pub(crate) fn s3_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}
