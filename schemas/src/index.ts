/**
 * @khata/schemas — JSON Schemas are the single source of truth for every event, command, API body,
 * catalog file and tariff (SPEC §2). This package holds them (the `.json` files beside `src/`) and the
 * one validator that checks documents against them.
 */
export {
  addSchema,
  createValidator,
  describeIssues,
  type SchemaIssue,
  type Validation,
  type Validator,
} from './validator.ts';
