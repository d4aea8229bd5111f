// A partner OpenID provider for the federation tests: the `oidc-provider` package (a certified
// OpenID Connect implementation) with its development login form (any password; the login
// names the account), the accounts and clients of a JSON file, and consent taken as given.
//
//   node oidc_provider.mjs <config.json>
//   config: {"port": 0, "issuer": "http://127.0.0.1:<port>",
//            "clients": [<client metadata>], "accounts": {"<sub>": {<claims>}}}
//
// Prints "listening <port>" once it serves. The accounts file is read again on every
// sign-in, so a test can change a partner user's claims between two sign-ins.
import { readFileSync } from "node:fs";

// scripts/test installs the package under .venv/node, outside Node's module search path.
const oidc = await import(
  new URL("../../.venv/node/node_modules/oidc-provider/lib/index.js", import.meta.url)
);

const configPath = process.argv[2];
const config = JSON.parse(readFileSync(configPath, "utf8"));

function accounts() {
  return JSON.parse(readFileSync(configPath, "utf8")).accounts;
}

const provider = new oidc.Provider(config.issuer, {
  clients: config.clients,
  // ID tokens carry the claims of the granted scopes (and userinfo does too).
  conformIdTokenClaims: false,
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name"],
  },
  scopes: ["openid", "email", "profile"],
  cookies: { keys: ["federation-test-cookie-key"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = accounts()[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // First-party partner: the user's consent to our client is taken as given.
  async loadExistingGrant(ctx) {
    const known = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (known) return ctx.oidc.provider.Grant.find(known);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
