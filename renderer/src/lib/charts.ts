// Chart.js with only the pieces the result card draws (bars for votes, lines for spectra), so the
// bundle stays small. Colours come from the theme's CSS variables, re-read when the system theme flips.
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement,
  LogarithmicScale, PointElement, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, Tooltip, Legend, Filler);

export { Chart };

export function themeColour(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** Distinct, colour-blind-friendly hues (Okabe–Ito) for one line per reference size. */
export const SERIES = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];

export function applyTheme(): void {
  Chart.defaults.color = themeColour('--fg');
  Chart.defaults.borderColor = themeColour('--line');
  Chart.defaults.font.family = '"DejaVu Sans", system-ui, sans-serif';
}

/** Calls `redraw` whenever the system switches between light and dark; returns the unsubscribe. */
export function onThemeChange(redraw: () => void): () => void {
  const query = window.matchMedia('(prefers-color-scheme: dark)');
  const listener = () => { applyTheme(); redraw(); };
  query.addEventListener('change', listener);
  return () => query.removeEventListener('change', listener);
}
