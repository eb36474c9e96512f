/**
 * Identities from certificates (src/auth/cert-identity.ts): URI SANs `conclave://ROLE/NAME`
 * as Node formats `subjectaltname`; none means "no identity" (fall back to the token), a
 * malformed one or two names refuse the certificate.
 */
import type { PeerCertificate } from "node:tls";
import test from "ava";
import {
  CertIdentityError,
  conclaveUri,
  identityFromCertificate,
  identityFromUris,
  sanUris,
} from "../../../src/auth/cert-identity.ts";

test("sanUris picks the URI entries, quoted ones included", (t) => {
  t.deepEqual(sanUris("DNS:e1, URI:conclave://elector/e1, IP Address:127.0.0.1, URI:conclave://member/e1"), [
    "conclave://elector/e1",
    "conclave://member/e1",
  ]);
  t.deepEqual(sanUris('DNS:a, URI:"http://x/a,b", URI:conclave://reader/g'), [
    "http://x/a,b",
    "conclave://reader/g",
  ]);
  t.deepEqual(sanUris("DNS:e1"), []);
});

test("one name with one or more roles is an identity", (t) => {
  t.deepEqual(
    identityFromUris([conclaveUri("elector", "web1"), "https://other", conclaveUri("member", "web1")]),
    {
      name: "web1",
      roles: ["elector", "member"],
      shared: false,
    },
  );
  t.is(identityFromUris(["https://x"]), null);
});

test("a certificate without Conclave SANs names no one; a bad one is refused", (t) => {
  t.is(identityFromCertificate({ subjectaltname: "DNS:e1, IP Address:127.0.0.1" } as PeerCertificate), null);
  t.is(identityFromCertificate(undefined), null);
  t.deepEqual(
    identityFromCertificate({ subjectaltname: "DNS:cli, URI:conclave://operator/alice" } as PeerCertificate),
    { name: "alice", roles: ["operator"], shared: false },
  );
  for (const uris of [
    ["conclave://admin/alice"],
    ["conclave://operator/"],
    ["conclave://operator/bad name"],
    ["conclave://elector/e1", "conclave://member/e2"],
  ]) {
    t.throws(() => identityFromUris(uris), { instanceOf: CertIdentityError }, uris.join(" "));
  }
});
