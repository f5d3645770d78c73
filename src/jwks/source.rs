//! Where keys come from: a fixed JWKS or PEM, a JWKS URL, or a JWKS URL
//! found through OpenID Connect discovery, and one download of it.

use std::sync::Mutex;
use std::time::Duration;

use crate::discovery;
use crate::error::Error;
use crate::fetch::{self, Fetched, HttpOptions};
use crate::keys::KeySet;

/// The key source as configured on the builder.
pub(crate) enum KeySource {
    /// OpenID Connect discovery: the document at
    /// `{fetch_base}/.well-known/openid-configuration` must name `issuer`.
    Discovery { issuer: String, fetch_base: String },
    /// A JWKS URL.
    JwksUrl(String),
    /// A fixed JWKS document.
    JwksJson(Vec<u8>),
    /// One fixed PEM public key, optionally bound to a `kid`.
    Pem { pem: String, kid: Option<String> },
    /// No published keys: only the HMAC secret verifies.
    Nothing,
}

/// A JWKS URL, known up front or found through discovery on the first
/// successful fetch, with the client and limits to fetch it.
pub(crate) struct Remote {
    client: reqwest::Client,
    pub options: HttpOptions,
    jwks_url: Mutex<Option<reqwest::Url>>,
    discovery: Option<Discovery>,
}

struct Discovery {
    issuer: String,
    fetch_base: String,
}

/// What one download brought.
pub(crate) struct Downloaded {
    pub url: reqwest::Url,
    /// `None`: 304, the keys held are still current.
    pub keys: Option<KeySet>,
    pub max_age: Option<Duration>,
    pub etag: Option<String>,
}

impl Remote {
    /// A remote source for `source`, its URLs checked against the transport
    /// policy now so a bad URL fails `build()`. `None` for fixed sources.
    pub fn new(source: &KeySource, options: &HttpOptions) -> Result<Option<Remote>, Error> {
        let (jwks_url, discovery) = match source {
            KeySource::JwksUrl(url) => (
                Some(fetch::check_url(url, options.allow_insecure_http)?),
                None,
            ),
            KeySource::Discovery { issuer, fetch_base } => {
                fetch::check_url(
                    &discovery::discovery_url(fetch_base),
                    options.allow_insecure_http,
                )?;
                let discovery = Discovery {
                    issuer: issuer.clone(),
                    fetch_base: fetch_base.clone(),
                };
                (None, Some(discovery))
            }
            KeySource::JwksJson(_) | KeySource::Pem { .. } | KeySource::Nothing => {
                return Ok(None);
            }
        };
        Ok(Some(Remote {
            client: fetch::client(options)?,
            options: options.clone(),
            jwks_url: Mutex::new(jwks_url),
            discovery,
        }))
    }

    /// The JWKS URL, running discovery first when it is not known yet.
    async fn jwks_url(&self) -> Result<reqwest::Url, Error> {
        if let Some(url) = self
            .jwks_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(url);
        }
        let discovery = self
            .discovery
            .as_ref()
            .ok_or_else(|| Error::Config("no JWKS URL and no discovery".into()))?;
        let url = discovery::jwks_uri(
            &self.client,
            &discovery.issuer,
            &discovery.fetch_base,
            &self.options,
        )
        .await?;
        tracing::info!(jwks_uri = %url, "discovered the JWKS URL");
        *self.jwks_url.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
        Ok(url)
    }

    /// Downloads and parses the JWKS (running discovery first if needed),
    /// conditional on `etag`. A set with no usable key is an error: it
    /// must never replace keys that work.
    pub async fn download(&self, etag: Option<String>) -> Result<Downloaded, Error> {
        let url = self.jwks_url().await?;
        let fetched = fetch::get(&self.client, &url, &self.options, etag.as_deref()).await?;
        match fetched {
            Fetched::NotModified { max_age } => Ok(Downloaded {
                url,
                keys: None,
                max_age,
                etag,
            }),
            Fetched::Body {
                body,
                max_age,
                etag,
            } => {
                let set = KeySet::from_jwks(fetch::json_text(&body)).map_err(|e| Error::Fetch {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
                if set.is_empty() {
                    return Err(Error::Fetch {
                        url: url.to_string(),
                        reason: format!(
                            "the JWKS holds no usable signing key ({} skipped)",
                            set.skipped().len()
                        ),
                    });
                }
                Ok(Downloaded {
                    url,
                    keys: Some(set),
                    max_age,
                    etag,
                })
            }
        }
    }
}

/// The fixed key set of a source that is not fetched.
pub(crate) fn fixed_keys(source: KeySource) -> Result<KeySet, Error> {
    match source {
        KeySource::JwksJson(json) => {
            let set = KeySet::from_jwks(fetch::json_text(&json))?;
            if set.is_empty() {
                return Err(Error::InvalidKey(
                    "the JWKS given to jwks_json() holds no usable signing key".into(),
                ));
            }
            Ok(set)
        }
        KeySource::Pem { pem, kid } => KeySet::from_pem(&pem, kid.as_deref()),
        _ => Ok(KeySet::default()),
    }
}
