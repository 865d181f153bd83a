// The adapter families, in the order they are tried: the most specific sniff first. Each is one module
// with `match` (a cheap look at keys and metadata) and `open` (the parse into canonical modules).
import type { FamilyReader } from './context.ts';
import { diffusers } from './diffusers.ts';
import { kohya } from './kohya.ts';
import { loraDiffusion } from './lora-diffusion.ts';
import { lycoris } from './lycoris.ts';
import { peft } from './peft.ts';

export const FAMILIES: readonly FamilyReader[] = [loraDiffusion, lycoris, kohya, peft, diffusers];
