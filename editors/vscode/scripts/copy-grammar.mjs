// Copies the one TextMate grammar and language configuration (in ../../grammar, shared
// with the book and other editors) into the extension before it is compiled or packaged,
// so that the repository keeps a single source of both.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ext = join(dirname(fileURLToPath(import.meta.url)), '..');
const grammar = join(ext, '..', '..', 'grammar');
mkdirSync(join(ext, 'syntaxes'), { recursive: true });
copyFileSync(join(grammar, 'mcpo.tmLanguage.json'), join(ext, 'syntaxes', 'mcpo.tmLanguage.json'));
copyFileSync(join(grammar, 'language-configuration.json'), join(ext, 'language-configuration.json'));
