// A real OpenID provider for the SSO tests (panva/oidc-provider, OpenID Certified; it enforces PKCE).
// Configured from the environment by tests/sso/conftest.py:
//   OP_PORT     port to listen on (127.0.0.1)
//   OP_CLIENTS  JSON array of client metadata (client_id, client_secret, redirect_uris, ...)
//   OP_JWKS     JSON {"keys": [...]} private signing keys, so tests can also sign tokens of their own
//   OP_ACCOUNTS JSON {login: {claims...}}; any other login is refused
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const accounts = JSON.parse(process.env.OP_ACCOUNTS || '{}');

const configuration = {
  clients: JSON.parse(process.env.OP_CLIENTS),
  jwks: JSON.parse(process.env.OP_JWKS),
  cookies: { keys: ['libcoop-test-provider-cookie-key'] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  conformIdTokenClaims: false, // put the requested claims in the ID token itself
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  ttl: { IdToken: Number(process.env.OP_ID_TOKEN_TTL || 300), AuthorizationCode: 60 },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
};

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${port}`);
});
process.on('SIGTERM', () => process.exit(0));
