/**
 * Every CLI command the README and docs/ show parses as written: a fenced block never calls a bare
 * `vitals` (not on PATH after `npm ci`: it is `npx vitals`), role commands' flags and values are
 * valid for that role (the checks `vitals <role>` runs before starting), tools exist. The README's
 * blocks are also run for real (test/e2e/readme.e2e.test.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROLE_COMMANDS, TOOLS } from '../cli/main.js';
import { parseRoleArgs } from '../cli/commands/run-role.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Shell words of a command up to the first redirection, pipe, list operator or comment. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  for (const m of command.matchAll(/'([^']*)'|"([^"]*)"|([^\s'"]+)/g)) {
    const w = m[1] ?? m[2] ?? m[3] ?? '';
    if (m[3] !== undefined && /^(\||<|>|&&|;|#|\)|2>)/.test(w)) break;
    words.push(w);
  }
  return words;
}

/** `npx vitals …` and `npm start -- …` invocations in a page: in fenced blocks and in inline code. */
function invocations(markdown: string): string[] {
  const found: string[] = [];
  for (const m of markdown.matchAll(/npx vitals [^`\n]*|npm start -- [^`\n]*/g)) found.push(m[0]);
  return found;
}

/** Lines of fenced blocks that run a bare `vitals`. */
function bareCalls(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (fenced && /(^|[|;&(]\s*|\$\()vitals\s/.test(line)) out.push(line);
  }
  return out;
}

async function problems(invocation: string): Promise<string[]> {
  const words = shellWords(invocation);
  const [, , cmd, ...args] = words[0] === 'npm' ? ['npx', 'vitals', 'start', ...words.slice(3)] : words;
  if (!cmd) return ['no command'];
  const role = ROLE_COMMANDS[cmd];
  if (role && !(cmd === 'sim' && args[0] === 'score') && !(cmd === 'rules' && args[0] === 'replay')) {
    const r = await parseRoleArgs(role, args, {}, false);
    return r.help || r.config ? [] : r.errors;
  }
  return role || Object.hasOwn(TOOLS, cmd) || cmd.startsWith('-') ? [] : [`unknown command ${cmd}`];
}

describe('commands shown in the docs', () => {
  it('shellWords stops at pipes and redirections and unquotes', () => {
    expect(shellWords(`npx vitals sim --scenario 'a b.yaml' --truth x.jsonl > out # c`)).toEqual(['npx', 'vitals', 'sim', '--scenario', 'a b.yaml', '--truth', 'x.jsonl']);
  });
  it('the check catches the mistakes once made: `start -- --scenario`, a bare vitals, a flag of another role', async () => {
    expect(await problems('npx vitals start -- --scenario sepsis')).toEqual(['unexpected argument --scenario sepsis']);
    expect(bareCalls('```sh\nvitals start\necho x | vitals news2\n```\nvitals in prose')).toEqual(['vitals start', 'echo x | vitals news2']);
    expect(await problems('npx vitals sim --oidc-issuer https://x')).toContain('flag --oidc-issuer is not read by this role (it configures gateway)');
    expect(await problems('npx vitals sim --scenario nosuch')).toEqual([expect.stringMatching(/unknown scenario "nosuch"/)]);
  });
  it('README.md and docs/*.md: no bare vitals in a command block; every npx vitals / npm start -- command parses', async () => {
    const pages = ['README.md', ...(await readdir(path.join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const found: string[] = [];
    let checked = 0;
    for (const page of pages) {
      const text = await readFile(path.join(ROOT, page), 'utf8');
      for (const line of bareCalls(text)) found.push(`${page}: bare vitals: ${line}`);
      for (const inv of invocations(text)) {
        checked++;
        for (const p of await problems(inv)) found.push(`${page}: ${inv}: ${p}`);
      }
    }
    expect(found).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});
