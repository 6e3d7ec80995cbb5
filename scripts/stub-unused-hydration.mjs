#!/usr/bin/env node
// Replaces the body of every hydration function the client can never call with a trap, so
// that wasm-opt can drop the code only they reach (~17 KB of the compressed WASM).
//
// Why it is safe:
// - `hydrate_async`: the client hydrates with `leptos::mount::hydrate_body`, which walks the
//   page synchronously (`RenderHtml::hydrate`); `hydrate_async` is only reached from
//   leptos's async mount functions (lazy routes, `hydrate_lazy`), which this app never calls.
// - `hydrate_from_template`: hydrates an erased attribute inside a `ViewTemplate` (the
//   `template!` macro), which this app never uses.
// The functions stay in the WASM only because every erased view and attribute (`AnyView`,
// `AnyAttribute`: one per component and attribute type with `erase_components`) stores
// pointers to them. Every build, dev included, goes through this step, so the end-to-end
// tests run the stubbed client: a call into a stub would trap and fail them.
//
// Usage: node scripts/stub-unused-hydration.mjs <in.wasm> <out.wasm>
// Reads function names from the WASM's `name` section (wasm-bindgen keeps it; wasm-opt
// strips it afterwards).
import { readFileSync, writeFileSync } from "node:fs";

// Each must match at least one function: if a leptos upgrade renames one, the build stops
// here (rather than quietly shipping the ~17 KB again, or stubbing something else).
const STUBS = ["hydrate_async", "hydrate_from_template"];
const STUB = new RegExp(STUBS.join("|"));
// In release builds LLVM merges functions whose code is identical, and the name section
// keeps one name for the merged body: a small `hydrate_async` instance can share its body
// with a function the client does call (stubbing it all stubs made the release client trap
// at start). Only bodies this large are stubbed; they are the async hydration state
// machines, unlike anything else, and nearly all of the bytes (62 of 74 KB).
const MIN_ASYNC_BODY = 300;

function readLeb(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

function leb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}

function sectionsOf(bytes) {
  const sections = [];
  for (let at = 8; at < bytes.length; ) {
    const id = bytes[at];
    const [size, start] = readLeb(bytes, at + 1);
    sections.push({ id, start, end: start + size });
    at = start + size;
  }
  return sections;
}

function importedFunctions(bytes, { start }) {
  let [count, at] = readLeb(bytes, start), functions = 0, n;
  for (let i = 0; i < count; i++) {
    for (let name = 0; name < 2; name++) [n, at] = readLeb(bytes, at), (at += n);
    const kind = bytes[at++];
    if (kind === 0) [, at] = readLeb(bytes, at), functions++;
    else if (kind === 1 || kind === 2) {
      if (kind === 1) at++; // element type
      let flags;
      [flags, at] = readLeb(bytes, at);
      [, at] = readLeb(bytes, at);
      if (flags & 1) [, at] = readLeb(bytes, at);
    } else if (kind === 3) at += 2;
    else if (kind === 4) at++, ([, at] = readLeb(bytes, at));
    else throw new Error(`unknown import kind ${kind}`);
  }
  return functions;
}

function functionNames(bytes, sections) {
  const names = new Map();
  for (const { id, start, end } of sections) {
    if (id !== 0) continue;
    let [length, at] = readLeb(bytes, start);
    if (bytes.toString("utf8", at, at + length) !== "name") continue;
    at += length;
    while (at < end) {
      const sub = bytes[at];
      const [size, body] = readLeb(bytes, at + 1);
      if (sub === 1) {
        let [count, p] = readLeb(bytes, body), index, len;
        for (let i = 0; i < count; i++) {
          [index, p] = readLeb(bytes, p);
          [len, p] = readLeb(bytes, p);
          names.set(index, bytes.toString("utf8", p, p + len));
          p += len;
        }
      }
      at = body + size;
    }
  }
  return names;
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: stub-unused-hydration.mjs <in.wasm> <out.wasm>");
  process.exit(2);
}
const bytes = readFileSync(input);
const sections = sectionsOf(bytes);
const imports = sections.find((s) => s.id === 2);
const firstBody = imports ? importedFunctions(bytes, imports) : 0;
const names = functionNames(bytes, sections);
if (names.size === 0) {
  console.error(`${input} has no function names: build it without stripping symbols`);
  process.exit(1);
}

const TRAP = Buffer.from([0x03, 0x00, 0x00, 0x0b]); // size 3: no locals, unreachable, end
const parts = [bytes.subarray(0, 8)];
let stubbed = 0, dropped = 0;
const found = new Set();
for (const { id, start, end } of sections) {
  let body = bytes.subarray(start, end);
  if (id === 10) {
    let [count, at] = readLeb(bytes, start), size, next;
    const code = [leb(count)];
    for (let f = 0; f < count; f++) {
      [size, next] = readLeb(bytes, at);
      const name = names.get(firstBody + f) ?? "";
      for (const wanted of STUBS) if (name.includes(wanted)) found.add(wanted);
      if (STUB.test(name) && (name.includes("hydrate_from_template") || size >= MIN_ASYNC_BODY)) {
        code.push(TRAP);
        stubbed++;
        dropped += size;
      } else {
        code.push(bytes.subarray(at, next + size));
      }
      at = next + size;
    }
    body = Buffer.concat(code);
  }
  parts.push(Buffer.from([id]), leb(body.length), body);
}
const missing = STUBS.filter((wanted) => !found.has(wanted));
if (missing.length) {
  console.error(`${input}: no function named like ${missing.join(", ")} to stub. Has leptos renamed ` +
    `its hydration functions? Check what the client calls and update STUBS in ${process.argv[1]}.`);
  process.exit(1);
}
writeFileSync(output, Buffer.concat(parts));
console.log(`    stubbed ${stubbed} unreachable hydration functions (${dropped} bytes of code)`);
