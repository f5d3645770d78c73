//! DPoP (RFC 9449): sender-constrained access tokens.
//!
//! An authorization server that supports DPoP binds an access token to a
//! key of the client: the token's `cnf.jkt` is the RFC 7638 thumbprint of
//! that key. The client then sends `Authorization: DPoP <token>` with a
//! `DPoP` header holding a *proof*: a JWT it signed for this one request
//! with that key (`htm` the method, `htu` the URI, `iat`, a unique `jti`,
//! `ath` the hash of the token). A stolen token is useless without the
//! key.
//!
//! Turn it on per layer with [`OidcBearerLayer::dpop`](crate::OidcBearerLayer::dpop):
//!
//! ```
//! # async fn doc(validator: oidc_bearer::Validator) {
//! use oidc_bearer::{Dpop, StandardClaims};
//!
//! let layer = validator
//!     .layer::<StandardClaims>()
//!     // DPoP-bound tokens with proofs, and plain bearer tokens.
//!     .dpop(Dpop::allowed().external_url("https://api.example.com"));
//! # }
//! ```
//!
//! [`Dpop`] holds a layer's settings; [the DPoP guide](crate::guide::dpop)
//! has the modes, the checks and the refusals.
//!
//! Here: the settings and the public types. The checks are in `proof` and
//! `bind`, called by the bearer layer's admission; nothing here reads a
//! request.

mod bind;
mod htu;
mod nonce;
mod proof;
#[cfg(feature = "redis")]
mod redis_store;
mod replay;
mod thumbprint;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use bind::{Replay, as_bearer, bind, check_proof};
pub use nonce::Nonces;
#[cfg(feature = "redis")]
pub use redis_store::RedisReplayStore;
pub use replay::{MemoryReplayStore, ProofId, ReplayStore, Seen, StoreError, StoreFuture};
pub use thumbprint::jwk_thumbprint;

use crate::algorithm::Algorithm;

/// Which authorization schemes a layer accepts; see the table in
/// [the DPoP guide](crate::guide::dpop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopMode {
    /// `Bearer` only; a token bound to a key (`cnf.jkt`) is refused.
    BearerOnly,
    /// `Bearer` for unbound tokens, `DPoP` with a proof for bound ones.
    BearerOrDpop,
    /// `DPoP` with a proof only.
    DpopRequired,
}

/// DPoP settings for a layer ([`OidcBearerLayer::dpop`](crate::OidcBearerLayer::dpop)):
/// which authorization schemes it accepts, and how it checks the proof a
/// DPoP-bound token comes with (RFC 9449 §4.3).
///
/// ```
/// # async fn doc(validator: oidc_bearer::Validator) {
/// use oidc_bearer::{Dpop, StandardClaims};
///
/// let layer = validator
///     .layer::<StandardClaims>()
///     .dpop(Dpop::required().external_url("https://api.example.com"));
/// # }
/// ```
///
/// - [`bearer_only`](Self::bearer_only): `Bearer` tokens only, and a token
///   bound to a key (`cnf.jkt`) is refused.
/// - [`allowed`](Self::allowed): `Bearer` for unbound tokens, `DPoP` with a
///   proof for bound ones.
/// - [`required`](Self::required): `DPoP` with a proof only.
///
/// Defaults: every asymmetric algorithm the crate verifies, proofs up to
/// 60 s old plus 60 s of leeway either way, `htu` rebuilt from the
/// request's `Host` with `https` whatever scheme the request names, the
/// in-process [`MemoryReplayStore`],
/// failing closed, no nonces.
///
/// The modes side by side, every check, the refusals and what is
/// remembered between proofs: [the DPoP guide](crate::guide::dpop).
#[derive(Clone)]
pub struct Dpop {
    pub(crate) mode: DpopMode,
    pub(crate) algs: Vec<Algorithm>,
    window: Duration,
    leeway: Duration,
    pub(crate) origin: htu::Origin,
    pub(crate) store: Arc<dyn ReplayStore>,
    pub(crate) fail_open: bool,
    pub(crate) nonces: Option<Nonces>,
    pub(crate) max_proof_len: usize,
    pub(crate) proof_headers: Arc<proof::ProofHeaders>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("algs", &self.algs)
            .field("window", &self.window)
            .field("leeway", &self.leeway)
            .field("origin", &self.origin)
            .field("fail_open", &self.fail_open)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// The settings for `mode`, with the defaults above.
    pub fn new(mode: DpopMode) -> Self {
        Dpop {
            mode,
            algs: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
            ],
            window: Duration::from_secs(60),
            leeway: Duration::from_secs(60),
            origin: htu::Origin::FromRequest { scheme: "https" },
            store: Arc::new(MemoryReplayStore::default()),
            fail_open: false,
            nonces: None,
            max_proof_len: 8 * 1024,
            proof_headers: Arc::new(proof::ProofHeaders::new()),
        }
    }

    /// [`DpopMode::BearerOnly`]: bearer tokens, and DPoP-bound tokens refused.
    pub fn bearer_only() -> Self {
        Self::new(DpopMode::BearerOnly)
    }

    /// [`DpopMode::BearerOrDpop`]: bearer tokens and DPoP with proofs.
    pub fn allowed() -> Self {
        Self::new(DpopMode::BearerOrDpop)
    }

    /// [`DpopMode::DpopRequired`]: DPoP with proofs only.
    pub fn required() -> Self {
        Self::new(DpopMode::DpopRequired)
    }

    /// The algorithms a proof may be signed with, in the order the
    /// challenge's `algs` lists them. HMAC algorithms are dropped: a proof
    /// is signed with an asymmetric key (RFC 9449 §4.2).
    ///
    /// # Panics
    ///
    /// When no asymmetric algorithm is left: no proof could ever pass.
    pub fn algs(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut list: Vec<Algorithm> = Vec::new();
        for alg in algs {
            if !alg.is_hmac() && !list.contains(&alg) {
                list.push(alg);
            }
        }
        assert!(
            !list.is_empty(),
            "Dpop::algs: no asymmetric algorithm given; proofs are signed with ES256, EdDSA, \
             RS256, PS256, ... never with HMAC"
        );
        self.algs = list;
        self
    }

    /// How old a proof's `iat` may be (default 60 s); the `jti` of an
    /// accepted proof is remembered for this window plus twice the leeway.
    pub fn acceptance_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Clock skew tolerated on the proof's `iat`, either way (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The URL clients reach this API at, when it is not what the request
    /// says: behind a reverse proxy or a gateway that terminates TLS or
    /// rewrites the host. The proof's `htu` is compared with this URL
    /// followed by the request's path (so give any prefix the proxy strips:
    /// `https://example.com/api`); the request's `Host` and target
    /// authority are not read. A refusal saying "the proof htu is not the
    /// request URI" for every request usually means this is missing; the
    /// layer's debug log names the URI it compared with.
    ///
    /// # Without it
    ///
    /// `htu` is compared with `https://{authority}{path}` (or `http://…`
    /// with [`plain_http`](Self::plain_http)). The scheme is always this
    /// configuration's: the scheme of a request target in absolute form
    /// (`GET http://api.example.com/me HTTP/1.1`) or of HTTP/2's `:scheme`
    /// is the client's to write, and taking it would let a proof captured
    /// from a plaintext request pass at the `https` API (RFC 9449 §4.3
    /// check 9, §11.1). The authority is the `Host`'s, or the target's in
    /// absolute form (HTTP/2's `:authority`); when both are present they
    /// must name the same host and port, or the request is refused (RFC
    /// 9112 §3.2.2 has the target's win, but a proxy in front may have
    /// routed by `Host`), as is a request with more than one `Host` (RFC
    /// 9112 §3.2).
    ///
    /// # Authorities
    ///
    /// In `htu`, in `Host`, in the request target and in `url`, an
    /// authority is `host[:port]` exactly, or it is refused, never read as
    /// another authority: the host a name of letters, digits and `-._~`,
    /// an IPv4 address or a bracketed IPv6 address without a zone (RFC
    /// 3986 §3.2.2); the port ASCII digits for a number from 0 to 65535
    /// (RFC 3986 §3.2.3: `:99999`, `:+443` and `:-1` are refused, not
    /// taken for the default port); no userinfo (RFC 9110 §4.2.4). An empty
    /// port (`host:`) and the scheme's default port are the same as no
    /// port (RFC 3986 §6.2.3), and leading zeros do not change a port's
    /// number. Hosts compare case-insensitively, literally otherwise
    /// (`[::1]` is not `[0::1]`, a trailing dot counts).
    ///
    /// # Panics
    ///
    /// When `url` is not an absolute `http` or `https` URL with such an
    /// authority (`https://api.example.com:99999`): a configuration
    /// mistake, named in the message.
    pub fn external_url(mut self, url: impl AsRef<str>) -> Self {
        let url = url.as_ref();
        let normal = htu::parse_absolute(url)
            .unwrap_or_else(|reason| panic!("Dpop::external_url({url:?}): {reason}"));
        self.origin = htu::Origin::Fixed(normal.trim_end_matches('/').to_owned());
        self
    }

    /// Rebuild the request URI as `http://{Host}{path}` instead of
    /// `https://…`: for an API served over plain HTTP (on loopback, in
    /// tests). Without it a layer compares `htu` with `https` even for a
    /// request whose target says `http://` (see
    /// [`external_url`](Self::external_url)); with it, `http` even for one
    /// that says `https://`. Behind a proxy use
    /// [`external_url`](Self::external_url), whose URL names its own
    /// scheme: after it, this changes nothing.
    pub fn plain_http(mut self) -> Self {
        if let htu::Origin::FromRequest { .. } = self.origin {
            self.origin = htu::Origin::FromRequest { scheme: "http" };
        }
        self
    }

    /// Where accepted proofs' `jti`s are remembered (default: a
    /// [`MemoryReplayStore`] of 100,000 proofs, at most about 9 MB). Several
    /// instances of an API need a shared one.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// When the replay store cannot answer (a Redis outage, a full
    /// in-process store), accept the proof without the replay check
    /// instead of answering 503. Replays go unnoticed meanwhile.
    pub fn allow_replays_when_store_fails(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// Issue nonces (RFC 9449 §9) and require the current one in proofs.
    pub fn nonces(mut self, nonces: Nonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    pub(crate) fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }

    pub(crate) fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }

    /// How long a `jti` is remembered: as long as its proof could pass the
    /// `iat` check (`iat` up to `now + leeway`, accepted until
    /// `iat + window + leeway`), plus a second for rounding.
    pub(crate) fn replay_ttl(&self) -> u64 {
        self.window
            .as_secs()
            .saturating_add(self.leeway.as_secs().saturating_mul(2))
            .saturating_add(1)
    }

    /// The challenge's `algs` value.
    pub(crate) fn algs_value(&self) -> String {
        let names: Vec<&str> = self.algs.iter().map(|a| a.name()).collect();
        names.join(" ")
    }
}
