/**
 * @khata/schemas — JSON Schemas are the single source of truth for every event, command, API body,
 * catalog file and tariff (SPEC §2). Commands, events and API bodies are written with TypeBox, which
 * yields plain JSON Schema objects and the TypeScript types derived from them (one direction: schema →
 * type); data files (catalog, tariffs) have `.json` schemas beside them. `export.ts` writes the TypeBox
 * schemas out as `.json` files under `json/` for tools outside TypeScript.
 */
export * from './account/commands.ts';
export * from './account/events.ts';
export * as common from './common.ts';
export * from './identity.ts';
export * from './numbers.ts';
export * from './tariffs.ts';
export {
  addSchema,
  createValidator,
  describeIssues,
  type SchemaIssue,
  type Validation,
  type Validator,
} from './validator.ts';
