#!/usr/bin/env node
// The documentation's runnable examples and its internal links, for test/doc-snippets.test.ts.
//
// Every fenced block marked ```js or ```ts in README.md and docs/*.md is an example that runs. A block that
// cannot run on its own is marked with another language (```text, ```sh) or, for a rare js/ts fragment, starts
// with the line `// doc-snippets: skip <why>`. Every relative link ([text](path) or [text](path#heading)) must
// name a file of this repository and, with a #heading, a heading of that file (GitHub's anchor spelling).
//
// `node scripts/doc-snippets.mjs` lists the blocks (file:line language [skip]) and the broken links, and exits 1
// when a link is broken.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const SKIP = /^\s*\/\/\s*doc-snippets:\s*skip\b\s*(.*)$/;

/** README.md and docs/*.md, as paths relative to the repository root. */
export function docFiles() {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter(f => f.endsWith('.md')).sort() : [];
  return ['README.md', ...docs.map(f => `docs/${f}`)];
}

/** The fenced blocks of one file: { file, line (of the opening fence, 1-based), lang, code, skip (reason or null) }. */
export function blocks(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2], start = i, body = [];
    for (i++; i < lines.length && !lines[i].trimStart().startsWith(fence); i++) body.push(lines[i]);
    const code = body.join('\n');
    const skip = body.length > 0 && SKIP.exec(body[0]);
    out.push({ file, line: start + 1, lang: open[3].toLowerCase(), code, skip: skip ? (skip[1] || 'no reason given') : null });
  }
  return out;
}

/** The blocks that run: ```js and ```ts ones, with their skip marker read. */
export function snippets() {
  return docFiles().flatMap(blocks).filter(b => b.lang === 'js' || b.lang === 'ts' || b.lang === 'javascript' || b.lang === 'typescript');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function anchor(heading) {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function headings(file) {
  const seen = new Map(), out = new Set();
  let inFence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const h = !inFence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const a = anchor(h[1]), n = seen.get(a) ?? 0;
    seen.set(a, n + 1);
    out.add(n === 0 ? a : `${a}-${n}`);
  }
  return out;
}

/** Each broken relative link: { file, line, target, why }. */
export function brokenLinks() {
  const out = [];
  for (const file of docFiles()) {
    let inFence = false;
    readFileSync(join(root, file), 'utf8').split('\n').forEach((text, i) => {
      if (/^\s*(`{3,}|~{3,})/.test(text)) inFence = !inFence;
      if (inFence) return;
      const code = text.replace(/`[^`]*`/g, '');
      for (const m of code.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ... not checked (no network)
        const [path, hash] = target.split('#');
        const abs = path ? resolve(dirname(join(root, file)), decodeURIComponent(path)) : join(root, file);
        const where = { file, line: i + 1, target };
        if (!abs.startsWith(root)) out.push({ ...where, why: 'points outside the repository' });
        else if (!existsSync(abs)) out.push({ ...where, why: `no file ${relative(root, abs)}` });
        else if (hash && abs.endsWith('.md') && !headings(abs).has(hash)) out.push({ ...where, why: `no heading #${hash} in ${relative(root, abs)}` });
      }
    });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const s of snippets()) console.log(`${s.file}:${s.line} ${s.lang}${s.skip ? ` skip: ${s.skip}` : ''}`);
  const broken = brokenLinks();
  for (const b of broken) console.log(`${b.file}:${b.line} broken link ${b.target}: ${b.why}`);
  process.exitCode = broken.length ? 1 : 0;
}
