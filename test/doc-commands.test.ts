import { describe, expect, it } from 'vitest';
import { bashBlocks, commandKind, commandsOf } from './doc-commands.js';

const PAGE = [
  '# Title',
  '## Run it',
  '```bash',
  'npm ci && npm start',
  '```',
  '```js',
  'not.shell()',
  '```',
  '## Device',
  '```bash',
  '# a comment',
  'A=1 B=2',
  "curl -s x -H 'a: b' \\",
  "  -d '{\"x\":1}' | jq -r .token   # trailing comment",
  '',
  '```',
].join('\n');

describe('doc command extraction', () => {
  it('takes bash blocks only, with their heading', () => {
    const b = bashBlocks(PAGE);
    expect(b.map((x) => x.heading)).toEqual(['Run it', 'Device']);
    expect(b[0]?.commands).toEqual(['npm ci', 'npm start']);
  });
  it('joins continuation lines and drops comments and blanks', () => {
    expect(bashBlocks(PAGE)[1]?.commands).toEqual(['A=1 B=2', `curl -s x -H 'a: b' -d '{"x":1}' | jq -r .token`]);
  });
  it('does not split && inside quoted or piped commands', () => {
    expect(commandsOf(`bash -c 'a && b'`)).toEqual([`bash -c 'a && b'`]);
  });
  it('classifies CI steps, the server and client commands', () => {
    expect(['npm ci', 'npm test', 'npm start', 'npm start -- --scenario hypoxia', 'npx vitals token --role admin', 'npm run test'].map(commandKind)).toEqual([
      'ci-step',
      'ci-step',
      'server',
      'server',
      'client',
      'client',
    ]);
  });
});
