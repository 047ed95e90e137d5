// The mcpo extension: starts the real language server (`mcpoc lsp`, found on PATH or set by
// `mcpo.server.path`) over stdio, and runs `mcpoc plan` in a terminal on request.
// Highlighting, brackets, comments and snippets are declared in package.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('mcpo Language Server', { log: true });
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('mcpo.plan', () => runPlan()),
    vscode.commands.registerCommand('mcpo.restartServer', async () => {
      await stopClient();
      await startClient();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('mcpo.server')) {
        await stopClient();
        await startClient();
      }
    }),
  );
  await startClient();
}

// VS Code awaits deactivate(), which stops the server (it exits on `shutdown`/`exit`).
export async function deactivate(): Promise<void> {
  await stopClient();
}

/** The configured `mcpoc`: the `mcpo.server.path` setting, or `mcpoc` on PATH. */
function configuredServer(): { command: string; extraArgs: string[] } {
  const config = vscode.workspace.getConfiguration('mcpo');
  let command = (config.get<string>('server.path') ?? '').trim();
  if (command === '') {
    command = 'mcpoc';
  } else if (command.startsWith('~/')) {
    command = path.join(process.env.HOME ?? '', command.slice(2));
  } else if (!path.isAbsolute(command) && command.includes(path.sep)) {
    // A relative path with a directory is taken relative to the first workspace folder.
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (folder !== undefined) {
      command = path.join(folder.uri.fsPath, command);
    }
  }
  const extraArgs = config.get<string[]>('server.extraArgs') ?? [];
  return { command, extraArgs };
}

/** Where `command` resolves to (an absolute path), or undefined if it does not exist. */
function resolveExecutable(command: string): string | undefined {
  const isExecutable = (file: string): boolean => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/') || command.includes('\\')) {
    return isExecutable(command) ? command : undefined;
  }
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, command + ext);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

async function startClient(): Promise<void> {
  const { command, extraArgs } = configuredServer();
  const executable = resolveExecutable(command);
  if (executable === undefined) {
    const message =
      `mcpo: cannot start the language server: \`${command}\` was not found ` +
      `(looked ${command.includes('/') ? 'at that path' : 'on PATH'}). ` +
      'Install mcpoc or set "mcpo.server.path" to the mcpoc executable.';
    output?.error(message);
    output?.info(`PATH of the extension host: ${process.env.PATH ?? ''}`);
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'mcpo.server.path');
    }
    return;
  }
  const args = ['lsp', ...extraArgs];
  output?.info(`starting ${executable} ${args.join(' ')}`);
  // No `transport`: with TransportKind.stdio the client would append `--stdio` to the
  // arguments, which `mcpoc lsp` does not take; stdio is what it speaks anyway.
  const server = { command: executable, args };
  const serverOptions: ServerOptions = { run: server, debug: server };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'mcpo' }],
    synchronize: {
      // Pulled schemas and the workspace manifest change what is valid.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{*.mcpo,mcpo.toml,.mcpo/schemas/**}'),
    },
    outputChannel: output,
    // Diagnostic codes link to their section of the book when its address is set.
    initializationOptions: {
      bookUrl: vscode.workspace.getConfiguration('mcpo').get<string>('bookUrl', ''),
    },
  };
  client = new LanguageClient('mcpo', 'mcpo Language Server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    const message = `mcpo: the language server \`${executable} lsp\` failed to start: ${String(error)}`;
    output?.error(message);
    void vscode.window.showErrorMessage(message);
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined && running.state !== State.Stopped) {
    try {
      await running.stop();
    } catch (error) {
      output?.info(`stopping the language server: ${String(error)}`);
    }
  }
}

/** Quotes `word` for a POSIX shell or PowerShell/cmd (the terminal's shell). */
function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@+-]+$/.test(word)) {
    return word;
  }
  return process.platform === 'win32' ? `"${word.replace(/"/g, '""')}"` : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs `mcpoc plan` in a terminal, in the workspace folder of the active file. */
function runPlan(): void {
  const activeUri = vscode.window.activeTextEditor?.document.uri;
  const folder =
    (activeUri !== undefined ? vscode.workspace.getWorkspaceFolder(activeUri) : undefined) ??
    vscode.workspace.workspaceFolders?.[0];
  if (folder === undefined) {
    void vscode.window.showErrorMessage('mcpo: open a folder with .mcpo files to plan it.');
    return;
  }
  const { command } = configuredServer();
  const terminal = vscode.window.createTerminal({ name: 'mcpo plan', cwd: folder.uri.fsPath });
  terminal.show();
  terminal.sendText(`${shellQuote(command)} plan`);
}
