#!/usr/bin/env node
/*
 * furusato-vc interop harness for SD-JWT (RFC 9901) / SD-JWT VC: drives the
 * OpenWallet Foundation's reference implementation (@sd-jwt/sd-jwt-vc with
 * @sd-jwt/crypto-nodejs) for the pytest suite (see ../jsbridge.py).
 *
 * Same protocol as di.mjs:
 *   one-shot:  node sdjwt.mjs <command>  < request.json  > response.json
 *   serve:     node sdjwt.mjs serve   (JSON lines {"id", "command", "payload"}
 *              answered by {"id", "ok": true, "result"} or {"id", "ok": false,
 *              "error": {"name", "message", "stack"}})
 * A failed verification is a normal result: {"verified": false, "errors": [...]}.
 *
 * Commands:
 *   issue    {claims, disclosable: [path], key: private JWK, kid, typ?, decoys?}
 *            -> {sdJwt}
 *   present  {sdJwt, disclose: [path], holderKey?: private JWK,
 *             kb?: {nonce, aud, iat}} -> {presentation}
 *   verify   {sdJwt, issuerKey: public JWK, now (seconds), skewSeconds?,
 *             nonce? (Key Binding required when given)}
 *            -> {verified, payload?, header?, kb?, errors?}
 *   decode   {sdJwt} -> {claims, presentableKeys, disclosures: [{digest, salt,
 *             key?, value}], kbJwt: bool}
 *   version  {} -> {node, packages}
 *
 * Claim paths are those of vc/sdjwt.py: a top-level name, or a dotted path
 * ("address.locality", "nationalities.1"). Keys are JWKs: Ed25519 (EdDSA,
 * signed with node:crypto, since @sd-jwt/crypto-nodejs has no EdDSA) and P-256
 * (ES256, signed with @sd-jwt/crypto-nodejs). No network.
 */
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {HarnessError, main} from './harness.mjs';
import nodeCrypto from 'node:crypto';

import {SDJwtVcInstance} from '@sd-jwt/sd-jwt-vc';
import {ES256, digest, generateSalt} from '@sd-jwt/crypto-nodejs';

const HERE = dirname(fileURLToPath(import.meta.url));


// ---------------------------------------------------------------------------
// keys

function jwkAlg(jwk) {
  if(jwk?.kty === 'OKP' && jwk?.crv === 'Ed25519') {
    return 'EdDSA';
  }
  if(jwk?.kty === 'EC' && jwk?.crv === 'P-256') {
    return 'ES256';
  }
  throw new HarnessError(
    `unsupported key (Ed25519 or P-256 JWK only): ${JSON.stringify(jwk)}`);
}

function publicJwk(jwk) {
  const {d, ...pub} = jwk;
  return pub;
}

async function signerFor(privateJwk) {
  const alg = jwkAlg(privateJwk);
  if(alg === 'ES256') {
    return {alg, signer: await ES256.getSigner(privateJwk)};
  }
  const key = nodeCrypto.createPrivateKey({key: privateJwk, format: 'jwk'});
  const signer = async data => nodeCrypto.sign(
    null, Buffer.from(data, 'utf8'), key).toString('base64url');
  return {alg, signer};
}

// (data, signature) -> boolean for a public JWK; the JOSE header's alg must
// be the key's (the library leaves that check to the verifier callback).
async function verifierFor(publicKeyJwk, encodedHeaderOf) {
  const alg = jwkAlg(publicKeyJwk);
  let check;
  if(alg === 'ES256') {
    check = await ES256.getVerifier(publicJwk(publicKeyJwk));
  } else {
    const key = nodeCrypto.createPublicKey(
      {key: publicJwk(publicKeyJwk), format: 'jwk'});
    check = async (data, sig) => nodeCrypto.verify(
      null, Buffer.from(data, 'utf8'), key, Buffer.from(sig, 'base64url'));
  }
  return async (data, sig) => {
    const header = JSON.parse(
      Buffer.from(encodedHeaderOf(data), 'base64url').toString('utf8'));
    if(header.alg !== alg) {
      return false;
    }
    return check(data, sig);
  };
}

const firstPart = data => data.split('.')[0];

// ---------------------------------------------------------------------------
// claim paths -> the library's disclosure / presentation frames

function splitPath(claims, path) {
  if(typeof path !== 'string' || path === '') {
    throw new HarnessError(`bad claim path ${JSON.stringify(path)}`);
  }
  return Object.hasOwn(claims, path) ? [path] : path.split('.');
}

function disclosureFrame(claims, paths) {
  const frame = {};
  for(const path of paths) {
    const segments = splitPath(claims, path);
    let node = claims;
    let f = frame;
    for(const [i, segment] of segments.entries()) {
      const isArray = Array.isArray(node);
      const key = isArray ? Number(segment) : segment;
      if(node === null || typeof node !== 'object' || !(key in node)) {
        throw new HarnessError(`no claim at path ${JSON.stringify(path)}`);
      }
      if(i === segments.length - 1) {
        f._sd = f._sd ?? [];
        f._sd.push(key);
      } else {
        f[key] = f[key] ?? {};
        f = f[key];
      }
      node = node[key];
    }
  }
  return frame;
}

function presentationFrame(paths) {
  const frame = {};
  for(const path of paths) {
    const segments = path.split('.');
    let f = frame;
    for(const [i, segment] of segments.entries()) {
      if(i === segments.length - 1) {
        if(typeof f[segment] !== 'object') {
          f[segment] = true;
        }
      } else {
        if(typeof f[segment] !== 'object') {
          f[segment] = {};
        }
        f = f[segment];
      }
    }
  }
  return frame;
}

// ---------------------------------------------------------------------------
// commands

function instance(config = {}) {
  return new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
    ...config
  });
}

function errorMessages(e) {
  const out = [];
  for(let x = e, depth = 0; x && depth < 4; x = x.cause, depth++) {
    out.push(x.message ?? String(x));
  }
  return out;
}

const COMMANDS = {
  async issue({claims, disclosable = [], key, kid, typ, decoys}) {
    if(!claims || typeof claims !== 'object') {
      throw new HarnessError('issue: claims must be an object');
    }
    const {alg, signer} = await signerFor(key);
    const sdjwt = instance({signer, signAlg: alg});
    const frame = disclosureFrame(claims, disclosable);
    if(decoys) {
      frame._sd_decoy = decoys;
    }
    const header = {kid};
    if(typ) {
      header.typ = typ;
    }
    const sdJwt = await sdjwt.issue(claims, frame, {header});
    return {sdJwt};
  },

  async present({sdJwt, disclose = [], holderKey, kb}) {
    const config = {};
    if(holderKey) {
      const {alg, signer} = await signerFor(holderKey);
      config.kbSigner = signer;
      config.kbSignAlg = alg;
    }
    const sdjwt = instance(config);
    const options = holderKey ? {kb: {payload: kb}} : undefined;
    const presentation = await sdjwt.present(
      sdJwt, presentationFrame(disclose), options);
    return {presentation};
  },

  async verify({sdJwt, issuerKey, now, skewSeconds = 0, nonce}) {
    const verifier = await verifierFor(issuerKey, firstPart);
    const kbVerifier = async (data, sig, payload) => {
      const jwk = payload?.cnf?.jwk;
      if(!jwk) {
        return false;
      }
      return (await verifierFor(jwk, firstPart))(data, sig);
    };
    const sdjwt = instance({verifier, kbVerifier});
    const options = {currentDate: now, skewSeconds};
    if(nonce !== undefined) {
      options.keyBindingNonce = nonce;
    }
    try {
      const result = await sdjwt.verify(sdJwt, options);
      return {
        verified: true,
        payload: result.payload,
        header: result.header,
        kb: result.kb ?? null
      };
    } catch(e) {
      return {verified: false, errors: errorMessages(e)};
    }
  },

  async decode({sdJwt}) {
    const sdjwt = instance();
    const decoded = await sdjwt.decode(sdJwt);
    const disclosures = [];
    for(const d of decoded.disclosures ?? []) {
      const entry = {
        digest: await d.digest({hasher: digest, alg: 'sha-256'}),
        salt: d.salt,
        value: d.value
      };
      if(d.key !== undefined) {
        entry.key = d.key;
      }
      disclosures.push(entry);
    }
    return {
      claims: await sdjwt.getClaims(sdJwt),
      presentableKeys: await sdjwt.presentableKeys(sdJwt),
      disclosures,
      kbJwt: decoded.kbJwt !== undefined
    };
  },

  async version() {
    const names = [
      '@sd-jwt/sd-jwt-vc', '@sd-jwt/core', '@sd-jwt/crypto-nodejs',
      '@sd-jwt/decode', '@sd-jwt/present', '@sd-jwt/utils', '@sd-jwt/types'
    ];
    const packages = {};
    for(const name of names) {
      const pkg = JSON.parse(readFileSync(
        join(HERE, 'node_modules', name, 'package.json'), 'utf8'));
      packages[name] = pkg.version;
    }
    return {node: process.version, packages};
  }
};

function errorJson(e) {
  return {
    name: e?.name ?? 'Error',
    message: errorMessages(e).join('; ') || String(e),
    stack: e?.stack ?? null
  };
}

// ---------------------------------------------------------------------------
// main

await main('sdjwt.mjs', COMMANDS, errorJson);
