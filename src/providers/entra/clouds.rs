//! Entra ID's clouds: the sign-in hosts that name each one and the
//! issuers its tokens carry (sources: see [`EntraId::instance`](super::EntraId::instance)).
//!
//! Data only: nothing here fetches or verifies.

/// The global cloud's sign-in host (the MSAL "instance").
pub(super) const GLOBAL: &str = "https://login.microsoftonline.com";

/// One Entra ID cloud: the sign-in hosts that name it and the issuers its
/// tokens carry, each before `/{tid}/…`. Sources: see
/// [`EntraId::instance`](super::EntraId::instance).
pub(super) struct Cloud {
    pub name: &'static str,
    pub instances: &'static [&'static str],
    /// v2 tokens: `{v2}/{tid}/v2.0`; the JWK `issuer` member of its keys.
    pub v2: &'static str,
    /// v1 tokens: `{v1}/{tid}/`.
    pub v1: &'static str,
}

/// The clouds whose issuers are known. The global cloud comes first: the
/// v1 host `sts.windows.net` is shared with US Government, and an issuer
/// written by hand with that host is taken as the global one.
pub(super) const CLOUDS: &[Cloud] = &[
    Cloud {
        name: "global",
        instances: &[GLOBAL],
        v2: GLOBAL,
        v1: "https://sts.windows.net",
    },
    Cloud {
        name: "Azure US Government",
        instances: &["https://login.microsoftonline.us"],
        v2: "https://login.microsoftonline.us",
        v1: "https://sts.windows.net",
    },
    Cloud {
        name: "Azure China (21Vianet)",
        // Both hosts sign in to the one cloud (MSAL's instance aliases);
        // its v2 tokens name the second whichever was used.
        instances: &[
            "https://login.chinacloudapi.cn",
            "https://login.partner.microsoftonline.cn",
        ],
        v2: "https://login.partner.microsoftonline.cn",
        v1: "https://sts.chinacloudapi.cn",
    },
];

/// Azure Germany's sign-in host: the cloud closed on 2021-10-29.
pub(super) const GERMANY: &str = "https://login.microsoftonline.de";

pub(super) fn cloud_of(instance: &str) -> Option<&'static Cloud> {
    CLOUDS.iter().find(|cloud| {
        cloud
            .instances
            .iter()
            .any(|known| known.eq_ignore_ascii_case(instance))
    })
}

/// True when `issuer` is on the issuer host of a known cloud (v1 or v2),
/// as a hand-written Entra ID issuer is.
pub(super) fn is_cloud_issuer(issuer: &str) -> bool {
    CLOUDS.iter().any(|cloud| {
        [cloud.v1, cloud.v2].iter().any(|host| {
            issuer
                .strip_prefix(host)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    })
}

/// The issuer a v1 issuer written by hand (`Issuer::new(..)`, not the
/// preset, which sets its own) shares its keys with: the v2 issuer of the
/// same cloud and tenant, to which Entra binds each key (JWK `issuer`);
/// Microsoft's own validator accepts v1 tokens signed by them, its v1
/// metadata attaching no issuer to keys. `None` for any other issuer.
pub(super) fn v1_key_alias(v1_issuer: &str) -> Option<String> {
    CLOUDS.iter().find_map(|cloud| {
        let tenant = v1_issuer
            .strip_prefix(cloud.v1)?
            .strip_prefix('/')?
            .strip_suffix('/')
            .filter(|t| !t.is_empty() && !t.contains('/'))?;
        Some(format!("{}/{tenant}/v2.0", cloud.v2))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

    #[test]
    fn a_hand_written_v1_issuer_shares_the_keys_of_its_clouds_v2_issuer() {
        assert_eq!(
            v1_key_alias(&format!("https://sts.windows.net/{T}/")),
            Some(format!("https://login.microsoftonline.com/{T}/v2.0"))
        );
        assert_eq!(
            v1_key_alias(&format!("https://sts.chinacloudapi.cn/{T}/")),
            Some(format!("https://login.partner.microsoftonline.cn/{T}/v2.0"))
        );
        assert_eq!(
            v1_key_alias("https://sts.windows.net/{tenantid}/").as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        for other in [
            "https://sts.windows.net.evil/a/",
            "https://sts.windows.net/a",
            "https://sts.windows.net//",
            "https://sts.windows.net/a/b/",
            "https://sts.chinacloudapi.cn.evil/a/",
            "https://login.microsoftonline.com/a/v2.0",
        ] {
            assert_eq!(v1_key_alias(other), None, "{other}");
        }
    }
}
