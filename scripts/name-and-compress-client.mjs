// The last client build step: names each client file by its content and precompresses it.
//   node scripts/name-and-compress-client.mjs <site root> [dev|release]
// pkg/switchboard.js, switchboard_bg.wasm and switchboard.css become
// pkg/switchboard.<hash>.{js,wasm,css} (hash: the first 16 hex digits of their SHA-256), with
// .br and .gz copies beside them, and <site root>/hash.txt says which hashes are current
// (leptos reads it to link them). A name that changes with the content lets browsers keep
// the files for good (Cache-Control: immutable) yet never run a stale client after a deploy.
// Release builds compress hardest; dev builds quickly (the e2e suite serves them too).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, unlinkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

/** The .br and .gz copies of `bytes` beside `path`, hardest for a release. */
function compressBeside(path, bytes, release) {
  writeFileSync(`${path}.br`, brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: release ? 11 : 4,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }));
  writeFileSync(`${path}.gz`, gzipSync(bytes, { level: release ? 9 : 4 }));
}

// `--scripts <site root>`: the page scripts from public/ (minified by esbuild before, in a
// release) get their compressed copies too, so they are served at brotli's best instead of
// compressed on the fly at its quick setting.
if (process.argv[2] === '--scripts') {
  const root = process.argv[3];
  const scripts = readdirSync(root).filter((name) => name.endsWith('.js') || name.endsWith('.mjs'));
  for (const name of scripts) compressBeside(join(root, name), readFileSync(join(root, name)), true);
  console.log(`page scripts precompressed: ${scripts.length}`);
  process.exit(0);
}

const [siteRoot, profile = 'dev'] = process.argv.slice(2);
if (!siteRoot) {
  console.error('usage: name-and-compress-client.mjs <site root> [dev|release] | --scripts <site root>');
  process.exit(2);
}
const pkg = join(siteRoot, 'pkg');
const release = profile === 'release';
const files = { js: 'switchboard.js', wasm: 'switchboard_bg.wasm', css: 'switchboard.css' };

// Files of earlier builds go: only the current client is served.
for (const name of readdirSync(pkg)) {
  if (/^switchboard\.[0-9a-f]{16}\./.test(name)) unlinkSync(join(pkg, name));
}
const lines = [];
for (const [kind, name] of Object.entries(files)) {
  const bytes = readFileSync(join(pkg, name));
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const named = `switchboard.${hash}.${kind}`;
  renameSync(join(pkg, name), join(pkg, named));
  compressBeside(join(pkg, named), bytes, release);
  lines.push(`${kind}: ${hash}`);
}
writeFileSync(join(siteRoot, 'hash.txt'), lines.join('\n') + '\n');
console.log(`client files named by content: ${lines.join(', ')}`);
