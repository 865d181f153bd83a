import { defineConfig } from 'vite';

// A sandboxed preload can only require 'electron' and a few built-ins: bundle the contract in.
export default defineConfig({});
