/**
 * @khata/api — the HTTP API (SPEC §13): `buildApp(deps)` builds the Fastify app (routes, schemas,
 * problem+json errors, access rules, idempotency, OpenAPI, live updates); `startServer` listens;
 * `startHealthServer` serves only `/health`, `/ready` and `/metrics` for processes without the API.
 */
export { type Api, type ApiDeps, BODY_BYTES_MAX, buildApp } from './app.ts';
export { buildHealthApp, type HealthAppDeps, startHealthServer } from './health-server.ts';
export {
  type Access,
  type Authenticator,
  type Principal,
  type Role,
  staticTokens,
  Unauthenticated,
} from './principal.ts';
export { type RunningServer, startServer } from './server.ts';
export { apiTokens, createApiToken, hasAdminToken, hashToken } from './tokens.ts';
