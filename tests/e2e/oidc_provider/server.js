// A real OpenID Provider for the end-to-end sign-in tests: panva's oidc-provider 8.x
// (OpenID Certified), with its built-in development login and consent pages.
//
// Usage: OIDC_E2E_CONFIG=/path/config.json node server.js
// config.json: {
//   "issuer": "http://localhost:PORT", "port": PORT, "conform_id_token_claims": false,
//   "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//   "accounts": {"<login>": {"email", "email_verified", "given_name", "family_name", "groups": [...]}}
// }
// The account file is re-read at each lookup so a test may add people while the server runs.
// The login page accepts any password: the tests exercise the relying party, not this IdP.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const configPath = process.env.OIDC_E2E_CONFIG;
if (!configPath) {
  console.error('OIDC_E2E_CONFIG must name the JSON configuration file');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));

function readAccounts() {
  return JSON.parse(readFileSync(configPath, 'utf8')).accounts || {};
}

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: client.token_endpoint_auth_method || 'client_secret_basic',
  })),
  // PKCE is required for every client (oidc-provider's default policy), S256 only.
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
    groups: ['groups'],
  },
  // false (default here): the scopes' claims are in the ID token too, as Okta and Entra ID
  // put email and names there. true (oidc-provider's own default): they are only at the
  // userinfo endpoint, which the relying party must then read.
  conformIdTokenClaims: Boolean(config.conform_id_token_claims),
  features: {
    devInteractions: { enabled: true },
  },
  cookies: { keys: ['optiid-e2e-cookie-key-not-a-secret'] },
  async findAccount(ctx, id) {
    const claims = readAccounts()[id];
    if (!claims) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...claims };
      },
    };
  },
});

// The relying party under test runs on plain http://127.0.0.1 in the tests.
provider.proxy = false;

// oidc-provider accepts client_secret_basic and client_secret_post interchangeably, so log
// which one each token request used: the tests check the connection's setting is honoured.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method === 'POST' && ctx.path === '/token') {
    const method = ctx.headers.authorization ? 'client_secret_basic' : 'client_secret_post';
    const clientId = ctx.oidc?.client?.clientId ?? '-';
    console.log(`token-endpoint-auth ${clientId} ${method} ${ctx.status}`);
  }
  if (ctx.path === '/me') {
    console.log(`userinfo ${ctx.oidc?.client?.clientId ?? '-'} ${ctx.status}`);
  }
});

const server = provider.listen(config.port, 'localhost', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
