// A service provider built with @node-saml/node-saml, driven by tests/saml/test_interop.py.
// stdin line 1: JSON options {callbackUrl, entryPoint, issuer, idpCert, privateKey, binding, relayState}
// stdout line 1: JSON {url} (HTTP-Redirect) or {form} (HTTP-POST) for the browser-less walk to the IdP
// stdin line 2: JSON {SAMLResponse, RelayState} from the IdP's auto-submitting form
// stdout line 2: JSON {ok, profile} or {ok: false, error}
"use strict";
const readline = require("readline");
const { SAML } = require("@node-saml/node-saml");

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();

async function next() {
  const { value, done } = await lines.next();
  if (done) throw new Error("stdin closed");
  return JSON.parse(value);
}

(async () => {
  const opts = await next();
  const saml = new SAML({
    callbackUrl: opts.callbackUrl,
    entryPoint: opts.entryPoint,
    issuer: opts.issuer,
    audience: opts.issuer,
    idpCert: opts.idpCert,
    privateKey: opts.privateKey,
    signatureAlgorithm: opts.signatureAlgorithm || "sha256",
    digestAlgorithm: "sha256",
    identifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    authnRequestBinding: opts.binding,
    validateInResponseTo: "always",
    wantAuthnResponseSigned: true,
    wantAssertionsSigned: true,
    acceptedClockSkewMs: 5000,
  });
  if (opts.binding === "HTTP-POST") {
    const form = await saml.getAuthorizeFormAsync(opts.relayState, "127.0.0.1", {});
    console.log(JSON.stringify({ form }));
  } else {
    const url = await saml.getAuthorizeUrlAsync(opts.relayState, "127.0.0.1", {});
    console.log(JSON.stringify({ url }));
  }
  const posted = await next();
  try {
    const { profile } = await saml.validatePostResponseAsync(posted);
    console.log(JSON.stringify({ ok: true, profile }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: String(err && err.message ? err.message : err) }));
  }
  rl.close();
})().catch((err) => {
  console.log(JSON.stringify({ ok: false, error: String(err) }));
  process.exit(1);
});
