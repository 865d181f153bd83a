// The renderer's Content Security Policy, shared by the Electron shell (custom app:// protocol) and
// the headless host so both test and ship the same policy. No eval, no inline script, no remote
// anything: connect-src 'self' is the app's own origin (the loopback host in tests).
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
