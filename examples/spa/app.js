// The single-page app of examples/spa: Authorization Code + PKCE (S256) in
// the browser, no library, no build step.
//
// The access token lives in `accessToken` below and nowhere else: not in
// localStorage, not in a cookie, not in the URL. A reload signs the user
// out. Only the PKCE verifier and `state` survive the trip to the provider,
// in sessionStorage, and are deleted when the provider sends the user back.

const $ = (id) => document.getElementById(id);

let config; // from the page server: issuer, clientId, scope, resource, api
let provider; // the issuer's discovery document
let accessToken = null;

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

const randomString = (length) => base64url(crypto.getRandomValues(new Uint8Array(length)));

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message ?? '';
}

function render() {
  const signedIn = accessToken !== null;
  $('session').textContent = signedIn ? 'signed in (access token in memory)' : 'signed out';
  $('sign-in').disabled = signedIn;
  $('call-api').disabled = false;
  $('tamper').disabled = !signedIn;
  $('sign-out').disabled = !signedIn;
}

async function signIn() {
  const verifier = randomString(32);
  const challenge = base64url(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)),
  );
  const state = randomString(16);
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state }));
  const url = new URL(provider.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: config.clientId,
    response_type: 'code',
    redirect_uri: redirectUri(),
    scope: config.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    ...(config.resource ? { resource: config.resource } : {}),
  });
  location.assign(url);
}

function redirectUri() {
  return `${location.origin}/`;
}

// Back from the provider with ?code=…&state=… (or ?error=…): trade the code
// and the verifier for tokens at the token endpoint, a CORS request the
// provider allows for this client's origin.
async function completeSignIn(params) {
  const saved = JSON.parse(sessionStorage.getItem('pkce') ?? 'null');
  sessionStorage.removeItem('pkce');
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', '/');
  if (params.has('error')) {
    throw new Error(`the provider refused: ${params.get('error')} ${params.get('error_description') ?? ''}`);
  }
  if (!saved || params.get('state') !== saved.state) {
    throw new Error('state does not match: this sign-in was not started here');
  }
  // RFC 9207: when the provider says who it is, it must be ours.
  if (params.has('iss') && params.get('iss') !== provider.issuer) {
    throw new Error(`answer from another issuer: ${params.get('iss')}`);
  }
  const response = await fetch(provider.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: config.clientId,
      code: params.get('code'),
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
      ...(config.resource ? { resource: config.resource } : {}),
    }),
  });
  const tokens = await response.json();
  if (!response.ok) {
    throw new Error(`token endpoint answered ${response.status}: ${tokens.error} ${tokens.error_description ?? ''}`);
  }
  accessToken = tokens.access_token;
}

async function callApi() {
  const headers = accessToken ? { authorization: `Bearer ${accessToken}` } : {};
  $('status').className = '';
  $('status').textContent = 'calling…';
  $('challenge').textContent = '–';
  $('claims').textContent = '–';
  try {
    const response = await fetch(`${config.api}/me`, { headers });
    $('status').textContent = String(response.status);
    $('status').className = response.ok ? 'ok' : 'refused';
    // Readable only because the API lists it in Access-Control-Expose-Headers.
    $('challenge').textContent = response.headers.get('www-authenticate') ?? '(none)';
    $('claims').textContent = response.ok
      ? JSON.stringify(await response.json(), null, 2)
      : (await response.text()) || '(empty body)';
  } catch (error) {
    // What a refused CORS request looks like from a page: no status, no
    // headers, only a TypeError.
    $('status').textContent = `request failed: ${error.message}`;
    $('status').className = 'refused';
  }
  $('calls').textContent = String(Number($('calls').textContent) + 1);
}

// A demo of what a forged token gets: the payload's `sub` changed, the
// provider's signature kept.
function tamper() {
  const [header, payload, signature] = accessToken.split('.');
  const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder().decode(bytes));
  claims.sub = 'mallory';
  const forged = base64url(new TextEncoder().encode(JSON.stringify(claims)));
  accessToken = [header, forged, signature].join('.');
  render();
}

// Forgets the token. The provider's own session stays (signing in again
// may not ask for the password); RP-initiated logout would end it too.
function signOut() {
  accessToken = null;
  render();
}

function guard(action) {
  return async () => {
    showError(null);
    try {
      await action();
    } catch (error) {
      showError(error.message);
    }
  };
}

async function start() {
  $('origin').textContent = location.origin;
  config = await (await fetch('/config.json')).json();
  $('issuer').textContent = config.issuer;
  $('api').textContent = config.api;
  const discovery = await fetch(`${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new Error(`discovery answered ${discovery.status}`);
  provider = await discovery.json();

  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) {
    await completeSignIn(params);
  }
  $('sign-in').onclick = guard(signIn);
  $('call-api').onclick = guard(callApi);
  $('tamper').onclick = guard(tamper);
  $('sign-out').onclick = guard(signOut);
}

guard(start)().finally(render);
