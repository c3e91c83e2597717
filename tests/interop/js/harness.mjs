/**
 * The harness protocol both scripts speak (tests/interop/jsbridge.py):
 *
 *   node <script> <command> < request.json     one call, the answer on stdout
 *   node <script> serve                        JSON lines: {id, command, payload} →
 *                                              {id, ok, result} or {id, ok: false, error}
 *
 * A script passes its name, its commands and how it describes an error to `main`.
 */
import {createInterface} from 'node:readline';

export class HarnessError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HarnessError';
  }
}

async function runCommand(commands, command, payload) {
  const fn = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if(!fn) {
    throw new HarnessError(`unknown command "${command}" (commands: ` +
      `${Object.keys(commands).join(', ')}, serve)`);
  }
  if(!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new HarnessError('the request must be a JSON object');
  }
  return fn(payload);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function oneShot(commands, command, errorJson) {
  try {
    const text = await readStdin();
    const payload = text.trim() === '' ? {} : JSON.parse(text);
    const result = await runCommand(commands, command, payload);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch(e) {
    process.stderr.write(JSON.stringify({error: errorJson(e)}) + '\n');
    return 1;
  }
}

async function serve(commands, errorJson) {
  // keep stdout for protocol lines only
  const toStderr = (...args) => process.stderr.write(
    args.map(a => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ') +
    '\n');
  console.log = toStderr;
  console.info = toStderr;
  console.warn = toStderr;
  console.debug = toStderr;

  const rl = createInterface({input: process.stdin, crlfDelay: Infinity});
  for await (const line of rl) {
    if(line.trim() === '') {
      continue;
    }
    let id = null;
    let answer;
    try {
      const request = JSON.parse(line);
      id = request?.id ?? null;
      const result = await runCommand(commands, request?.command, request?.payload);
      answer = {id, ok: true, result};
    } catch(e) {
      answer = {id, ok: false, error: errorJson(e)};
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  return 0;
}

export async function main(name, commands, errorJson) {
  const command = process.argv[2];
  if(!command) {
    process.stderr.write(`usage: node ${name} <command> < request.json\n` +
      `       node ${name} serve\ncommands: ${Object.keys(commands).join(', ')}\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = command === 'serve' ? await serve(commands, errorJson) :
      await oneShot(commands, command, errorJson);
  }
}
