//! [`IssuerHints`]: the one hook through which a provider's own knowledge
//! reaches the verification core, which names no provider.
//!
//! The core asks it at `build()` (is this configuration a known mistake,
//! which other issuer do its keys name, what kind check do its tokens
//! need) and, on a refusal only, what the refusal really means. A valid
//! token never costs a call into it beyond the kind check a provider asks
//! for, a plain function pointer resolved at `build()`.

use std::fmt;

use super::issuer::Issuer;
use crate::claims::GrantKinds;
use crate::error::Error;

/// A provider's test of what kind of token a verified payload is (an
/// access token or not): a plain function of the claims JSON, so a valid
/// token costs one call and one borrowed scan, not a `serde_json::Value`
/// as a [`rule`](Issuer::rule) does. `Err` refuses the token before its
/// registered claims are checked, so the client learns which token to send
/// rather than "invalid audience".
pub type KindCheck = fn(&[u8]) -> Result<(), Error>;

/// Which step refused a token, for [`IssuerHints::explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The unverified `iss` names no trusted issuer (the answer would be
    /// [`Error::InvalidIssuer`]); the claims are not verified.
    UnknownIssuer,
    /// No key of the issuer verifies the signature, or none has the
    /// token's `kid` ([`Error::InvalidSignature`], [`Error::UnknownKey`]);
    /// asked before any refetch, so an explanation costs no fetch. The
    /// claims are not verified.
    Signature,
    /// The verified `iss` is not the issuer's ([`Error::InvalidIssuer`]).
    Issuer,
    /// The verified `aud` names none of the issuer's audiences
    /// ([`Error::InvalidAudience`]); asked before the `azp` alternative
    /// (see [`Issuer::allow_azp_as_audience`]), so a token explained as
    /// someone else's is never accepted through it.
    Audience,
}

/// What [`IssuerHints::explain`] may read of a refused token: facts, never
/// anything to log (the claims may be unverified; see [`Refusal`]).
#[derive(Clone, Copy)]
pub struct RefusedToken<'a> {
    header_nonce: bool,
    claims: &'a [u8],
}

impl fmt::Debug for RefusedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The claims are the caller's data, possibly forged: not shown.
        f.debug_struct("RefusedToken")
            .field("header_nonce", &self.header_nonce)
            .finish_non_exhaustive()
    }
}

impl<'a> RefusedToken<'a> {
    pub(crate) fn new(header_nonce: bool, claims: &'a [u8]) -> Self {
        RefusedToken {
            header_nonce,
            claims,
        }
    }

    /// The JOSE header carries a `nonce` member (RFC 7515 §4 allows any
    /// member; a provider may use it, e.g. to sign over a hash only it can
    /// verify).
    pub fn header_has_nonce(&self) -> bool {
        self.header_nonce
    }

    /// The token's claims, a JSON object (RFC 7519 §7.2): verified for
    /// [`Refusal::Issuer`] and [`Refusal::Audience`], unverified otherwise.
    pub fn claims_json(&self) -> &'a [u8] {
        self.claims
    }
}

/// What one provider knows about its own issuers and tokens, given to an
/// [`Issuer`] with [`Issuer::hints`]; the core calls it without knowing
/// which provider it is. Every method has a default that adds nothing.
///
/// A validator built from [`ValidatorBuilder::issuer`](crate::ValidatorBuilder::issuer)
/// or a bare [`Issuer::new`] gets the crate's hints for the providers it
/// knows by their issuers' shapes; the crate's provider presets set their
/// own.
/// Hints set with [`Issuer::hints`] replace those.
///
/// ```
/// use std::sync::Arc;
/// use oidc_bearer::Issuer;
/// use oidc_bearer::issuers::IssuerHints;
///
/// /// A provider whose issuers always end in `/tenant/<name>`.
/// #[derive(Debug)]
/// struct Acme;
///
/// impl IssuerHints for Acme {
///     fn check(&self, issuer: &Issuer) -> Result<(), String> {
///         match issuer.name().contains("/tenant/") {
///             true => Ok(()),
///             false => Err(format!("{:?} is no Acme issuer: add /tenant/<name>", issuer.name())),
///         }
///     }
/// }
///
/// let issuer = Issuer::new("https://acme.example/tenant/shop").hints(Arc::new(Acme));
/// # let _ = issuer;
/// ```
pub trait IssuerHints: Send + Sync + fmt::Debug {
    /// A mistake in this issuer's configuration that `build()` reports as
    /// [`Error::Config`] with this message (say what to write instead);
    /// asked before the core's own checks, after a mistake reported with
    /// [`Issuer::fail_build`].
    fn check(&self, issuer: &Issuer) -> Result<(), String> {
        let _ = issuer;
        Ok(())
    }

    /// The issuer this one's keys are bound to as well, when the provider
    /// binds keys to issuers (a JWK `issuer` member) and signs tokens of
    /// `issuer` with keys bound to another: exact, or with `{tenantid}`
    /// filled like the token's own issuer. Asked once, at `build()`.
    fn key_issuer_alias(&self, issuer: &str) -> Option<String> {
        let _ = issuer;
        None
    }

    /// The check of what kind of token a verified payload is, run on
    /// every token of this issuer after its signature and before its
    /// registered claims. Asked once, at `build()`.
    fn kind_check(&self) -> Option<KindCheck> {
        None
    }

    /// The kinds of grant the tokens of `issuer` (its configured name)
    /// carry, unless [`Issuer::grants`] says otherwise; `None` leaves
    /// [`GrantKinds::RFC_9068`]. Asked once, at `build()`.
    fn grant_kinds(&self, issuer: &str) -> Option<GrantKinds> {
        let _ = issuer;
        None
    }

    /// The error to answer instead of the one `refusal` would give, when
    /// the provider knows the token for what it is (e.g. one issued for
    /// another service, which no key of this API will verify). `None`
    /// keeps the core's answer. Called on refusals only.
    fn explain(&self, refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
        let _ = (refusal, token);
        None
    }
}
