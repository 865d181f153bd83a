// Runs Electronegativity's library (its CLI prints usage with the installed commander) over one folder.
// Writes SARIF to <out> and, because SARIF carries no severity, the issues with severity and confidence
// to <out>.json. Usage: node --require ./no-network.cjs scan.cjs <input dir> <out.sarif>
'use strict';
const { writeFileSync } = require('node:fs');
const run = require('@doyensec/electronegativity');
const [input, output] = process.argv.slice(2);
(run.default ?? run)({
  input, output, isSarif: true, customScan: [],
  // AVAILABLE_SECURITY_FIXES_GLOBAL_CHECK (excluded by its class name) needs the internet: it downloads
  // Electron's release list. Electron's version is pinned in package.json and reviewed on upgrade instead.
  excludeFromScan: ['AvailableSecurityFixesGlobalCheck'],
  isRelative: true, isVerbose: false, electronVersionOverride: '45.5.0', parserPlugins: [],
}, false).then((r) => {
  const issues = r.issues.map((i) => ({
    id: i.id, severity: i.severity?.name, confidence: i.confidence?.name, manualReview: Boolean(i.manualReview),
    file: i.file, line: i.location?.line ?? 0, sample: i.sample ?? '', description: i.description,
  }));
  // parse errors would silently hide a file from every check: they are reported, and the test fails on them
  writeFileSync(`${output}.json`, JSON.stringify({ globalChecks: r.globalChecks, atomicChecks: r.atomicChecks, errors: r.errors, issues }, null, 2));
}, (e) => { console.error(e); process.exitCode = 1; });
