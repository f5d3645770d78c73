//! The issuers a validator trusts: [`Issuer`] as configured, how the
//! unverified `iss` selects one before the signature is checked, and how
//! their key stores are opened and shared.
//!
//! - `issuer`: [`Issuer`] and [`IntoIssuers`];
//! - `hints`: [`IssuerHints`], the hook a provider's knowledge comes in by;
//! - `select`: the table requests use, and the selection;
//! - `keys`: one issuer's key stores and secret, and the signature check;
//! - `open`: build-time checks and one key store per JWKS URL.
//!
//! No provider is named here: what a provider knows arrives through
//! [`IssuerHints`].

mod hints;
mod issuer;
mod keys;
mod open;
mod select;

pub use hints::{IssuerHints, KindCheck, Refusal, RefusedToken};
pub(crate) use issuer::Rule;
#[cfg(test)]
pub(crate) use issuer::Source;
pub use issuer::{IntoIssuers, Issuer};
pub(crate) use keys::Tickets;
pub(crate) use open::{Shared, open};
pub(crate) use select::{IssuerEntry, IssuerTable};
