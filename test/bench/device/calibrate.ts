// What `auto` picks on this machine and why: every candidate's agreement with the float64 reference
// and its time on the probe. Run by run-gpu-bench.sh (a file, not `node -e`: `--input-type=module`
// would be inherited by GPU.js's webasm workers, whose eval'd code needs CommonJS).
import { createFeatureEngine } from '../../../native/engine.ts';

const engine = await createFeatureEngine({ log: (line) => console.log(line) });
console.log(JSON.stringify(engine.info, null, 2));
engine.dispose();
process.exit(0);
