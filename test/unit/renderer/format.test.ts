import { describe, expect, it } from 'vitest';
import { baseName, bytes, plural, shortHash } from '../../../renderer/src/lib/format.ts';

describe('format', () => {
  it('writes sizes the way a person reads them', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1536)).toBe('1.50 KB');
    expect(bytes(3_226_184)).toBe('3.08 MB');
    expect(bytes(250 * 1024 ** 3)).toBe('250.0 GB');
    expect(bytes(null)).toBe('—');
    expect(bytes(Number.NaN)).toBe('—');
  });

  it('shortens a hash but keeps both ends for comparing by eye', () => {
    const h = '3ebb807e359e0123456789abcdef0123456789abcdef0123456789abcd4b428b';
    expect(shortHash(h)).toBe('3ebb807e359e…4b428b');
    expect(shortHash('abc')).toBe('abc');
    expect(shortHash(null)).toBe('—');
  });

  it('names files from POSIX and Windows paths', () => {
    expect(baseName('/tmp/staging/ab12/adapter.safetensors')).toBe('adapter.safetensors');
    expect(baseName('C:\\cases\\x\\lora.bin')).toBe('lora.bin');
    expect(plural(1, 'adapter')).toBe('1 adapter');
    expect(plural(3, 'analysis', 'analyses')).toBe('3 analyses');
  });
});
