//! From configured [`Issuer`]s to the [`IssuerTable`] requests use: the
//! checks that make a mistake fail at `build()`, and one key store per
//! JWKS URL however many issuers use it.
//!
//! Runs once, at `build()`: nothing here is on a request's path.

use std::collections::HashMap;
use std::sync::Arc;

use super::issuer::{Issuer, Source};
use super::keys::IssuerKeys;
use super::select::{IssuerEntry, IssuerTable};
use crate::claims::{ClaimChecks, GrantKinds, IssuerName, TENANT_PLACEHOLDER, is_guid};
use crate::discovery;
use crate::error::Error;
use crate::fetch::{self, HttpOptions};
use crate::jwks::{KeySource, KeyStore, OpenKeyStore, RefreshPolicy};
use crate::keys::HmacKeys;

/// The validator-wide settings the issuers' key stores and rules need.
pub(crate) struct Shared<'a> {
    pub http: &'a HttpOptions,
    pub policy: RefreshPolicy,
    pub start_without_keys: bool,
    pub leeway: i64,
}

/// Checks every issuer, opens (and shares) their key stores, and returns
/// the table. `issuers` is non-empty.
pub(crate) async fn open(issuers: Vec<Issuer>, shared: &Shared<'_>) -> Result<IssuerTable, Error> {
    let mut names: Vec<IssuerName> = Vec::with_capacity(issuers.len());
    let mut secrets = Vec::with_capacity(issuers.len());
    for issuer in &issuers {
        let name = check(issuer)?;
        if names.contains(&name) {
            return Err(Error::Config(format!(
                "the issuer {name} is trusted twice: give it one Issuer with all its \
                 audiences, key sources (several key sets, such as Azure AD B2C's one per \
                 policy, with .jwks_urls([..])) and rules"
            )));
        }
        names.push(name);
        // Before any fetch: a configuration mistake is reported as such.
        secrets.push(issuer.secret.as_deref().map(HmacKeys::new).transpose()?);
    }
    check_labels(&issuers)?;
    let mut sources: Vec<Vec<KeySource>> = issuers.iter().map(key_sources).collect();
    let remote = sources
        .iter()
        .flatten()
        .filter(|s| matches!(s, KeySource::JwksUrl(_) | KeySource::Discovery { .. }))
        .count();
    if remote > 1 {
        // Only a known URL can be shared: ask discovery now.
        for source in sources.iter_mut().flatten() {
            resolve_discovery(source, shared).await?;
        }
    }

    let mut by_url: HashMap<String, Arc<OpenKeyStore>> = HashMap::new();
    let mut entries = Vec::with_capacity(issuers.len());
    let configured = issuers.into_iter().zip(names).zip(sources).zip(secrets);
    for (((issuer, name), sources), secret) in configured {
        let mut stores: Vec<Arc<OpenKeyStore>> = Vec::with_capacity(sources.len());
        for source in sources {
            let store = open_store(source, shared, &mut by_url).await?;
            if stores.iter().any(|s| Arc::ptr_eq(s, &store)) {
                return Err(Error::Config(format!(
                    "the issuer {name} names one JWKS twice (as jwks_url() and through \
                     discovery, or the same URL twice): name it once"
                )));
            }
            stores.push(store);
        }
        let hints = issuer.hints;
        let key_issuer_alias = hints
            .as_ref()
            .and_then(|h| h.key_issuer_alias(&issuer.name));
        let grants = issuer
            .grants
            .or_else(|| hints.as_ref()?.grant_kinds(&issuer.name))
            .unwrap_or(GrantKinds::RFC_9068);
        let configured: Box<str> = issuer.name.as_str().into();
        entries.push(IssuerEntry {
            claims: ClaimChecks {
                issuer: name,
                tenants: issuer
                    .tenants
                    .map(|t| t.into_iter().map(Into::into).collect()),
                key_issuer_alias: key_issuer_alias.map(Into::into),
                audiences: issuer.audiences.into_iter().map(Into::into).collect(),
                skip_audience: issuer.skip_audience,
                azp_audience: issuer.azp_audience.map(Into::into),
                leeway: shared.leeway,
            },
            keys: IssuerKeys::new(stores, secret),
            required_typ: issuer.required_typ.map(Into::into),
            required_claims: issuer.required_claims.into_iter().map(Into::into).collect(),
            rules: issuer.rules.into(),
            kind_check: hints.as_ref().and_then(|h| h.kind_check()),
            hints,
            name: configured,
            label: issuer.label.map(Into::into),
            grants,
        });
    }
    Ok(IssuerTable::new(entries))
}

/// The store for `source`: the one already open for its URL, or a new
/// one. Fixed sources (JWKS document, PEM) are never shared.
async fn open_store(
    source: KeySource,
    shared: &Shared<'_>,
    by_url: &mut HashMap<String, Arc<OpenKeyStore>>,
) -> Result<Arc<OpenKeyStore>, Error> {
    let url = match &source {
        KeySource::JwksUrl(url) => Some(fetch::check_url(url, true)?.to_string()),
        _ => None,
    };
    if let Some(store) = url.as_ref().and_then(|url| by_url.get(url)) {
        return Ok(store.clone());
    }
    let store = Arc::new(
        KeyStore::open(
            source,
            shared.http,
            shared.policy.clone(),
            shared.start_without_keys,
        )
        .await?,
    );
    if let Some(url) = url {
        by_url.insert(url, store.clone());
    }
    Ok(store)
}

/// A label names issuers for requirements: never empty, never another
/// trusted issuer's name (a requirement naming it would mean two things).
fn check_labels(issuers: &[Issuer]) -> Result<(), Error> {
    for issuer in issuers {
        let Some(label) = issuer.label.as_deref() else {
            continue;
        };
        if label.trim().is_empty() {
            return Err(Error::Config(format!(
                "the issuer {:?} has an empty label: give it a name requirements can use, or none",
                issuer.name
            )));
        }
        if let Some(other) = issuers
            .iter()
            .find(|o| o.name == label && o.name != issuer.name)
        {
            return Err(Error::Config(format!(
                "the issuer {:?} is labelled {label:?}, which is the name of the trusted issuer                  {:?}: a requirement issued_by({label:?}) would mean both; choose another label",
                issuer.name, other.name
            )));
        }
    }
    Ok(())
}

/// The build-time checks of one issuer; its `iss` rule when they pass.
fn check(issuer: &Issuer) -> Result<IssuerName, Error> {
    let name = &issuer.name;
    if let Some(mistake) = &issuer.invalid {
        return Err(Error::Config(mistake.clone()));
    }
    if name.is_empty() {
        return Err(Error::Config("the issuer is empty".into()));
    }
    // The provider's own lints first: they say which preset to use, where
    // the core's checks below can only say what is wrong.
    if let Some(hints) = &issuer.hints {
        hints.check(issuer).map_err(Error::Config)?;
    }
    let parsed = IssuerName::parse(name);
    match (issuer.multi_tenant, parsed.is_template()) {
        (false, true) => {
            return Err(Error::Config(format!(
                "the issuer {name:?} contains {TENANT_PLACEHOLDER}, which only a multi-tenant \
                 issuer fills in (with the token's tid): use your provider's preset, or \
                 Issuer::multi_tenant({name:?})"
            )));
        }
        (true, false) => {
            return Err(Error::Config(format!(
                "Issuer::multi_tenant({name:?}) needs {TENANT_PLACEHOLDER} where the tenant \
                 id goes, e.g. https://login.example.com/{TENANT_PLACEHOLDER}/v2.0"
            )));
        }
        _ => {}
    }
    if issuer.tenants.is_some() && !issuer.multi_tenant {
        return Err(Error::Config(format!(
            "allowed_tenants() is set on {name:?}, which is one tenant's issuer: the allow-list \
             belongs to a multi-tenant issuer (Issuer::multi_tenant(..), or the preset's)"
        )));
    }
    if issuer.tenants.as_ref().is_some_and(Vec::is_empty) {
        return Err(Error::Config(format!(
            "allowed_tenants() on {name:?} lists no tenant: no token could pass"
        )));
    }
    if let Some(bad) = issuer
        .tenants
        .iter()
        .flatten()
        .find(|tenant| !is_guid(tenant))
    {
        return Err(Error::Config(format!(
            "allowed_tenants() on {name:?} lists {bad:?}: tenants are listed by their \
             Directory (tenant) ID, a GUID, as tokens carry it in `tid`, not by domain"
        )));
    }
    if issuer.audiences.is_empty() && !issuer.skip_audience && issuer.azp_audience.is_none() {
        return Err(Error::Config(format!(
            "no audience for issuer {name:?}: call .audience(...) with your API's identifier \
             (client id or App ID URI), or .insecure_skip_audience() to accept any audience"
        )));
    }
    if issuer.audiences.iter().any(String::is_empty) {
        return Err(Error::Config(format!(
            "an empty audience for issuer {name:?}: no token can be for it (an empty aud is \
             no audience); give your API's identifier"
        )));
    }
    if issuer.azp_audience.as_deref() == Some("") {
        return Err(Error::Config(format!(
            "allow_azp_as_audience(\"\") on {name:?}: give the client id tokens carry in azp"
        )));
    }
    let discovery = key_sources(issuer)
        .iter()
        .any(|s| matches!(s, KeySource::Discovery { .. }));
    if issuer.provider_url.is_some() && !discovery {
        return Err(Error::Config(
            "provider_url() only changes where discovery is fetched from, but the keys \
             come from jwks_url(), jwks_json() or pem_key(): remove provider_url(), or add \
             .discovery()"
                .into(),
        ));
    }
    if parsed.is_template() && discovery && issuer.provider_url.is_none() {
        return Err(Error::Config(format!(
            "the multi-tenant issuer {name:?} cannot be fetched as it is: set its keys with \
             .jwks_url(..), or where its metadata is with .provider_url(..) (the provider's \
             multi-tenant discovery document), or use the provider's preset"
        )));
    }
    Ok(parsed)
}

/// The issuer's published-key sources, in the order set. Discovery
/// when none is set, unless the issuer has a secret (and no
/// `provider_url()` asking for discovery): then it has no published keys.
fn key_sources(issuer: &Issuer) -> Vec<KeySource> {
    let discovery = || KeySource::Discovery {
        fetch_base: issuer
            .provider_url
            .clone()
            .unwrap_or_else(|| issuer.name.clone()),
        issuer: issuer.name.clone(),
    };
    let mut sources: Vec<KeySource> = issuer
        .sources
        .iter()
        .map(|source| match source {
            Source::Discovery => discovery(),
            Source::JwksUrl(url) => KeySource::JwksUrl(url.clone()),
            Source::JwksJson(json) => KeySource::JwksJson(json.clone()),
            Source::Pem { pem, kid } => KeySource::Pem {
                pem: pem.clone(),
                kid: kid.clone(),
            },
        })
        .collect();
    if sources.is_empty() {
        sources.push(
            match issuer.secret.is_some() && issuer.provider_url.is_none() {
                true => KeySource::Nothing,
                false => discovery(),
            },
        );
    }
    sources
}

/// A discovery source becomes the JWKS URL its document names, so issuers
/// whose documents name one URL share its store. When the provider cannot
/// be reached and the validator may start without keys, the source stays
/// discovery and its own store keeps trying.
async fn resolve_discovery(source: &mut KeySource, shared: &Shared<'_>) -> Result<(), Error> {
    let KeySource::Discovery { issuer, fetch_base } = source else {
        return Ok(());
    };
    let client = fetch::client(shared.http)?;
    match discovery::jwks_uri(&client, issuer, fetch_base, shared.http).await {
        Ok(url) => {
            *source = KeySource::JwksUrl(url.to_string());
            Ok(())
        }
        Err(error @ Error::Config(_)) => Err(error),
        Err(error) if shared.start_without_keys => {
            tracing::warn!(%error, "discovery failed; its key store keeps trying");
            Ok(())
        }
        Err(error) => Err(error),
    }
}
