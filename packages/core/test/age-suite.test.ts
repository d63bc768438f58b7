/** The shared transform conformance suite, run on encrypt() with keys and with a passphrase. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { transformSuite } from "../../testkit/src/transform-suite.js";
import { encrypt, generateIdentity } from "../src/transforms/age/index.js";

const haveAge = spawnSync("age", ["--version"]).status === 0;
if (!haveAge)
  console.warn(
    "age transformSuite: the external-decode test will be skipped: `age` not on PATH (apt-get install -y age)",
  );

transformSuite("age (X25519)", () => {
  const { identity, recipient } = generateIdentity();
  const keyFile = join(mkdtempSync(join(tmpdir(), "strongbox-age-suite-")), "key.txt");
  writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  return {
    // The backup host holds the public key only; restores use the identity.
    encoder: encrypt({ recipients: [recipient] }),
    decoder: encrypt({ identities: [identity] }),
    externalDecode: ["age", "-d", "-i", keyFile],
  };
});

// `age -d` reads passphrases from a terminal only, so this run has no external decode (tested with a pty in age.test.ts).
transformSuite("age (passphrase)", () => ({ encoder: encrypt({ passphrase: "suite passphrase", workFactor: 10 }) }), {
  largeBytes: 16 * 1024 * 1024,
});
