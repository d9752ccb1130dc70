import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** One reason a document does not match its schema. */
export interface SchemaIssue {
  /** JSON Pointer to the offending value (`/destinations/0/prefixes`), `` for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type Validation<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly SchemaIssue[] };

export type Validator<T> = (value: unknown) => Validation<T>;

// ajv-formats is CommonJS; its default export arrives as the module object under Node's ESM loader.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

/**
 * One Ajv instance for every schema Khata owns: strict mode (unknown keywords are schema bugs), all
 * errors reported, `format` checked, `discriminator` on a `oneOf` dispatching on its tag property. Schemas
 * reference each other by `$id`.
 */
const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, discriminator: true }));

export function addSchema(schema: object): void {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('a shared schema needs an $id');
  if (ajv.getSchema(id) === undefined) ajv.addSchema(schema);
}

/** Compiles `schema` once; the returned function checks a value and lists every issue. */
export function createValidator<T>(schema: object): Validator<T> {
  const id = (schema as { $id?: unknown }).$id;
  const compiled = (typeof id === 'string' ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema);
  return (value) => {
    if (compiled(value)) return { ok: true, value: value as T };
    return { ok: false, issues: toIssues(compiled.errors ?? []) };
  };
}

function toIssues(errors: readonly ErrorObject[]): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  for (const error of errors) {
    // A discriminated oneOf without its tag: `required` reports the missing property already.
    if (error.keyword === 'discriminator' && (error.params as { tagValue?: unknown }).tagValue === undefined) continue;
    issues.push(toIssue(error));
  }
  return issues;
}

function toIssue(error: ErrorObject): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'discriminator') {
    const path = `${error.instancePath}/${String(params.tag)}`;
    return params.error === 'mapping'
      ? { path, message: `${JSON.stringify(params.tagValue)} is not one of the kinds this schema accepts` }
      : { path, message: 'must be a string' };
  }
  if (error.keyword === 'required') {
    return { path: `${error.instancePath}/${String(params.missingProperty)}`, message: 'is required' };
  }
  if (error.keyword === 'additionalProperties') {
    return { path: `${error.instancePath}/${String(params.additionalProperty)}`, message: 'is not allowed here' };
  }
  return { path: error.instancePath, message: error.message ?? error.keyword };
}

/** `path: message` lines, for CLI output and start-up errors. */
export function describeIssues(issues: readonly SchemaIssue[]): string {
  return issues.map((issue) => `${issue.path === '' ? '/' : issue.path}: ${issue.message}`).join('\n');
}
