// Human CLI output is the examiner's terminal (issue 15 review): a case title, an evidence file name or
// anything else that is someone's text reached it raw, so "\e]0;…\a" retitled the window, "\e[2J"
// cleared the screen and "\e[8m" could hide what follows. Control and invisible characters are now
// shown escaped in every human line: results, progress and errors. --json is unchanged (JSON escapes).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commands } from '../../../main/cli/commands/case.ts';
import { execute, type Command } from '../../../main/cli/framework.ts';
import { tempDir } from './helpers.ts';

const TITLE = 'Case \u001b]0;pwned\u0007\u001b[2J\u001b[8mhidden\u202eevil';
const SHOWN = 'Case \\u{1B}]0;pwned\\u{7}\\u{1B}[2J\\u{1B}[8mhidden\\u{202E}evil';
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let t: ReturnType<typeof tempDir>;
let dbPath: string;
beforeEach(() => { t = tempDir(); dbPath = join(t.dir, 'cases.sqlite'); });
afterEach(() => t.cleanup());

async function run(name: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = commands.find((c) => c.name === name) as Command;
  let stdout = '';
  let stderr = '';
  const out = { write: (s: string) => { stdout += s; return true; } };
  const err = { write: (s: string) => { stderr += s; return true; } };
  const code = await execute(command, [...argv, '--db', dbPath], out, err);
  return { code, stdout, stderr };
}

describe('terminal escapes in human output', () => {
  it('a hostile title and file name are shown escaped by create, list, show, add-evidence (result and progress) and in errors', async () => {
    const created = await run('case create', ['--title', TITLE, '--examiner', 'E']);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(SHOWN);
    const id = /^case (\S+) created/.exec(created.stdout)![1];

    const file = join(t.dir, 'evil\u001b[2J.safetensors');
    writeFileSync(file, 'not an adapter');
    const added = await run('case add-evidence', [id, file]);
    const listed = await run('case list', []);
    const shown = await run('case show', [id]);
    const missing = await run('case show', [`nope\u001b[2J`]);
    for (const r of [created, added, listed, shown, missing]) {
      expect(r.stdout).not.toMatch(UNSAFE);
      expect(r.stderr).not.toMatch(UNSAFE);
    }
    expect(listed.stdout).toContain(SHOWN);
    expect(shown.stdout).toContain(SHOWN);
    expect(added.stderr + added.stdout).toContain('evil\\u{1B}[2J.safetensors');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('nope\\u{1B}[2J');
  });

  it('--json keeps the text as it is (JSON escapes it)', async () => {
    const created = await run('case create', ['--title', TITLE, '--examiner', 'E', '--json']);
    expect(JSON.parse(created.stdout).title).toBe(TITLE);
    expect(created.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
  });
});
