// Times Digital Bazaar's JavaScript stack on the furusato credential, for bench/bench_di.py:
// @digitalbazaar/vc `verifyCredential` and `issue` with DataIntegrityProof + eddsa-rdfc-2022 —
// the same libraries the interop tests drive (tests/interop/js/node_modules, installed by
// `npm ci` there; this script loads them from that folder).
//
// stdin:  {"signed": <VC>, "unsigned": <VC>, "didDocument": <DID document of the issuer>,
//          "jwk": <issuer's private Ed25519 JWK>, "verificationMethod": "<DID URL>",
//          "created": "<date>", "now": "<date>", "runs": N, "warmup": N}
// stdout: {"versions": {...}, "verify": [ms, ...], "sign": [ms, ...]}
//
// Warm, as our Python figures: the document loader returns the bundled contexts tagged
// 'static' (jsonld.js keeps their processed form), `runs` calls timed one by one after
// `warmup` untimed ones.  Everything offline: contexts from schemas/contexts, the DID document
// from stdin.
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const INTEROP = join(HERE, '..', '..', 'tests', 'interop', 'js');
const CONTEXTS = join(HERE, '..', '..', 'schemas', 'contexts');
const require = createRequire(join(INTEROP, 'package.json'));

async function load(name) {
  return import(pathToFileURL(require.resolve(name)).href);
}

function version(name) {
  return JSON.parse(readFileSync(
    join(INTEROP, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version;
}

const vc = await load('@digitalbazaar/vc');
const {DataIntegrityProof} = await load('@digitalbazaar/data-integrity');
const {cryptosuite} = await load('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');
const Ed25519Multikey = await load('@digitalbazaar/ed25519-multikey');

const input = JSON.parse(readFileSync(0, 'utf8'));
const index = JSON.parse(readFileSync(join(CONTEXTS, 'index.json'), 'utf8'));
const contexts = new Map(Object.entries(index).map(
  ([url, file]) => [url, JSON.parse(readFileSync(join(CONTEXTS, file), 'utf8'))]));
const didDocument = input.didDocument;

function verificationMethod(url) {
  const node = (didDocument.verificationMethod || []).find(
    vm => vm.id === url || `${didDocument.id}${vm.id}` === url);
  return node && {'@context': didDocument['@context'], ...node, id: url};
}

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url), tag: 'static'};
  }
  if(url === didDocument.id) {
    return {contextUrl: null, documentUrl: url, document: didDocument};
  }
  const vm = url.startsWith(`${didDocument.id}#`) && verificationMethod(url);
  if(vm) {
    return {contextUrl: null, documentUrl: url, document: vm};
  }
  throw new Error(`document loader: not allowed (offline benchmark): ${url}`);
}

const checkStatus = async () => ({verified: true});
const now = new Date(input.now);
const verifySuite = [new DataIntegrityProof({cryptosuite})];

async function verifyOnce() {
  const result = await vc.verifyCredential({
    credential: input.signed, suite: verifySuite, documentLoader, checkStatus, now
  });
  if(!result.verified) {
    throw new Error(`not verified: ${JSON.stringify(result.error || result, null, 1)}`);
  }
}

const pair = await Ed25519Multikey.fromJwk({jwk: input.jwk, secretKey: true});
const exported = await pair.export({publicKey: true, secretKey: true});
const keyPair = await Ed25519Multikey.from({
  ...exported, id: input.verificationMethod, controller: didDocument.id
});

async function signOnce() {
  const suite = new DataIntegrityProof({
    signer: keyPair.signer(), cryptosuite, date: input.created
  });
  return vc.issue({credential: structuredClone(input.unsigned), suite, documentLoader});
}

async function time(action) {
  for(let i = 0; i < input.warmup; ++i) {
    await action();
  }
  const samples = [];
  for(let i = 0; i < input.runs; ++i) {
    const start = process.hrtime.bigint();
    await action();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

const signed = await signOnce();
if(signed.proof.proofValue !== input.signed.proof.proofValue) {
  throw new Error('the JavaScript signature differs from ours (same key, same data)');
}
const verify = await time(verifyOnce);
const sign = await time(signOnce);
process.stdout.write(JSON.stringify({
  versions: {
    node: process.version,
    '@digitalbazaar/vc': version('@digitalbazaar/vc'),
    '@digitalbazaar/data-integrity': version('@digitalbazaar/data-integrity'),
    '@digitalbazaar/eddsa-rdfc-2022-cryptosuite':
      version('@digitalbazaar/eddsa-rdfc-2022-cryptosuite'),
    jsonld: version('jsonld')
  },
  verify,
  sign
}));
