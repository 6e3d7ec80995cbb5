// Copies the carrier calling SDKs listed in scripts/vendor-sdks.json into <site>/vendor/:
// each package's tarball from the npm registry (kept in <cache>, checked against its pinned
// integrity before use), one file taken out of it. No npm needed, nothing from a CDN.
//   node scripts/vendor-sdks.mjs <site root> <cache dir>
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [site, cache] = process.argv.slice(2);
if (!site || !cache) {
  console.error('usage: vendor-sdks.mjs <site root> <cache dir>');
  process.exit(2);
}
const { sdks } = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'vendor-sdks.json'), 'utf8'));
const registry = (process.env.npm_config_registry || 'https://registry.npmjs.org').replace(/\/$/, '');

const matches = (bytes, integrity) => {
  const [algorithm, digest] = integrity.split('-', 2);
  return createHash(algorithm).update(bytes).digest('base64') === digest;
};

mkdirSync(cache, { recursive: true });
rmSync(join(site, 'vendor'), { recursive: true, force: true });
mkdirSync(join(site, 'vendor'), { recursive: true });
for (const sdk of sdks) {
  const name = sdk.package.split('/').pop();
  const tarball = join(cache, `${name}-${sdk.version}.tgz`);
  if (!existsSync(tarball) || !matches(readFileSync(tarball), sdk.integrity)) {
    const url = `${registry}/${sdk.package}/-/${name}-${sdk.version}.tgz`;
    console.log(`    fetching ${sdk.package}@${sdk.version} (${url})`);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (!matches(bytes, sdk.integrity)) throw new Error(`${url}: not the pinned package (integrity differs)`);
    writeFileSync(tarball, bytes);
  }
  const file = execFileSync('tar', ['-xzOf', tarball, `package/${sdk.file}`], { maxBuffer: 16 * 1024 * 1024 });
  writeFileSync(join(site, 'vendor', sdk.as), file);
}
console.log(`    calling SDKs in ${join(site, 'vendor')}: ${sdks.map((s) => s.as).join(', ')}`);
