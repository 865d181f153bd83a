// Preloaded (node --require) before Electronegativity runs. The tool fetches its translations (with
// `got`, in dist/locales/i18n.js) and Electron's release list (AvailableSecurityFixesGlobalCheck);
// LoRA Auditor's checks must never touch the network (the tool is used offline, and a test that
// depends on GitHub is not reproducible), so `got` is replaced in the require cache by a stand-in that
// rejects at once, and Node's own http/https/net clients throw if anything else tries.
'use strict';
const { dirname } = require('node:path');
const refuse = () => Promise.reject(new Error('network access is disabled in the security scan'));
const stub = new Proxy(refuse, { get: (target, prop) => (prop === '__esModule' ? false : prop in target ? target[prop] : refuse) });
const eneg = dirname(require.resolve('@doyensec/electronegativity/package.json'));
const gotPath = require.resolve('got', { paths: [eneg] });
require.cache[gotPath] = { id: gotPath, filename: gotPath, path: dirname(gotPath), loaded: true, exports: stub, children: [], paths: [] };
for (const mod of ['node:http', 'node:https']) {
  const m = require(mod);
  m.request = m.get = () => { throw new Error(`network access is disabled in the security scan (${mod})`); };
}
const net = require('node:net');
net.connect = net.createConnection = () => { throw new Error('network access is disabled in the security scan (node:net)'); };
