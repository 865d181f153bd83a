// Builds the services every host shares: the case database, the feature engine (calibrated once,
// on first use), the job registry and the handler table. Hosts pass in only what differs between
// them: where data lives, how PDFs are printed, and how native dialogs are shown.
import { join } from 'node:path';
import type { Req } from '../api/contract.ts';
import type { Database } from '../db/database.ts';
import { openDatabase } from './database.ts';
import { appVersion } from '../cases/version.ts';
import { createFeatureEngine } from '../../native/engine.ts';
import { useBaseModelFolder } from '../intake/base-models.ts';
import type { FeatureEngine } from '../../native/types.ts';
import type { PdfRenderer } from '../reports/render.ts';
import { createHandlers } from './handlers.ts';
import { JobRegistry } from './jobs.ts';
import type { HandlerTable } from './dispatch.ts';

export interface ServiceOptions {
  host: 'electron' | 'headless';
  dataDir: string;
  /** Defaults to <dataDir>/cases.sqlite. */
  dbPath?: string;
  appVersion?: string;
  /** Electron passes printToPDF; the headless host passes a launcher for Chromium, started on the
   *  first report and kept for the next. */
  renderPdf?: PdfRenderer | { start(): Promise<{ render: PdfRenderer; close(): Promise<void> }> };
  openFiles(req: Req<'dialog.openFiles'>): Promise<string[]>;
  saveFile(req: Req<'dialog.saveFile'>): Promise<string | null>;
}

export interface Services {
  db: Database;
  dbPath: string;
  dataDir: string;
  jobs: JobRegistry;
  handlers: HandlerTable;
  engine(): Promise<FeatureEngine>;
  renderer(): Promise<PdfRenderer>;
  close(): Promise<void>;
}

export async function createServices(options: ServiceOptions): Promise<Services> {
  const dbPath = options.dbPath ?? join(options.dataDir, 'cases.sqlite');
  const db = await openDatabase(dbPath);
  const jobs = new JobRegistry();
  // Evidence inspected by this host names base models from the shipped table plus <dataDir>/base-models.json.
  useBaseModelFolder(options.dataDir);

  let enginePromise: Promise<FeatureEngine> | null = null;
  // auto's calibration verdict is kept in the data folder, so a host starts without recalibrating
  const calibrationCache = { dir: options.dataDir, appVersion: options.appVersion ?? appVersion() };
  const engine = () => (enginePromise ??= createFeatureEngine({ backend: 'auto', calibrationCache }));

  let rendererPromise: Promise<{ render: PdfRenderer; close(): Promise<void> }> | null = null;
  const renderer = async (): Promise<PdfRenderer> => {
    // absent: Playwright's Chromium, started on the first report and kept for the next (the headless
    // host, the CLI); the Electron shell passes its own printToPDF
    const given = options.renderPdf ?? { start: async () => (await import('../reports/render.ts')).chromiumRenderer() };
    if (typeof given === 'function') return given;
    rendererPromise ??= given.start();
    return (await rendererPromise).render;
  };

  const services: Services = {
    db, dbPath, dataDir: options.dataDir, jobs, engine, renderer,
    handlers: undefined as unknown as HandlerTable,
    async close() {
      if (rendererPromise) await (await rendererPromise).close().catch(() => undefined);
      if (enginePromise) (await enginePromise).dispose();
      await db.close();
    },
  };
  services.handlers = createHandlers(services, options);
  return services;
}
