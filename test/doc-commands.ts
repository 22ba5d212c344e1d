/**
 * The shell commands a Markdown page shows, as the README smoke test and the docs command check
 * run them: fenced ```bash blocks, continuation lines joined, comments and blank lines dropped.
 */

export interface DocBlock {
  /** The nearest `##` heading above the block. */
  heading: string;
  /** One entry per command line; `a && b` on plain words is split into its commands. */
  commands: string[];
  /** The block's text as written (for running it whole in bash). */
  text: string;
}

export function bashBlocks(markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  let heading = '';
  let inBlock: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (inBlock === null) {
      if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
      else if (/^```(bash|sh|shell)\s*$/.test(line)) inBlock = [];
      continue;
    }
    if (line.startsWith('```')) {
      const text = inBlock.join('\n');
      blocks.push({ heading, commands: commandsOf(text), text });
      inBlock = null;
    } else inBlock.push(line);
  }
  return blocks;
}

/** Commands of a block: `\`-continued lines joined; a line of plain words joined by && split. */
export function commandsOf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/\s*\\\n\s*/g, ' ').split('\n')) {
    const line = raw.replace(/\s+#[^'"]*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    if (/^[\w\s./=-]+(&&[\w\s./=-]+)+$/.test(line)) out.push(...line.split('&&').map((c) => c.trim()));
    else out.push(line);
  }
  return out;
}

/** How the README smoke test treats a command. */
export type CommandKind =
  /** `npm ci`, `npm test`: the CI steps themselves (.ci/run runs them on a fresh clone; the test runs inside `npm test`). */
  | 'ci-step'
  /** `npm start …`: started once, on free ports, and left running for the other commands. */
  | 'server'
  /** Anything else: run in bash against the started server. */
  | 'client';

export function commandKind(command: string): CommandKind {
  if (/^npm ci(\s|$)/.test(command) || command === 'npm test') return 'ci-step';
  if (/^npm start(\s|$)/.test(command)) return 'server';
  return 'client';
}
