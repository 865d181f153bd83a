// Starts the headless host: `node main/host/start.ts [--data-dir DIR] [--port N]`. Prints one JSON
// line {url, origin, token} on stdout when ready, so a test (or a person) knows where to point a
// browser. Stops on SIGTERM/SIGINT.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServices } from '../services/create.ts';
import { startHost } from './server.ts';
import { hostDialogs } from './dialogs.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, port: { type: 'string' } } });
const dataDir = values['data-dir'] ?? process.env.LORA_AUDIT_HOME ?? mkdtempSync(join(tmpdir(), 'lora-audit-host-'));
const dialogs = hostDialogs(process.env.LORA_AUDIT_HOST_DIALOG_FILE);

const services = await createServices({
  host: 'headless',
  dataDir,
  openFiles: dialogs.openFiles,
  saveFile: dialogs.saveFile,
});
const host = await startHost({
  rendererDir: join(root, 'renderer', 'dist'),
  handlers: services.handlers,
  jobs: services.jobs,
  stagingDir: join(dataDir, 'staging'),
  port: values.port ? Number(values.port) : 0,
});
process.stdout.write(JSON.stringify({ url: host.url, origin: host.origin, token: host.token, dataDir }) + '\n');

const stop = async () => {
  await host.close();
  await services.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
