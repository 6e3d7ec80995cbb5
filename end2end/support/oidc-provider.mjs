// A small OpenID Connect provider for tests, standing in for Google: discovery, an
// authorization page where the "person" types their email, the token endpoint (client
// secret, PKCE S256 and redirect URI checked) and ID tokens signed RS256 with a key made at
// start (published at /jwks). Node's own crypto and http only.
//
//   node oidc-provider.mjs --client-id ID --client-secret SECRET
// prints "listening on http://127.0.0.1:PORT" once it serves.
import { createHash, generateKeyPairSync, randomBytes, createSign } from 'node:crypto';
import { createServer } from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const CLIENT_ID = args['client-id'] || 'switchboard-test';
const CLIENT_SECRET = args['client-secret'] || 'test-secret';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = randomBytes(8).toString('hex');
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** Codes handed out at /authorize and not yet exchanged (one use, one minute). */
const codes = new Map();
let base = '';

function idToken(claims) {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: KID }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(privateKey))}`;
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function form(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const server = createServer(async (req, res) => {
  const url = new URL(req.url, base);
  if (url.pathname === '/.well-known/openid-configuration') {
    return send(res, 200, {
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'email', 'profile'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      claims_supported: ['sub', 'email', 'email_verified', 'name'],
    });
  }
  if (url.pathname === '/jwks') return send(res, 200, { keys: [jwk] });
  if (url.pathname === '/authorize' && req.method === 'GET') {
    const p = url.searchParams;
    const problems = [];
    if (p.get('client_id') !== CLIENT_ID) problems.push('unknown client_id');
    if (p.get('response_type') !== 'code') problems.push('response_type must be code');
    if (!(p.get('scope') || '').split(' ').includes('openid')) problems.push('scope must include openid');
    if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) problems.push('PKCE (S256) is required');
    if (!p.get('nonce') || !p.get('state') || !p.get('redirect_uri')) problems.push('state, nonce and redirect_uri are required');
    if (problems.length) return send(res, 400, `<p>${escape(problems.join('; '))}</p>`, 'text/html');
    const hidden = ['redirect_uri', 'state', 'nonce', 'code_challenge'].map((k) => `<input type="hidden" name="${k}" value="${escape(p.get(k))}">`).join('');
    return send(
      res,
      200,
      `<!doctype html><html lang="en"><title>Test provider</title><main><h1>Choose an account</h1>
      <form method="post" action="/authorize">${hidden}
      <label for="email">Email</label> <input id="email" name="email" type="email" required>
      <label for="name">Name</label> <input id="name" name="name">
      <label><input type="checkbox" name="email_verified" checked> Email verified</label>
      <button type="submit">Continue</button></form></main></html>`,
      'text/html',
    );
  }
  if (url.pathname === '/authorize' && req.method === 'POST') {
    const f = await form(req);
    const code = randomBytes(16).toString('hex');
    const email = f.get('email');
    codes.set(code, {
      redirect_uri: f.get('redirect_uri'),
      nonce: f.get('nonce'),
      challenge: f.get('code_challenge'),
      // The same email is the same person: a stable subject from it.
      sub: createHash('sha256').update(email).digest('hex').slice(0, 21),
      email,
      email_verified: f.get('email_verified') === 'on',
      name: f.get('name') || undefined,
      expires: Date.now() + 60_000,
    });
    const back = new URL(f.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', f.get('state'));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    const f = await form(req);
    let id = f.get('client_id');
    let secret = f.get('client_secret');
    const basic = (req.headers.authorization || '').match(/^Basic (.+)$/);
    if (basic) {
      [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent);
    }
    if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return send(res, 401, { error: 'invalid_client' });
    const grant = codes.get(f.get('code'));
    codes.delete(f.get('code'));
    if (f.get('grant_type') !== 'authorization_code' || !grant || grant.expires < Date.now()) return send(res, 400, { error: 'invalid_grant' });
    if (grant.redirect_uri !== f.get('redirect_uri')) return send(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri' });
    const verifier = f.get('code_verifier') || '';
    if (b64url(createHash('sha256').update(verifier).digest()) !== grant.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
    const now = Math.floor(Date.now() / 1000);
    return send(res, 200, {
      access_token: randomBytes(16).toString('hex'),
      token_type: 'Bearer',
      expires_in: 3600,
      id_token: idToken({
        iss: base,
        sub: grant.sub,
        aud: CLIENT_ID,
        iat: now,
        exp: now + 600,
        nonce: grant.nonce,
        email: grant.email,
        email_verified: grant.email_verified,
        name: grant.name,
      }),
    });
  }
  send(res, 404, { error: 'not_found' });
});

server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  console.log(`listening on ${base}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
