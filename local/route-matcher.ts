import type { HttpMethod, RouteDefinition } from '../functions/http/route-definition';

interface CompiledRoute {
  route: RouteDefinition;
  segments: string[];
  literalCount: number;
}

export type RouteMatch =
  | { kind: 'found'; route: RouteDefinition; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: HttpMethod[] }
  | { kind: 'not-found' };

/**
 * Matches request paths against the route table's templates the way Functions' routing does for
 * our routes: segment by segment, `{name}` matching one non-empty segment, routes with more literal
 * segments first (so `api/admin/tenants` wins over `api/admin/{org}`).
 */
export function createRouteMatcher(
  routes: readonly RouteDefinition[],
): (method: string, path: string) => RouteMatch {
  const compiled: CompiledRoute[] = routes
    .map((route) => {
      const segments = route.route.split('/');
      return { route, segments, literalCount: segments.filter((s) => !s.startsWith('{')).length };
    })
    .sort((a, b) => b.literalCount - a.literalCount);

  return (method, path) => {
    const parts = path.replace(/^\/+|\/+$/g, '').split('/');
    const allowed: HttpMethod[] = [];
    for (const candidate of compiled) {
      const params = matchSegments(candidate.segments, parts);
      if (!params) continue;
      if (candidate.route.method === method.toUpperCase())
        return { kind: 'found', route: candidate.route, params };
      allowed.push(candidate.route.method);
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' };
  };
}

function matchSegments(template: string[], parts: string[]): Record<string, string> | undefined {
  if (template.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const expected = template[i]!;
    const actual = parts[i]!;
    if (expected.startsWith('{')) {
      if (actual === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
      params[expected.slice(1, -1)] = decoded;
    } else if (expected.toLowerCase() !== actual.toLowerCase()) {
      return undefined;
    }
  }
  return params;
}
