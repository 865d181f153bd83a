# The official DSiRe feature path, for test/bench/cli.bench.ts: torch.svd_lowrank on A, B and BA of
# every LoRA module of each adapter named on the command line (safetensors, diffusers layout), in the
# adapter's own dtype (float32), q = the module's rank, as the published code calls it. Whole process,
# including `import torch`, with torch's default threads, as a user would run it. Prints one line: files, modules, seconds inside.
# The safetensors header is read by hand (8-byte length + JSON) so the control needs nothing but torch.
import json
import struct
import sys
import time

import numpy as np
import torch

torch.manual_seed(0)  # the official call is unseeded; a seed only makes this control repeatable


def tensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for key, t in header.items():
        if key == '__metadata__':
            continue
        assert t['dtype'] == 'F32', t['dtype']
        start, end = t['data_offsets']
        out[key] = torch.from_numpy(np.frombuffer(body[start:end], dtype=np.float32).reshape(t['shape']).copy())
    return out


started = time.perf_counter()
modules = 0
for path in sys.argv[1:]:
    ts = tensors(path)
    for key, a in ts.items():
        if not key.endswith('lora.down.weight'):
            continue
        b = ts[key.replace('lora.down.weight', 'lora.up.weight')]
        r = a.shape[0]
        for m in (a, b, b @ a):
            _, s, _ = torch.svd_lowrank(m, q=r)
        modules += 1
print(f'{len(sys.argv) - 1} files, {modules} modules, {time.perf_counter() - started:.3f} s in the loop, torch {torch.__version__}, {torch.get_num_threads()} threads')
