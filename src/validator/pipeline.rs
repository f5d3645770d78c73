//! One verification step: a token in, one [`Outcome`] out, and the rest
//! of a step that had to wait for keys.
//!
//! No HTTP types and no fetch here: a step that needs keys hands back
//! what to wait for, and the key store does the fetching.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::Validator;
use crate::algorithm::Algorithm;
use crate::claims::{self, Binding, Claims, Registered, key_accepts};
use crate::error::Error;
use crate::issuers::{IssuerEntry, Refusal, Tickets};
use crate::token::{self, Compact, Header, HeaderBuf};

/// What a verification learned besides the claims: the key the token is
/// bound to (`cnf.jkt`, RFC 9449 §6.1) and the issuer that verified it
/// (its index in the table).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    pub binding: Binding,
    pub issuer: usize,
}

/// What one verification step decided.
pub(crate) enum Outcome<C> {
    /// The token is good: its claims.
    Verified(Claims<C>),
    /// The token is refused, or there are no keys to check it with.
    Rejected(Error),
    /// The token names a `kid` the keys do not hold (or one whose key did
    /// not verify it: the provider may have put new material under an old
    /// `kid`), and a refetch of the key set has been asked for: wait for it
    /// with [`Validator::verify_after`], which verifies again.
    WaitForKeys(KeyWait),
}

/// What the wait for an unknown `kid` needs, decoded once: the `kid`, the
/// header's `alg`, the issuer selected, and the place in the queue for the
/// shared refetch.
pub(crate) struct KeyWait {
    kid: Box<str>,
    alg: Algorithm,
    issuer: usize,
    tickets: Tickets,
}

/// Whether a step may answer [`Outcome::WaitForKeys`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownKid {
    /// The caller can wait (`verify`, the layer).
    Wait,
    /// The caller cannot (`try_verify`): the refetch is still asked for,
    /// so the next request sees a rotated key, but this one is refused.
    Refuse,
}

/// Why the pipeline stopped, before it is made an [`Outcome`].
enum Failure {
    Rejected(Error),
    /// Worth a refetch of the issuer's keys: its `kid` is unknown, or its
    /// key did not verify the signature. `otherwise`: the refusal when no
    /// refetch can be waited for.
    Refetch {
        kid: Box<str>,
        alg: Algorithm,
        issuer: usize,
        otherwise: Error,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Rejected(error)
    }
}

impl Validator {
    /// One verification step with the keys held now. Logs a rejection,
    /// once: no caller has anything left to log.
    #[inline]
    pub(crate) fn check<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        unknown_kid: UnknownKid,
    ) -> Outcome<C> {
        self.check_bound(token, unknown_kid).0
    }

    /// [`check`](Self::check), with the key a verified token is bound to
    /// (`cnf.jkt`, RFC 9449 §6.1), read in the same pass over the claims
    /// or kept in the cache with them; `Unbound` unless `Verified`.
    pub(crate) fn check_bound<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        unknown_kid: UnknownKid,
    ) -> (Outcome<C>, Verdict) {
        // One span per verification; disabled levels cost a branch.
        let _span = tracing::debug_span!("oidc_bearer.verify").entered();
        let mut verdict = Verdict {
            binding: Binding::Unbound,
            issuer: 0,
        };
        let outcome = match self.run(token) {
            Ok((claims, verified)) => {
                verdict = verified;
                Outcome::Verified(claims)
            }
            Err(Failure::Rejected(error)) => Outcome::Rejected(error),
            Err(Failure::Refetch {
                kid,
                alg,
                issuer,
                otherwise,
            }) => {
                let keys = &self.inner.issuers.get(issuer).keys;
                match (keys.request_refetch(&kid), unknown_kid) {
                    (Some(tickets), UnknownKid::Wait) => {
                        let wait = KeyWait {
                            kid,
                            alg,
                            issuer,
                            tickets,
                        };
                        return (Outcome::WaitForKeys(wait), verdict);
                    }
                    _ => Outcome::Rejected(otherwise),
                }
            }
        };
        match &outcome {
            Outcome::Verified(_) => self.inner.counters.verified(),
            Outcome::Rejected(error) => self.rejected(error),
            Outcome::WaitForKeys(_) => {}
        }
        (outcome, verdict)
    }

    /// The rest of a step that answered [`Outcome::WaitForKeys`]: waits for
    /// the shared refetch, then verifies with the keys it brought, using
    /// the header decoded before the wait, and no second refetch. Logs a
    /// rejection, once.
    pub(crate) async fn verify_after<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        wait: KeyWait,
    ) -> Result<Claims<C>, Error> {
        self.verify_after_bound(token, wait)
            .await
            .map(|(claims, _)| claims)
    }

    /// [`verify_after`](Self::verify_after), with the key the token is
    /// bound to (see [`check_bound`](Self::check_bound)).
    pub(crate) async fn verify_after_bound<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        wait: KeyWait,
    ) -> Result<(Claims<C>, Verdict), Error> {
        let entry = self.inner.issuers.get(wait.issuer);
        entry.keys.wait_for(&wait.kid, wait.tickets).await;
        let _span = tracing::debug_span!("oidc_bearer.verify").entered();
        let header = Header {
            alg: wait.alg,
            kid: Some(Cow::Borrowed(&wait.kid)),
            // Neither is needed any more: `typ` was checked before the
            // wait, and `x5t` only selects when there is no `kid`.
            typ: None,
            x5t: None,
            nonce: false,
        };
        let now = self.inner.clock.now();
        let mut payload = PayloadBuf::new();
        let result = token::split(token, self.inner.max_token_len)
            .map_err(Failure::from)
            .and_then(|parts| {
                let claims = payload.decode(parts.payload)?;
                let issuer = Selected {
                    index: wait.issuer,
                    entry,
                    refetch: false,
                };
                self.verify_signed(token, parts, claims, &header, now, issuer)
            })
            .map_err(|failure| match failure {
                Failure::Rejected(error) => error,
                Failure::Refetch { otherwise, .. } => otherwise,
            });
        match &result {
            Ok(_) => self.inner.counters.verified(),
            Err(error) => self.rejected(error),
        }
        result
    }

    /// The pipeline up to the signature: size, cache, split, header,
    /// issuer selection.
    fn run<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<(Claims<C>, Verdict), Failure> {
        let cfg = &*self.inner;
        if token.len() > cfg.max_token_len {
            return Err(Error::TokenTooLarge.into());
        }
        let now = cfg.clock.now();
        if let Some(cache) = &cfg.cache {
            // Keys that are unavailable or too old refuse cached tokens
            // too; a key that left its issuer's set takes its tokens along.
            let key_held = |issuer: usize, key: u64| cfg.issuers.get(issuer).keys.holds(key);
            if let Some((claims, binding, issuer)) =
                cache.get::<C, _>(token, now, cfg.leeway, key_held)?
            {
                cfg.counters.cache_hit();
                return Ok((claims, Verdict { binding, issuer }));
            }
        }
        let parts = token::split(token, cfg.max_token_len)?;
        let mut header_buf = HeaderBuf::new();
        let header = token::decode_header(parts.header, &mut header_buf)?;
        // Whether the selected issuer has a secret is asked after
        // selection; with none anywhere, the claims need not be read.
        if header.alg.is_hmac() && !cfg.issuers.any_secret() {
            return Err(Error::UnsupportedAlgorithm.into());
        }
        let mut payload = PayloadBuf::new();
        let claims = payload.decode(parts.payload)?;
        let index = cfg.issuers.select(claims, header.nonce)?;
        let entry = cfg.issuers.get(index);
        if let Some(expected) = &entry.required_typ {
            match &header.typ {
                Some(actual) if token::typ_matches(actual, expected) => {}
                _ => return Err(Error::InvalidType.into()),
            }
        }
        let issuer = Selected {
            index,
            entry,
            refetch: true,
        };
        self.verify_signed(token, parts, claims, &header, now, issuer)
    }

    /// The signature, then the claims.
    fn verify_signed<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        parts: Compact<'_>,
        payload: &[u8],
        header: &Header<'_>,
        now: i64,
        issuer: Selected<'_>,
    ) -> Result<(Claims<C>, Verdict), Failure> {
        let cfg = &*self.inner;
        let entry = issuer.entry;
        // The signature decodes into a stack buffer when it fits (it
        // almost always does): no allocation.
        let mut signature_stack = [0u8; SIGNATURE_STACK];
        let mut signature_heap = Vec::new();
        let signature = token::decode_into(
            parts.signature,
            &mut signature_stack,
            &mut signature_heap,
            "signature is not base64url",
        )?;

        // The signature first: nothing in the payload, least of all the
        // application's claims type, is interpreted before the token is
        // known to come from the issuer's key. (Checking the cheap claims
        // first would only spare honest expired tokens the public-key
        // operation; a forger can always make us pay for it.)
        // Only the selected issuer's keys and secret: a token naming
        // issuer B is never verified with A's.
        let key = match entry
            .keys
            .verify(header, parts.signing_input.as_bytes(), signature)
        {
            Ok(key) => key,
            Err(error @ (Error::UnknownKey | Error::InvalidSignature)) => {
                // Before any refetch: a token the provider knows no key of
                // this API verifies is explained, and costs no fetch.
                if let Some(explained) = entry.explain(Refusal::Signature, header.nonce, payload) {
                    return Err(explained.into());
                }
                return Err(match error {
                    Error::UnknownKey => self.refetch_for(header, issuer, payload, error),
                    // A provider may rotate key material under the same
                    // `kid`: worth one refetch, under the same single
                    // flight and cooldown as an unknown `kid` (so bad
                    // signatures cannot raise the fetch rate), then one
                    // more try.
                    _ if issuer.refetch && header.kid.is_some() => {
                        self.refetch_for(header, issuer, payload, error)
                    }
                    _ => error.into(),
                });
            }
            Err(error) => return Err(error.into()),
        };

        // One pass over the verified claims yields both the registered
        // claims and `C`; when it cannot (odd shapes, any error), the
        // two-pass path below decides, and reports errors, exactly as before.
        let once = std::str::from_utf8(payload)
            .ok()
            .and_then(claims::single_pass::parse::<C>);
        let (reg, parsed): (Registered<'_>, Option<C>) = match once {
            Some((reg, claims)) => (reg, Some(claims)),
            None => (
                serde_json::from_slice(payload)
                    .map_err(|_| Error::InvalidClaim(claims::wrong_type_claim(payload)))?,
                None,
            ),
        };
        // Before the registered claims, so an ID token sent as an access
        // token is refused as such, not as "invalid audience" or "expired":
        // what the client must fix is which token it sends.
        if let Some(kind_check) = entry.kind_check {
            kind_check(payload)?;
        }
        let explain = |error: &Error| {
            let refusal = match error {
                Error::InvalidAudience => Refusal::Audience,
                _ => Refusal::Issuer,
            };
            entry.explain(refusal, header.nonce, payload)
        };
        let iss = entry.claims.check(&reg, payload, now, explain)?;
        if let Some(bound) = key.as_ref().and_then(|k| k.issuer.as_deref()) {
            let alias = entry.claims.key_issuer_alias.as_deref();
            if !key_accepts(bound, iss, reg.tid.as_deref(), alias) {
                return Err(Error::InvalidIssuer.into());
            }
        }

        if !entry.required_claims.is_empty() {
            let names = claims::claim_names(payload)
                .ok_or(Error::MalformedToken("claims are not a JSON object"))?;
            for required in entry.required_claims.iter() {
                if !names.iter().any(|n| **n == **required) {
                    return Err(Error::MissingClaim(required.to_string()).into());
                }
            }
        }
        if !entry.rules.is_empty() {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|_| Error::ClaimsType)?;
            for rule in entry.rules.iter() {
                rule(&value).map_err(Error::RuleFailed)?;
            }
        }

        let binding = Binding::of(reg.cnf.as_ref());
        let claims = Claims::new(match parsed {
            Some(claims) => claims,
            None => serde_json::from_slice::<C>(payload).map_err(|_| Error::ClaimsType)?,
        });
        if let (Some(cache), Some(exp)) = (&cfg.cache, reg.exp) {
            // Bound to the key that verified it, so the entry goes when
            // that key leaves the set (or its kid is reused for another).
            let times = claims::TimeClaims {
                exp,
                nbf: reg.nbf,
                iat: reg.iat,
            };
            let key = key.as_ref().map(|k| (issuer.index, k.fingerprint));
            cache.insert(token, &claims, times, key, issuer.index, binding);
        }
        let verdict = Verdict {
            binding,
            issuer: issuer.index,
        };
        Ok((claims, verdict))
    }

    /// No key for the token, or its key did not verify it (`otherwise`
    /// says which): worth waiting for a refetch only when the issuer's keys
    /// are fetched, the token names a `kid`, and it names the issuer (a
    /// token of another issuer must not cost a fetch).
    #[cold]
    fn refetch_for(
        &self,
        header: &Header<'_>,
        issuer: Selected<'_>,
        payload: &[u8],
        otherwise: Error,
    ) -> Failure {
        let issuers = &self.inner.issuers;
        if let Err(error) = issuers.check_named(issuer.index, payload, header.nonce) {
            return Failure::Rejected(error);
        }
        match &header.kid {
            Some(kid) if issuer.refetch && issuer.entry.keys.is_remote() => Failure::Refetch {
                kid: kid.as_ref().into(),
                alg: header.alg,
                issuer: issuer.index,
                otherwise,
            },
            _ => Failure::Rejected(otherwise),
        }
    }
}

impl Validator {
    /// A refused token, logged (the reason only: never the token, never
    /// its unverified claims) and counted, once.
    fn rejected(&self, error: &Error) {
        self.inner.counters.rejected(error);
        log_rejection(error);
    }
}

fn log_rejection(error: &Error) {
    tracing::debug!(reason = %error, "bearer token rejected");
}

/// The issuer a token was matched to, by index (for the cache and the
/// wait) and entry, and whether a refetch of its keys may still be asked
/// for (not after one was waited for).
#[derive(Clone, Copy)]
struct Selected<'a> {
    index: usize,
    entry: &'a IssuerEntry,
    refetch: bool,
}

/// The decoded payload, on the stack when it fits (it almost always
/// does): no allocation.
struct PayloadBuf {
    stack: [u8; PAYLOAD_STACK],
    heap: Vec<u8>,
}

impl PayloadBuf {
    fn new() -> Self {
        PayloadBuf {
            stack: [0; PAYLOAD_STACK],
            heap: Vec::new(),
        }
    }

    /// The claims JSON of a base64url payload part; an object, or an error.
    #[inline]
    fn decode(&mut self, part: &str) -> Result<&[u8], Error> {
        let payload = token::decode_into(
            part,
            &mut self.stack,
            &mut self.heap,
            "payload is not base64url",
        )?;
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::MalformedToken("claims are not a JSON object"));
        }
        Ok(payload)
    }
}

/// Decoded payloads up to this size stay on the stack (a typical access
/// token's claims are well under 1 KiB; the largest seen reach about
/// 1.5 KiB).
const PAYLOAD_STACK: usize = 1536;
/// Signatures up to RSA-4096 (512 bytes, plus the decoder's slack).
const SIGNATURE_STACK: usize = 516;
