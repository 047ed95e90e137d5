// End-to-end test of the VS Code extension in a real VS Code (code-server) driven by
// Chromium through playwright-core; run by scripts/editor-test.sh, which starts
// code-server with the packaged .vsix installed. See shared notes editor-testing.md.
//
// Environment: MCPO_E2E_URL (code-server base URL), MCPO_E2E_WS (absolute workspace dir
// holding main.mcpo with one error), MCPO_E2E_MCPOC (the mcpoc the extension starts),
// MCPO_E2E_OUT (directory for screenshots), MCPO_E2E_PLAYWRIGHT (playwright-core's dir),
// MCPO_E2E_CS_PGID (code-server's process group, to find the language server process).
//
// It asserts: the language is registered, the TextMate grammar colours the text, the
// real `mcpoc lsp` runs, the error that `mcpoc check --format json` reports shows as a
// squiggle and as a Problems-panel row at the same line and column, and that both clear
// once the file is fixed in the editor and saved, and that the command "mcpo: Plan" runs
// `mcpoc plan` in a terminal. Then, on a second file checked against the twins' schemas
// (the workspace's .mcpo/schemas): the hover on a resource type shows its create tool's
// description and the attributes that force a replacement; completion after `aws.` in a
// value offers the declared types only, with details; the did-you-mean quick fix and the
// quick fix adding the missing required attributes edit the file.
// Screenshots: error.png, fixed.png, plan.png, hover.png, completion.png, quickfix.png.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (run scripts/editor-test.sh)`);
  }
  return value;
};
const url = env('MCPO_E2E_URL');
const ws = env('MCPO_E2E_WS');
const mcpoc = env('MCPO_E2E_MCPOC');
const out = env('MCPO_E2E_OUT');
const { chromium } = createRequire(join(env('MCPO_E2E_PLAYWRIGHT'), 'package.json'))('playwright-core');

let passed = 0;
let failed = 0;
async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}
function assert(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

// The expected diagnostic, from the CLI that shares the checker with the language server.
let expected;
try {
  execFileSync(mcpoc, ['check', '--format', 'json', '.'], { cwd: ws, encoding: 'utf8' });
  throw new Error(`mcpoc check found no error in ${ws}/main.mcpo; the test needs one`);
} catch (error) {
  if (error.stdout === undefined) {
    throw error;
  }
  expected = JSON.parse(error.stdout).diagnostics.find((d) => d.severity === 'error');
}
console.log(`expected: ${expected.code} "${expected.message}" at ${expected.line}:${expected.column}`);

/** Command lines of the processes in code-server's process group (Linux /proc). */
function groupCommands() {
  const pgid = process.env.MCPO_E2E_CS_PGID;
  const commands = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (pgid !== undefined && fields[2] !== pgid) {
        continue;
      }
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      commands.push({ pid, exe: readlinkSync(`/proc/${pid}/exe`), argv });
    } catch {
      // The process ended while we looked.
    }
  }
  return commands;
}

const browser = await chromium.launch({
  executablePath: process.env.MCPO_E2E_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  ],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
const consoleErrors = [];
page.on('console', (message) => {
  if (message.type() === 'error') {
    consoleErrors.push(message.text());
  }
});
const host = new URL(url).host;
const file = `${ws}/main.mcpo`;
const problemRow = page.locator('.markers-panel .monaco-list-row');
try {
  await step('workbench opens the workspace and main.mcpo', async () => {
    const payload = JSON.stringify([['openFile', `vscode-remote://${host}${file}`]]);
    await page.goto(`${url}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90000 });
    await page.waitForSelector('.editor-instance .monaco-editor .view-lines', { timeout: 60000 });
  });

  await step('the language is registered (status bar says MCPO)', async () => {
    await page.locator('[id="status.editor.mode"]', { hasText: 'MCPO' }).waitFor({ timeout: 30000 });
  });

  await step('the TextMate grammar colours the text', async () => {
    // Tokens get classes mtk1, mtk2, ...: one class means no grammar.
    await page.waitForFunction(() => {
      const classes = new Set();
      for (const span of document.querySelectorAll('.editor-instance .view-lines span[class^="mtk"]')) {
        classes.add(span.className);
      }
      return classes.size >= 3;
    }, undefined, { timeout: 30000 });
  });

  await step('the error shows as a squiggle', async () => {
    await page.waitForSelector('.editor-instance .monaco-editor .squiggly-error', { timeout: 90000 });
  });

  await step('the extension runs the real `mcpoc lsp`', async () => {
    // The setting names a link to the mcpoc that was built; it runs as `<path> lsp`.
    const real = realpathSync(mcpoc);
    const servers = groupCommands().filter((p) => p.argv[0] === mcpoc && p.argv[1] === 'lsp');
    assert(servers.length >= 1, `no process "${mcpoc} lsp" in code-server's process group`);
    assert(servers.every((p) => p.exe === real), `the server process is not ${real}`);
  });

  await step('the Problems panel lists it at its line and column', async () => {
    await page.keyboard.press('Control+Shift+M');
    const row = problemRow.filter({ hasText: expected.message }).first();
    await row.waitFor({ timeout: 30000 });
    const text = await row.innerText();
    assert(text.includes(`[Ln ${expected.line}, Col ${expected.column}]`),
      `row "${text}" is not at [Ln ${expected.line}, Col ${expected.column}]`);
    assert(text.includes(expected.code), `row "${text}" does not name the code ${expected.code}`);
    const label = await row.getAttribute('aria-label');
    assert(label !== null && label.startsWith(`Error: ${expected.message}`), `aria-label "${label}"`);
    const status = await page.locator('[id="status.problems"]').getAttribute('aria-label');
    assert(status !== null && status.includes('Errors: 1'), `status bar problems: "${status}"`);
    await page.screenshot({ path: join(out, 'error.png') });
  });

  await step('fixing the file in the editor clears the squiggle and the row', async () => {
    // The error is a dangling `+` at the end of its line: go there, delete it, save.
    await page.locator('.editor-instance .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+G');
    await page.keyboard.type(String(expected.line));
    await page.keyboard.press('Enter');
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Control+S');
    await page.waitForSelector('.editor-instance .monaco-editor .squiggly-error', { state: 'detached', timeout: 60000 });
    await problemRow.filter({ hasText: expected.message }).waitFor({ state: 'detached', timeout: 30000 });
    await page.waitForFunction(() => {
      const label = document.querySelector('[id="status.problems"]')?.getAttribute('aria-label') ?? '';
      return !label.includes('Errors: 1');
    }, undefined, { timeout: 30000 });
    // The save may land after the diagnostics clear (they follow the edit, not the save).
    const savedLine = () => readFileSync(file, 'utf8').split('\n')[expected.line - 1] ?? '';
    for (let i = 0; i < 300 && savedLine().trimEnd().endsWith('+'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const line = savedLine();
    assert(!line.trimEnd().endsWith('+'), `the saved line ${expected.line} still ends with +: "${line}"`);
    await page.screenshot({ path: join(out, 'fixed.png') });
  });

  await step('the command "mcpo: Plan" runs `mcpoc plan` in a terminal', async () => {
    // The fixed workspace has no resources; its plan shows the output's value.
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill('>mcpo: Plan');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'mcpo: Plan' }).first().waitFor({ timeout: 30000 });
    await page.keyboard.press('Enter');
    await page.locator('.terminal-wrapper .xterm-rows', { hasText: /app\s*=\s*"store-3"/ }).waitFor({ timeout: 60000 });
    await page.screenshot({ path: join(out, 'plan.png') });
  });

  // A second file, written while the editor runs (the server follows it through the
  // file watcher): a typo, a block missing required attributes, and an output.
  const app = `${ws}/app.mcpo`;
  writeFileSync(app, [
    'resource "aws.vpc" "main" {',
    '  cidr_blok = "10.0.0.0/16"',
    '}',
    '',
    'resource "aws.vpc_subnet" "web" {',
    '  vpc_id = aws.vpc.main.id',
    '}',
    '',
    'output "vpc" {',
    '  value = aws.vpc.main.id',
    '}',
    '',
  ].join('\n'));
  const editorText = () => page.locator('.editor-instance .monaco-editor .view-lines').first().innerText();
  const goTo = async (line, column) => {
    await page.keyboard.press('Control+G');
    await page.keyboard.type(`${line}:${column}`);
    await page.keyboard.press('Enter');
  };
  const action = (title) => page.locator('.action-widget .monaco-list-row, .context-view .monaco-list-row', { hasText: title }).first();
  // Opens the quick-fix menu at the cursor and picks `title`; the menu is asked for again
  // while the server is still re-checking after the previous edit.
  const quickFix = async (title) => {
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+.');
      try {
        await action(title).waitFor({ timeout: 5000 });
        break;
      } catch (error) {
        if (attempt >= 5) {
          throw error;
        }
        await page.keyboard.press('Escape');
      }
    }
    await action(title).click();
  };

  await step('a second file opens and gets its diagnostics', async () => {
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('app.mcpo');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'app.mcpo' }).first().waitFor({ timeout: 30000 });
    await page.keyboard.press('Enter');
    await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: 'cidr_blok' }).waitFor({ timeout: 30000 });
    await page.waitForSelector('.editor-instance .monaco-editor .squiggly-error', { timeout: 60000 });
  });

  await step('hover on a resource type: its tool description and the attributes forcing a replacement', async () => {
    const token = page.locator('.editor-instance .view-lines span span', { hasText: 'vpc_subnet' }).first();
    await token.hover();
    const hover = page.locator('.monaco-hover', { hasText: 'resource type' }).first();
    await hover.waitFor({ timeout: 30000 });
    const text = await hover.innerText();
    assert(text.includes('Create a subnet of an AWS VPC'), `hover without the tool's description: "${text}"`);
    assert(text.includes('forces replacement'), `hover without the force-new attributes: "${text}"`);
    await page.screenshot({ path: join(out, 'hover.png') });
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
  });

  await step('completion after `aws.` in a value offers the declared types, with details', async () => {
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await goTo(10, 1);
    await page.keyboard.press('End');
    for (let i = 0; i < 11; i++) {
      await page.keyboard.press('Backspace');
    }
    // The line now ends in `aws.`; on a loaded machine the first request can come before
    // the editor has the edit, so the list is asked for again until it shows.
    await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: /value\s+=\s+aws\.\s*\}/ }).first().waitFor({ timeout: 30000 });
    const rows = page.locator('.suggest-widget .monaco-list-row');
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+Space');
      try {
        await rows.filter({ hasText: 'vpc_subnet' }).first().waitFor({ timeout: 5000 });
        break;
      } catch (error) {
        if (attempt >= 5) {
          throw error;
        }
        await page.keyboard.press('Escape');
      }
    }
    const labels = await rows.allInnerTexts();
    assert(labels.some((l) => /^vpc\b/.test(l.trim())), `no vpc in ${JSON.stringify(labels)}`);
    assert(!labels.some((l) => l.includes('ec2_instance')), `an undeclared type is offered: ${JSON.stringify(labels)}`);
    const details = await page.locator('.suggest-widget').innerText();
    assert(details.includes('declared'), `no detail in the completion list: "${details}"`);
    await page.screenshot({ path: join(out, 'completion.png') });
    await page.keyboard.press('Escape');
    await page.keyboard.type('vpc.main.id');
  });

  await step('the did-you-mean quick fix renames the attribute', async () => {
    await goTo(2, 5);
    await quickFix('replace with `cidr_block`');
    await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: 'cidr_block = "10.0.0.0/16"' }).waitFor({ timeout: 30000 });
  });

  await step('the quick fix adds the missing required attributes with typed placeholders', async () => {
    await goTo(5, 14);
    await quickFix('add missing required attributes');
    await page.waitForFunction(() => {
      const text = document.querySelector('.editor-instance .monaco-editor .view-lines')?.textContent ?? '';
      return text.includes('availability_zone') && text.includes('us-east-1a');
    }, undefined, { timeout: 30000 });
    const text = await editorText();
    assert(/cidr_block\s+=\s+""/.test(text), `no cidr_block placeholder in: "${text}"`);
    await page.screenshot({ path: join(out, 'quickfix.png') });
  });
} catch {
  await page.screenshot({ path: join(out, 'failure.png') }).catch(() => {});
  if (consoleErrors.length > 0) {
    console.log(`browser console errors:\n  ${consoleErrors.slice(-10).join('\n  ')}`);
  }
} finally {
  await browser.close();
}
console.log(`editor-e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
