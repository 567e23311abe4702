/** What every page gets: where to render, the session, the API and navigation. */
import type { Api } from './api';
import type { Auth } from './auth';

export interface AppContext {
  /** The element the page renders into (emptied before each page). */
  root: HTMLElement;
  auth: Auth;
  api: Api;
  navigate(path: string, opts?: { replace?: boolean }): void;
  /** False once another page has replaced this one (drop late async results). */
  isCurrent(): boolean;
}
