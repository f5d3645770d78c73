//! The preset's issuers, keys and mistakes, as `build()` receives them.

use super::*;

const T: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

/// The issuer the preset's hints name as sharing this one's keys.
fn alias(issuer: &Issuer) -> Option<String> {
    let hints = issuer.hints.as_ref().expect("the preset sets its hints");
    hints.key_issuer_alias(&issuer.name)
}

#[test]
fn issuers_and_keys_per_version_and_tenancy() {
    let both = EntraId::tenant(T)
        .audience("api://x")
        .token_version(EntraTokenVersion::V1AndV2)
        .claims_mapping_app_id("6e74172b-be56-4843-9ff4-e66a39bb12e3")
        .into_issuers();
    let names: Vec<&str> = both.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("https://login.microsoftonline.com/{T}/v2.0"),
            format!("https://sts.windows.net/{T}/"),
        ]
    );
    assert_eq!(
        alias(&both[1]).as_deref(),
        Some(names[0]),
        "v1 tokens are signed by keys bound to the v2 issuer"
    );
    for issuer in &both {
        assert!(matches!(
            &issuer.sources[..],
            [crate::issuers::Source::JwksUrl(url)] if *url == format!(
                "https://login.microsoftonline.com/{T}/discovery/v2.0/keys?appid=6e74172b-be56-4843-9ff4-e66a39bb12e3"
            )
        ));
        assert!(issuer.invalid.is_none());
    }
    let multi = EntraId::multi_tenant()
        .audience("x")
        .allowed_tenants([T])
        .into_issuers();
    assert_eq!(
        multi[0].name,
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );
    assert!(multi[0].multi_tenant);
    assert_eq!(multi[0].tenants.as_deref(), Some(&[T.to_owned()][..]));
}

#[test]
fn a_domain_or_an_endpoint_is_not_a_tenant_id() {
    let upper = EntraId::tenant(T.to_uppercase())
        .audience("x")
        .into_issuers();
    assert_eq!(
        upper[0].name,
        format!("https://login.microsoftonline.com/{T}/v2.0")
    );
    for tenant in ["contoso.onmicrosoft.com", "common", "Organizations", ""] {
        let issuers = EntraId::tenant(tenant).audience("x").into_issuers();
        assert!(issuers[0].invalid.is_some(), "{tenant}");
    }
}

/// The clouds' issuers as Microsoft's libraries and tokens have them
/// (sources on `EntraId::instance`), written out rather than read
/// from the table they check.
const CLOUD_ISSUERS: [(&str, &str, &str); 4] = [
    (
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.com",
        "https://sts.windows.net",
    ),
    (
        "https://login.microsoftonline.us",
        "https://login.microsoftonline.us",
        "https://sts.windows.net",
    ),
    (
        "https://login.chinacloudapi.cn",
        "https://login.partner.microsoftonline.cn",
        "https://sts.chinacloudapi.cn",
    ),
    (
        "https://login.partner.microsoftonline.cn/",
        "https://login.partner.microsoftonline.cn",
        "https://sts.chinacloudapi.cn",
    ),
];

#[test]
fn each_cloud_has_its_own_v1_and_v2_issuers_and_the_v1_alias_follows() {
    for (instance, v2, v1) in CLOUD_ISSUERS {
        let single = EntraId::tenant(T).instance(instance);
        let multi = EntraId::multi_tenant().instance(instance);
        for (preset, tenant) in [(single, T), (multi, TENANT_PLACEHOLDER)] {
            let issuers = preset
                .audience("api://x")
                .token_version(EntraTokenVersion::V1AndV2)
                .into_issuers();
            let names: Vec<&str> = issuers.iter().map(|i| i.name.as_str()).collect();
            let v2 = format!("{v2}/{tenant}/v2.0");
            assert_eq!(names, [v2.clone(), format!("{v1}/{tenant}/")], "{instance}");
            assert_eq!(alias(&issuers[0]), None, "{instance}");
            assert_eq!(alias(&issuers[1]).as_deref(), Some(&*v2), "{instance}");
            let keys_tenant = if tenant == T { T } else { "common" };
            let keys = format!(
                "{}/{keys_tenant}/discovery/v2.0/keys",
                instance.trim_end_matches('/')
            );
            for issuer in &issuers {
                assert!(issuer.invalid.is_none(), "{instance}: {:?}", issuer.invalid);
                assert!(matches!(
                    &issuer.sources[..],
                    [crate::issuers::Source::JwksUrl(url)] if *url == keys
                ));
            }
        }
    }
    // The instance is a host name: its case does not change the cloud.
    let upper = EntraId::tenant(T)
        .instance("https://LOGIN.chinacloudapi.cn")
        .audience("x")
        .token_version(EntraTokenVersion::V1)
        .into_issuers();
    assert_eq!(upper[0].name, format!("https://sts.chinacloudapi.cn/{T}/"));
}

#[test]
fn an_unknown_instance_gets_no_v1_issuer_guessed() {
    let local = "http://127.0.0.1:8080";
    let v2_only = EntraId::tenant(T)
        .instance(local)
        .audience("x")
        .into_issuers();
    assert_eq!(v2_only[0].name, format!("{local}/{T}/v2.0"));
    assert!(v2_only[0].invalid.is_none());
    for version in [EntraTokenVersion::V1, EntraTokenVersion::V1AndV2] {
        let issuers = EntraId::tenant(T)
            .instance(local)
            .audience("x")
            .token_version(version)
            .into_issuers();
        assert!(
            issuers.iter().all(|i| !i.name.contains("sts.")),
            "{version:?}"
        );
        let mistake = issuers[0].invalid.as_deref().unwrap_or_default();
        assert!(
            mistake.contains(local)
                && mistake.contains(".v1_issuer(")
                && mistake.contains("https://login.chinacloudapi.cn"),
            "{mistake}"
        );
    }
    // Said explicitly, it is used, with the v2 issuer as its alias.
    let explicit = EntraId::multi_tenant()
        .instance(local)
        .v1_issuer("https://sts.example.com/")
        .audience("x")
        .token_version(EntraTokenVersion::V1)
        .into_issuers();
    assert_eq!(explicit[0].name, "https://sts.example.com/{tenantid}/");
    assert_eq!(
        alias(&explicit[0]).as_deref(),
        Some(&*format!("{local}/{{tenantid}}/v2.0"))
    );
    assert!(explicit[0].invalid.is_none());
}

#[test]
fn azure_germany_and_a_v1_issuer_with_a_tenant_are_refused() {
    let germany = EntraId::tenant(T)
        .instance("https://login.microsoftonline.de/")
        .audience("x")
        .into_issuers();
    let mistake = germany[0].invalid.as_deref().unwrap_or_default();
    assert!(
        mistake.contains("Azure Germany") && mistake.contains("closed"),
        "{mistake}"
    );
    for v1 in [
        "sts.windows.net",
        "http://sts.windows.net",
        "https://sts.windows.net/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/",
        "https://sts.windows.net/{tenantid}/",
        "https://sts.windows.net?x=1",
        "",
    ] {
        let issuers = EntraId::tenant(T)
            .v1_issuer(v1)
            .audience("x")
            .token_version(EntraTokenVersion::V1)
            .into_issuers();
        let mistake = issuers[0].invalid.as_deref().unwrap_or_default();
        assert!(mistake.contains("without its tenant"), "{v1}: {mistake}");
    }
}
