// A real OpenID Connect provider (panva's oidc-provider) on 127.0.0.1 for
// oidc-bearer's end-to-end tests (tests/oidc_provider.rs).
//
//   npm ci --prefix e2e && node e2e/provider.mjs
//
// Binds 127.0.0.1 on an ephemeral port (or PORT from the environment) and
// prints one line `OIDC_PROVIDER_ISSUER=<issuer>` on stdout once it serves.
// Exits when its stdin closes, so it never outlives the test that spawned it.
// SPA_ORIGIN: see below (examples/spa, tests/browser.rs).
//
// What it issues: RFC 9068 JWT access tokens (`typ: at+jwt`) for the
// resource indicators below, to the clients below, signed with the keys of
// a freshly generated key set: RSA (RS256/PS256), EC P-256/P-384/P-521,
// Ed25519, plus an RSA encryption key (`use: enc`) that must never verify.
//
// Test-only endpoints, outside the provider's routes:
//   POST /__test/rotate        new key set (all new kids); `?keep=1` keeps
//                              the old public keys published after the new
//   GET  /__test/hits?path=P   how many requests P (path only) has seen
//
// Development interactions are on: GET /auth redirects to /interaction/:uid,
// whose login form accepts any login and password, then a consent form.
//
// Step-up (RFC 9470, tests/oidc_provider_step_up.rs): the login form posted
// to /interaction/:uid?acr=<value> signs the user in with that
// authentication context class (standing for "with MFA", "password only"),
// and access tokens from the authorization code (or a refresh token) carry
// the sign-in's `acr` and `auth_time`.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`oidc-provider needs Node.js >= 20.19, this is ${process.version}`);
  process.exit(2);
}

// Resource servers, by resource indicator (= the `aud` of their tokens).
const RESOURCES = {
  'urn:test:api': { scope: 'read write', accessTokenTTL: 3600 },
  'urn:test:other-api': { scope: 'read write', accessTokenTTL: 3600 },
  // Expires within seconds: for the expiry test with the real clock.
  'urn:test:short-lived': { scope: 'read', accessTokenTTL: 1 },
};

// Service clients (client_credentials) and the JWS algorithm their access
// tokens are signed with; the provider picks its first key fitting it.
const SERVICE_CLIENTS = {
  svc: 'RS256',
  'svc-ps256': 'PS256',
  'svc-es256': 'ES256',
  'svc-es384': 'ES384',
  'svc-es512': 'ES512',
  'svc-eddsa': 'EdDSA',
  'svc-ed25519': 'Ed25519',
};

const SPA_REDIRECT_URI = 'http://127.0.0.1:9/callback';

// DPoP (RFC 9449, tests/oidc_provider_dpop.rs): this client's access tokens
// are always bound to the key of the proof sent to the token endpoint
// (`cnf.jkt`); a token request without a proof is refused.
const DPOP_CLIENT = 'svc-dpop';

// --- examples/spa and tests/browser.rs ---
// SPA_ORIGIN (e.g. http://127.0.0.1:5173): where the single-page app of
// examples/spa is served. Its page `${SPA_ORIGIN}/` becomes a redirect URI
// of the `spa` client, and the token endpoint answers that origin's CORS
// requests, since the browser exchanges the code itself.
const SPA_ORIGIN = process.env.SPA_ORIGIN ? new URL(process.env.SPA_ORIGIN).origin : undefined;
const SPA_REDIRECT_URIS = [SPA_REDIRECT_URI, ...(SPA_ORIGIN ? [`${SPA_ORIGIN}/`] : [])];
// --- end examples/spa ---

// Authentication context classes the login form can sign in with.
const ACR_VALUES = ['urn:test:pwd', 'urn:test:mfa'];

let generation = 0;

function privateJwk(kid, type, options, extra = {}) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, ...extra };
}

function newKeys() {
  generation += 1;
  const g = generation;
  return [
    privateJwk(`rsa-${g}`, 'rsa', { modulusLength: 2048 }, { use: 'sig' }),
    privateJwk(`p256-${g}`, 'ec', { namedCurve: 'P-256' }),
    privateJwk(`p384-${g}`, 'ec', { namedCurve: 'P-384' }),
    privateJwk(`p521-${g}`, 'ec', { namedCurve: 'P-521' }),
    privateJwk(`ed25519-${g}`, 'ed25519', {}),
    privateJwk(`rsa-enc-${g}`, 'rsa', { modulusLength: 2048 }, { use: 'enc' }),
  ];
}

function configuration(keys) {
  return {
    clients: [
      ...Object.keys(SERVICE_CLIENTS).map((clientId) => ({
        client_id: clientId,
        client_secret: `${clientId}-secret`,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      })),
      {
        client_id: DPOP_CLIENT,
        client_secret: `${DPOP_CLIENT}-secret`,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        dpop_bound_access_tokens: true,
      },
      {
        // A single-page app: public client, Authorization Code + PKCE.
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: SPA_REDIRECT_URIS,
      },
    ],
    // Only public clients, and only from the origin of one of their own
    // redirect URIs: a confidential client's secret never belongs in a page.
    clientBasedCORS(_ctx, origin, client) {
      return client.clientAuthMethod === 'none'
        && client.redirectUris.some((uri) => new URL(uri).origin === origin);
    },
    jwks: { keys },
    acrValues: ACR_VALUES,
    // RFC 9470 §4: the resource needs `acr` and `auth_time` in the access
    // token itself; oidc-provider keeps them on the code and refresh token.
    async extraTokenClaims(ctx, token) {
      const entities = ctx?.oidc?.entities;
      const source = entities?.AuthorizationCode ?? entities?.RefreshToken;
      if (token.kind !== 'AccessToken' || !source) return undefined;
      return { acr: source.acr, auth_time: source.authTime };
    },
    cookies: { keys: ['e2e-only-cookie-signing-key'] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      // On by default in oidc-provider 9; said here because the tests rely
      // on it. Proofs signed with ES256 or EdDSA (its defaults).
      dPoP: { enabled: true },
      encryption: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => 'urn:test:api',
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          const server = RESOURCES[indicator];
          if (!server) throw new errors.InvalidTarget();
          const alg = SERVICE_CLIENTS[client.clientId] ?? 'RS256';
          return {
            ...server,
            audience: indicator,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    enabledJWA: {
      // Everything oidc-provider knows, so discovery lists names such as
      // `Ed25519` and `ES512` beside the usual ones.
      idTokenSigningAlgValues: [
        'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
        'ES256', 'ES384', 'ES512', 'Ed25519', 'EdDSA',
      ],
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub };
        },
      };
    },
  };
}

const hits = new Map();
let issuer;
let keys = newKeys();
let handler;
let provider;

function startProvider() {
  provider = new Provider(issuer, configuration(keys));
  handler = provider.callback();
}

// The login form of devInteractions, with the `acr` of the query: what a
// real login page does after a password only, or after a second factor.
async function loginWithAcr(req, res, acr) {
  if (!ACR_VALUES.includes(acr)) return json(res, 400, { error: `unknown acr ${acr}` });
  let body = '';
  for await (const chunk of req) body += chunk;
  const form = new URLSearchParams(body);
  if (form.get('prompt') !== 'login' || !form.get('login')) {
    return json(res, 400, { error: 'expected the login form' });
  }
  return provider.interactionFinished(req, res, {
    login: { accountId: form.get('login'), acr },
  }, { mergeWithLastSubmission: false });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function testEndpoint(req, res, url) {
  if (url.pathname === '/__test/rotate' && req.method === 'POST') {
    const old = keys;
    keys = newKeys();
    // Published, but never used to sign: the provider signs with the first
    // key that fits an algorithm, and the new keys come first.
    if (url.searchParams.get('keep') === '1') {
      keys = [...keys, ...old];
    }
    startProvider();
    return json(res, 200, { kids: keys.map((k) => k.kid) });
  }
  if (url.pathname === '/__test/hits' && req.method === 'GET') {
    return json(res, 200, { hits: hits.get(url.searchParams.get('path')) ?? 0 });
  }
  return json(res, 404, { error: 'no such test endpoint' });
}

const server = createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/__test/')) {
    testEndpoint(req, res, url);
    return;
  }
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
  if (req.method === 'POST' && url.pathname.startsWith('/interaction/') && url.searchParams.has('acr')) {
    loginWithAcr(req, res, url.searchParams.get('acr'))
      .catch((err) => json(res, 500, { error: String(err) }));
    return;
  }
  handler(req, res);
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  startProvider();
  process.stdout.write(`OIDC_PROVIDER_ISSUER=${issuer}\n`);
});

// The test holds our stdin; when it goes away (test done, killed, crashed),
// so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
