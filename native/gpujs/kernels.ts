// GPU.js kernel sources for batched Gram matrices. One launch computes the r×r Gram matrices of a
// whole bucket of same-shaped factors (many modules of many adapters): thread (x, y, z) = entry
// (row y, column x) of matrix z. Loop bounds are `this.constants.X` itself, as GLSL ES 1.0 requires
// (a local copy of a constant is not a constant expression there).
//
// Kept as source strings: GPU.js parses the text of the function, and a TypeScript function's text
// depends on how the type annotations were stripped (Node, Vitest and a bundler each do it
// differently).

/** Rows of r×w row-major matrices, stacked: out[z][i][j] = Σ_k x[z·size + i·w + k]·x[z·size + j·w + k] (A·Aᵀ). */
export const ROW_GRAM = `function rowGram(x) {
  const base = this.thread.z * this.constants.size;
  const ri = base + this.thread.y * this.constants.w;
  const rj = base + this.thread.x * this.constants.w;
  let s = 0;
  for (let k = 0; k < this.constants.w; k++) {
    s += x[ri + k] * x[rj + k];
  }
  return s;
}`;

/** Columns of h×r row-major matrices, stacked: out[z][i][j] = Σ_k x[z·size + k·r + i]·x[z·size + k·r + j] (Bᵀ·B). */
export const COL_GRAM = `function colGram(x) {
  const base = this.thread.z * this.constants.size;
  let s = 0;
  for (let k = 0; k < this.constants.h; k++) {
    s += x[base + k * this.constants.r + this.thread.y] * x[base + k * this.constants.r + this.thread.x];
  }
  return s;
}`;
