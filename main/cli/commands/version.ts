// lora-audit version [--json]: what is running — the app, the method, the runtime — and the compute
// backend this machine's cached calibration chose (nothing is calibrated or probed to answer).
import { appVersion } from '../../cases/version.ts';
import { DSIRE_VERSION } from '../../dsire/analyze.ts';
import { cachedCalibration } from '../../../native/engine.ts';
import { usageError, type Command } from '../framework.ts';

export interface VersionInfo {
  version: string;
  methodVersion: string;
  node: string;
  electron?: string;
  /** The cached auto verdict (as calibrated, not rechecked), or "not calibrated". */
  backend: { name: string; reason: string; calibratedAt: string } | 'not calibrated';
}

export const command: Command<VersionInfo> = {
  name: 'version',
  summary: 'Versions of the app, the DSiRe method and the runtime, and the feature backend cached for this machine.',
  usage: 'version [--json]',
  options: {},
  async run(_ctx, _values, positionals) {
    if (positionals.length > 0) throw usageError(`version takes no arguments, not "${positionals[0]}"`);
    const cached = cachedCalibration();
    const info: VersionInfo = { version: appVersion(), methodVersion: DSIRE_VERSION, node: process.versions.node, backend: 'not calibrated' };
    if (process.versions.electron) info.electron = process.versions.electron;
    info.backend = cached ? { name: cached.info.name, reason: cached.info.reason, calibratedAt: cached.calibratedAt } : 'not calibrated';
    return { data: info };
  },
  human(v) {
    return [
      `LoRA Auditor ${v.version}`,
      `method DSiRe ${v.methodVersion}`,
      `node ${v.node}${v.electron ? `, electron ${v.electron}` : ''}`,
      typeof v.backend === 'string' ? `backend ${v.backend}` : `backend ${v.backend.name} (calibrated ${v.backend.calibratedAt}: ${v.backend.reason})`,
    ].join('\n');
  },
};
