/** Who is signed in, kept for the browser tab (sessionStorage): the token, the tenant, how. */
export interface Session {
  token: string;
  /** The tenant the admin screens work on (none for the operator until one is chosen). */
  org: string | null;
  /** What the header shows. */
  label: string;
  kind: 'development' | 'entra' | 'pasted';
  operator: boolean;
}

const KEY = 'offline-sync-admin-session';

export function loadSession(): Session | null {
  const text = sessionStorage.getItem(KEY);
  if (text === null) return null;
  try {
    return JSON.parse(text) as Session;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, JSON.stringify(session));
}

/** The claims of a JWT's payload (not verified: the API verifies; the page only labels). */
export function tokenClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (part === undefined) return {};
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
