#!/usr/bin/env node
/*
 * furusato-vc interop harness: drives Digital Bazaar's JavaScript VC stack
 * (@digitalbazaar/vc + data-integrity + eddsa-rdfc-2022 / ecdsa-rdfc-2019)
 * for the pytest suite (see ../jsbridge.py).
 *
 * One-shot:  node di.mjs <command>  < request.json  > response.json
 *   reads one JSON object on stdin, writes one JSON object on stdout.
 *   exit 0 = the command ran (a failed verification is a normal result:
 *   {"verified": false, "errors": [...]}); exit 1 = harness failure (bad
 *   input, unknown command, ...) with {"error": {...}} on stderr.
 *
 * Serve:     node di.mjs serve
 *   reads JSON lines {"id": any, "command": str, "payload": {...}} on stdin
 *   and answers each with one JSON line on stdout, in order:
 *   {"id": ..., "ok": true, "result": {...}} or
 *   {"id": ..., "ok": false, "error": {"name", "message", "stack"}}.
 *   Library logging is routed to stderr so stdout carries only answers.
 *
 * Commands: sign-vc, verify-vc, sign-vp, verify-vp, canonize, version.
 *
 * The document loader is STATIC: JSON-LD contexts come only from
 * ../../../schemas/contexts/ (index.json: URL -> file name), did:key
 * documents are generated locally, and a request may add
 * "documents": {url: document}. Any other URL is an error. No network.
 */
import {readFileSync, statSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {HarnessError, main} from './harness.mjs';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from
  '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import jsigs from 'jsonld-signatures';

const {purposes: {AssertionProofPurpose}} = jsigs;

const HERE = dirname(fileURLToPath(import.meta.url));
const CONTEXTS_DIR = join(HERE, '..', '..', '..', 'schemas', 'contexts');
const CONTEXTS_INDEX = join(CONTEXTS_DIR, 'index.json');

const DID_CONTEXT_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_CONTEXT_V1 = 'https://w3id.org/security/multikey/v1';

// FURUSATO_INTEROP_TRACE=1: log every URL the document loader is asked for
const TRACE = ['1', 'true', 'yes'].includes(
  (process.env.FURUSATO_INTEROP_TRACE ?? '').toLowerCase());

const SUITES = {
  'eddsa-rdfc-2022': eddsaRdfc2022,
  'ecdsa-rdfc-2019': ecdsaRdfc2019
};


// ---------------------------------------------------------------------------
// static document loader

let _index = null; // {mtimeMs, map: Map(url -> file name)}
const _contextCache = new Map(); // file name -> {mtimeMs, document}

function contextIndex() {
  let st;
  try {
    st = statSync(CONTEXTS_INDEX);
  } catch(e) {
    throw new HarnessError(
      `context index not found: ${CONTEXTS_INDEX} (${e.message})`);
  }
  if(!_index || _index.mtimeMs !== st.mtimeMs) {
    const raw = JSON.parse(readFileSync(CONTEXTS_INDEX, 'utf8'));
    _index = {mtimeMs: st.mtimeMs, map: new Map(Object.entries(raw))};
  }
  return _index.map;
}

function loadBundledContext(url) {
  const file = contextIndex().get(url);
  if(file === undefined) {
    return undefined;
  }
  if(typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
    throw new HarnessError(`bad entry in contexts index for ${url}: ${file}`);
  }
  const path = join(CONTEXTS_DIR, file);
  const st = statSync(path);
  const cached = _contextCache.get(file);
  if(cached && cached.mtimeMs === st.mtimeMs) {
    return cached.document;
  }
  const document = JSON.parse(readFileSync(path, 'utf8'));
  _contextCache.set(file, {mtimeMs: st.mtimeMs, document});
  return document;
}

const MULTICODEC_PREFIXES = [
  // [multibase prefix of a base58btc multikey, algorithm]
  ['z6Mk', 'Ed25519'],
  ['zDn', 'P-256'],
  ['z82', 'P-384']
];

function keyAlgorithm(publicKeyMultibase) {
  for(const [prefix, alg] of MULTICODEC_PREFIXES) {
    if(publicKeyMultibase.startsWith(prefix)) {
      return alg;
    }
  }
  throw new HarnessError(
    `unsupported multikey (not Ed25519/P-256/P-384): ${publicKeyMultibase}`);
}

async function assertValidPublicMultikey(publicKeyMultibase) {
  const lib = keyAlgorithm(publicKeyMultibase) === 'Ed25519' ?
    Ed25519Multikey : EcdsaMultikey;
  // throws on a bad header / length / point
  await lib.from({
    '@context': MULTIKEY_CONTEXT_V1, type: 'Multikey', publicKeyMultibase
  });
}

// DID document for did:key:<multikey>, Multikey form (did:key v0.7,
// publicKeyFormat Multikey). No keyAgreement entry (not needed for
// signatures; Digital Bazaar's driver would add an X25519 key for Ed25519).
function didKeyDocument(did) {
  const fingerprint = did.slice('did:key:'.length);
  const vmId = `${did}#${fingerprint}`;
  return {
    '@context': [DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1],
    id: did,
    verificationMethod: [{
      id: vmId,
      type: 'Multikey',
      controller: did,
      publicKeyMultibase: fingerprint
    }],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityDelegation: [vmId],
    capabilityInvocation: [vmId]
  };
}

// Select the node `url` (DID URL with fragment) from a controller document,
// returning it with the document's @context -- what Digital Bazaar's did-io
// returns, and what DataIntegrityProof.getVerificationMethod() expects.
function selectFragment(doc, url) {
  const base = url.slice(0, url.indexOf('#'));
  const fragment = url.slice(url.indexOf('#'));
  const candidates = [];
  for(const rel of [
    'verificationMethod', 'assertionMethod', 'authentication',
    'capabilityInvocation', 'capabilityDelegation', 'keyAgreement'
  ]) {
    const values = doc[rel] === undefined ? [] : [].concat(doc[rel]);
    for(const v of values) {
      if(v && typeof v === 'object') {
        candidates.push(v);
      }
    }
  }
  const node = candidates.find(
    v => v.id === url || (v.id === fragment && (doc.id === base)));
  if(!node) {
    return undefined;
  }
  return {
    '@context': doc['@context'],
    ...node,
    id: url,
    controller: node.controller ?? doc.id
  };
}

function makeDocumentLoader(extraDocuments = {}) {
  if(extraDocuments === null || typeof extraDocuments !== 'object' ||
    Array.isArray(extraDocuments)) {
    throw new HarnessError('"documents" must be an object {url: document}');
  }
  const extra = new Map(Object.entries(extraDocuments));
  return async function documentLoader(url) {
    if(TRACE) {
      process.stderr.write(`di.mjs loader: ${url}\n`);
    }
    if(typeof url !== 'string') {
      throw new Error(`document loader: URL must be a string: ${url}`);
    }
    // 1. bundled, pinned JSON-LD contexts (tagged static so jsonld.js may
    //    cache the processed context across calls in serve mode)
    const bundled = loadBundledContext(url);
    if(bundled !== undefined) {
      return {
        contextUrl: null, documentUrl: url, document: bundled, tag: 'static'
      };
    }
    // 2. did:key, generated locally
    if(url.startsWith('did:key:')) {
      const hash = url.indexOf('#');
      const did = hash === -1 ? url : url.slice(0, hash);
      const fingerprint = did.slice('did:key:'.length);
      if(!/^z[1-9A-HJ-NP-Za-km-z]+$/.test(fingerprint)) {
        throw new Error(`document loader: malformed did:key URL: ${url}`);
      }
      try {
        await assertValidPublicMultikey(fingerprint);
      } catch(e) {
        throw new Error(
          `document loader: invalid did:key ${did}: ${e.message}`);
      }
      const doc = didKeyDocument(did);
      if(hash === -1) {
        return {contextUrl: null, documentUrl: url, document: doc};
      }
      const vm = selectFragment(doc, url);
      if(!vm) {
        throw new Error(
          `document loader: did:key fragment must be the key itself: ${url}`);
      }
      return {contextUrl: null, documentUrl: url, document: vm};
    }
    // 3. documents given with the request (did:web documents etc.)
    if(extra.has(url)) {
      return {contextUrl: null, documentUrl: url, document: extra.get(url)};
    }
    const hash = url.indexOf('#');
    if(hash !== -1 && extra.has(url.slice(0, hash))) {
      const vm = selectFragment(extra.get(url.slice(0, hash)), url);
      if(vm) {
        return {contextUrl: null, documentUrl: url, document: vm};
      }
    }
    throw new Error(
      `document loader: URL not allowed (static loader, no network): ${url}`);
  };
}

// ---------------------------------------------------------------------------
// keys and suites

async function importSigningKey(key, verificationMethod) {
  if(!key || typeof key !== 'object') {
    throw new HarnessError('"key" must be an object (JWK or multikey pair)');
  }
  let pair;
  let alg;
  if(key.kty !== undefined) {
    if(key.d === undefined) {
      throw new HarnessError('JWK "key" must include the private part "d"');
    }
    if(key.kty === 'OKP' && key.crv === 'Ed25519') {
      alg = 'Ed25519';
      pair = await Ed25519Multikey.fromJwk({jwk: key, secretKey: true});
    } else if(key.kty === 'EC' &&
      (key.crv === 'P-256' || key.crv === 'P-384')) {
      alg = key.crv;
      // without key_ops, ecdsa-multikey imports a JWK as an ECDH
      // (keyAgreement) key, which cannot sign
      const {kty, crv, x, y, d} = key;
      pair = await EcdsaMultikey.fromJwk(
        {jwk: {kty, crv, x, y, d, key_ops: ['sign']}, secretKey: true});
    } else {
      throw new HarnessError(
        `unsupported JWK kty/crv: ${key.kty}/${key.crv}`);
    }
  } else {
    const publicKeyMultibase = key.publicKeyMultibase;
    const secretKeyMultibase = key.secretKeyMultibase ??
      key.privateKeyMultibase;
    if(typeof publicKeyMultibase !== 'string' ||
      typeof secretKeyMultibase !== 'string') {
      throw new HarnessError('"key" needs publicKeyMultibase and ' +
        'secretKeyMultibase (or privateKeyMultibase), or be a private JWK');
    }
    alg = keyAlgorithm(publicKeyMultibase);
    const lib = alg === 'Ed25519' ? Ed25519Multikey : EcdsaMultikey;
    pair = await lib.from({
      '@context': MULTIKEY_CONTEXT_V1, type: 'Multikey',
      publicKeyMultibase, secretKeyMultibase
    });
  }
  const {publicKeyMultibase} = await pair.export({publicKey: true});
  const did = `did:key:${publicKeyMultibase}`;
  const vmId = verificationMethod ?? `${did}#${publicKeyMultibase}`;
  const controller = vmId.includes('#') ?
    vmId.slice(0, vmId.indexOf('#')) : did;
  const lib = alg === 'Ed25519' ? Ed25519Multikey : EcdsaMultikey;
  const exported = await pair.export({publicKey: true, secretKey: true});
  const keyPair = await lib.from({
    ...exported, id: vmId, controller
  });
  return {keyPair, alg, publicKeyMultibase, verificationMethod: vmId};
}

function signingSuite({suite, keyPair, created}) {
  const cryptosuite = SUITES[suite];
  if(!cryptosuite) {
    throw new HarnessError(`unknown suite "${suite}" ` +
      `(use one of ${Object.keys(SUITES).join(', ')})`);
  }
  const options = {signer: keyPair.signer(), cryptosuite};
  if(created !== undefined && created !== null) {
    options.date = created;
  }
  return new DataIntegrityProof(options);
}

function verifyingSuites() {
  return Object.values(SUITES).map(
    cryptosuite => new DataIntegrityProof({cryptosuite}));
}

// ---------------------------------------------------------------------------
// results

function errorMessages(...errs) {
  const out = [];
  const seen = new Set();
  const visit = (e, depth) => {
    if(e === undefined || e === null || depth > 8) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(x => visit(x, depth + 1));
      return;
    }
    if(Array.isArray(e.errors) && e.errors.length > 0) {
      // VerificationError wraps the real errors
      e.errors.forEach(x => visit(x, depth + 1));
      return;
    }
    let msg = typeof e === 'string' ? e : (e.message ?? String(e));
    msg = withSafeModeEvent(msg, e);
    const cause = e.details?.cause ?? e.cause;
    if(cause && cause.message && !msg.includes(cause.message)) {
      msg = `${msg}: ${cause.message}`;
      const inner = cause.details?.cause ?? cause.cause;
      if(inner && inner.message && !msg.includes(inner.message)) {
        msg = `${msg}: ${inner.message}`;
      }
    }
    if(!seen.has(msg)) {
      seen.add(msg);
      out.push(msg);
    }
  };
  for(const e of errs) {
    visit(e, 0);
  }
  return out;
}

// jsonld.js safe mode: "Safe mode validation error." carries the event that
// triggered it ({code: 'invalid property', details: {property: 'foo'}, ...})
function withSafeModeEvent(msg, e) {
  const event = e?.details?.event;
  if(!event || typeof event !== 'object') {
    return msg;
  }
  let detail = '';
  try {
    detail = event.details ? ` ${JSON.stringify(event.details)}` : '';
  } catch{
    detail = '';
  }
  return `${msg} [${event.code ?? 'unknown event'}]${detail}`;
}

function resultErrors(result) {
  if(!result) {
    return [];
  }
  const errs = [result.error];
  for(const r of result.results ?? []) {
    errs.push(r.error, r.purposeResult?.error);
  }
  if(result.statusResult && result.statusResult.verified === false) {
    errs.push(result.statusResult.error ?? 'credential status check failed');
  }
  return errorMessages(...errs);
}

function credentialOutcome(result) {
  const verified = result?.verified === true;
  const errors = resultErrors(result);
  if(!verified && errors.length === 0) {
    errors.push('verification failed (no error message)');
  }
  return {verified, errors};
}

// A credential with credentialStatus requires a checkStatus function in
// @digitalbazaar/vc; the harness does not check status lists (no status list
// library), so it accepts and reports statusChecked: false.
const skipStatus = async () => ({verified: true, skipped: true});

function verifyOptions(payload) {
  const options = {
    suite: verifyingSuites(),
    documentLoader: makeDocumentLoader(payload.documents ?? {}),
    checkStatus: skipStatus
  };
  if(payload.now !== undefined) {
    options.now = new Date(payload.now);
    if(isNaN(options.now)) {
      throw new HarnessError(`"now" is not a valid date: ${payload.now}`);
    }
  }
  if(payload.maxClockSkew !== undefined) {
    options.maxClockSkew = payload.maxClockSkew;
  }
  return options;
}

function requireObject(payload, name) {
  const v = payload[name];
  if(!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new HarnessError(`"${name}" must be a JSON object`);
  }
  return structuredClone(v);
}

function hasStatus(credential) {
  return credential && typeof credential === 'object' &&
    credential.credentialStatus !== undefined;
}

// ---------------------------------------------------------------------------
// commands

const COMMANDS = {
  async 'sign-vc'(payload) {
    const credential = requireObject(payload, 'credential');
    const {keyPair} = await importSigningKey(
      payload.key, payload.verificationMethod);
    const suite = signingSuite(
      {suite: payload.suite, keyPair, created: payload.created});
    const verifiableCredential = await vc.issue({
      credential, suite,
      documentLoader: makeDocumentLoader(payload.documents ?? {})
    });
    return {verifiableCredential};
  },

  async 'verify-vc'(payload) {
    const credential = requireObject(payload, 'verifiableCredential');
    const options = verifyOptions(payload);
    if(payload.checkController === false) {
      options.purpose = new AssertionProofPurpose();
    }
    const result = await vc.verifyCredential({...options, credential});
    return {
      ...credentialOutcome(result),
      statusChecked: false,
      hasStatus: hasStatus(credential)
    };
  },

  async 'sign-vp'(payload) {
    const presentation = requireObject(payload, 'presentation');
    if(typeof payload.challenge !== 'string') {
      throw new HarnessError('"challenge" (string) is required');
    }
    const {keyPair} = await importSigningKey(
      payload.key, payload.verificationMethod);
    const suite = signingSuite(
      {suite: payload.suite, keyPair, created: payload.created});
    const options = {
      presentation, suite, challenge: payload.challenge,
      documentLoader: makeDocumentLoader(payload.documents ?? {})
    };
    if(payload.domain !== undefined) {
      options.domain = payload.domain;
    }
    const verifiablePresentation = await vc.signPresentation(options);
    return {verifiablePresentation};
  },

  async 'verify-vp'(payload) {
    const presentation = requireObject(payload, 'verifiablePresentation');
    if(typeof payload.challenge !== 'string') {
      throw new HarnessError('"challenge" (string) is required');
    }
    const options = verifyOptions(payload);
    options.challenge = payload.challenge;
    if(payload.domain !== undefined) {
      options.domain = payload.domain;
    }
    if(payload.checkController === false) {
      // applies to the embedded credentials only; the presentation proof
      // is always checked with AuthenticationProofPurpose
      options.purpose = new AssertionProofPurpose();
    }
    const result = await vc.verify({...options, presentation});
    const out = {verified: result.verified === true};
    const errors = errorMessages(result.error);
    if(result.presentationResult) {
      for(const m of resultErrors(result.presentationResult)) {
        if(!errors.includes(m)) {
          errors.push(m);
        }
      }
    }
    for(const r of result.results ?? []) {
      for(const m of errorMessages(r.error)) {
        if(!errors.includes(m)) {
          errors.push(m);
        }
      }
    }
    if(result.presentationResult) {
      out.presentationVerified = result.presentationResult.verified === true;
    }
    if(result.credentialResults) {
      out.credentialResults = result.credentialResults.map(r => ({
        credentialId: r.credentialId ?? null,
        ...credentialOutcome(r)
      }));
      for(const [i, r] of out.credentialResults.entries()) {
        for(const m of r.errors) {
          const tagged = `credential ${i}: ${m}`;
          if(!errors.includes(tagged)) {
            errors.push(tagged);
          }
        }
      }
    }
    if(!out.verified && errors.length === 0) {
      errors.push('verification failed (no error message)');
    }
    out.errors = errors;
    out.statusChecked = false;
    return out;
  },

  async canonize(payload) {
    const document = requireObject(payload, 'document');
    // exactly the canonize() the eddsa-rdfc-2022 / ecdsa-rdfc-2019 suites
    // use: jsonld.toRDF (safe: true, base: null, rdfDirection:
    // 'i18n-datatype') + rdf-canonize RDFC-1.0, n-quads
    const nquads = await eddsaRdfc2022.canonize(document, {
      documentLoader: makeDocumentLoader(payload.documents ?? {})
    });
    return {nquads};
  },

  async version() {
    const names = [
      '@digitalbazaar/vc',
      '@digitalbazaar/data-integrity',
      '@digitalbazaar/eddsa-rdfc-2022-cryptosuite',
      '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite',
      '@digitalbazaar/ed25519-multikey',
      '@digitalbazaar/ecdsa-multikey',
      'jsonld-signatures',
      'jsonld',
      'rdf-canonize'
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

await main('di.mjs', COMMANDS, errorJson);
