// The shell's security settings as plain data, with no electron import, so a test can inspect
// exactly what main.ts applies (issue: Electron security checklist).
import { CONTENT_SECURITY_POLICY } from '../api/security.ts';

export const APP_SCHEME = 'app';
export const APP_HOST = 'lora-auditor';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export { CONTENT_SECURITY_POLICY };

export function webPreferences(preload: string) {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  } as const;
}

/** Every request the renderer makes must be to the app's own protocol (or devtools in development).
 *  Anything else, http(s), ws, file, ftp, is refused: the tool is air-gapped by construction. */
export function isAllowedRequest(url: string): boolean {
  return url.startsWith(`${APP_ORIGIN}/`) || url.startsWith('devtools://') || url.startsWith('data:') || url.startsWith('blob:');
}

/** Navigation away from the app's own pages is refused. */
export function isAllowedNavigation(url: string): boolean {
  return url.startsWith(`${APP_ORIGIN}/`);
}

/** No permission (camera, geolocation, notifications, clipboard-read …) is ever granted. */
export function isPermissionGranted(_permission: string): boolean {
  return false;
}
