// Reads {"documents": [<JSON-LD document>, ...]} on stdin and prints, for each, the QR version
// that Digital Bazaar's CBOR-LD QR encoder (@digitalbazaar/vpqr) needs at L, M and Q, and the
// payload length.  JSON-LD contexts come only from the project's bundled files.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import * as vpqr from '@digitalbazaar/vpqr';

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = join(here, '..', '..', 'schemas', 'contexts');
const index = JSON.parse(readFileSync(join(contextsDir, 'index.json'), 'utf8'));

async function documentLoader(url) {
  const file = index[url];
  if(!file) {
    throw new Error(`context not bundled: ${url}`);
  }
  return {contextUrl: null, documentUrl: url,
    document: JSON.parse(readFileSync(join(contextsDir, file), 'utf8'))};
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for(const document of input.documents) {
  const row = {};
  try {
    for(const level of ['L', 'M', 'Q']) {
      const {payload, version} = await vpqr.toQrCode({
        vp: document, documentLoader, registryEntryId: 1, qrErrorCorrectionLevel: level
      });
      row[level] = version;
      row.payloadLength = payload.length;
    }
  } catch(error) {
    row.error = String(error && error.message || error);
  }
  results.push(row);
}
process.stdout.write(JSON.stringify(results));
