import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogError, planPrice } from '@khata/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_DIRECTORY, loadCatalog } from './catalog.ts';

/** What start-up would report: the error's file and pointer, or that it loaded. */
async function failure(directory: string): Promise<CatalogError> {
  try {
    await loadCatalog(directory);
  } catch (error) {
    if (error instanceof CatalogError) return error;
    throw error;
  }
  throw new Error('the broken catalog loaded');
}

describe('loadCatalog', () => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'khata-catalog-'));
    await cp(DEFAULT_CATALOG_DIRECTORY, directory, { recursive: true });
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function editPlans(edit: (document: { plans: Record<string, unknown>[] }) => void): Promise<string> {
    const file = join(directory, 'plans.json');
    const document = JSON.parse(await readFile(file, 'utf8')) as { plans: Record<string, unknown>[] };
    edit(document);
    await writeFile(file, JSON.stringify(document, null, 2));
    return file;
  }

  it('loads the shipped catalog with its three plans and two add-ons', async () => {
    const catalog = await loadCatalog();
    expect([...catalog.plans.keys()]).toEqual(['starter', 'professional', 'call-center']);
    expect([...catalog.addOns.keys()]).toEqual(['extra-toll-free-number', 'extra-extension']);
    const professional = catalog.plans.get('professional');
    expect(professional && planPrice(professional, 'annual').toString()).toBe('9590.00');
    expect(professional?.source.file).toBe(join(DEFAULT_CATALOG_DIRECTORY, 'plans.json'));
  });

  it('names the file and the line of a JSON syntax error', async () => {
    const file = join(directory, 'add-ons.json');
    await writeFile(file, '{\n  "addOns": [\n    { "id": "x" \n  ]\n}\n');
    const error = await failure(directory);
    expect(error.file).toBe(file);
    expect(error.message).toMatch(/add-ons\.json: \/: is not valid JSON: .*line 4/);
  });

  it('names the file of a truncated JSON file', async () => {
    const file = join(directory, 'plans.json');
    await writeFile(file, '{ "plans": [');
    const error = await failure(directory);
    expect(error.file).toBe(file);
    expect(error.message).toMatch(/is not valid JSON: Unexpected end of JSON input \(the file ends at line 1\)/);
  });

  it('stops on a float price, naming file and JSON pointer', async () => {
    const file = await editPlans((document) => {
      (document.plans[0] as { overage: Record<string, unknown> }).overage.pricePerMinute = 1.99;
    });
    const error = await failure(directory);
    expect({ file: error.file, path: error.path }).toEqual({ file, path: '/plans/0/overage/pricePerMinute' });
  });

  it('stops on a missing price and on an unknown field', async () => {
    const file = await editPlans((document) => {
      delete (document.plans[1] as { prices: Record<string, unknown> }).prices.monthly;
      (document.plans[2] as Record<string, unknown>).discount = '10%';
    });
    const error = await failure(directory);
    expect(error.issues.map(({ file: issueFile, path }) => ({ file: issueFile, path }))).toEqual([
      { file, path: '/plans/1/prices/monthly' },
      { file, path: '/plans/2/discount' },
    ]);
  });

  it('stops on a plan id that another file already defines', async () => {
    const extra = join(directory, 'zz-more-plans.json');
    const plans = JSON.parse(await readFile(join(directory, 'plans.json'), 'utf8')) as { plans: unknown[] };
    await writeFile(extra, JSON.stringify({ plans: [plans.plans[0]] }));
    const error = await failure(directory);
    expect({ file: error.file, path: error.path }).toEqual({ file: extra, path: '/plans/0/id' });
    expect(error.message).toContain('plan id "starter" is already used by the plan at');
  });

  it('ignores schema files and refuses a directory without catalog files', async () => {
    await rm(join(directory, 'plans.json'));
    await rm(join(directory, 'add-ons.json'));
    const error = await failure(directory);
    expect(error.file).toBe(directory);
    expect(error.message).toMatch(/holds no catalog file/);
    const missing = await failure(join(directory, 'nowhere'));
    expect(missing.message).toMatch(/cannot read the catalog directory/);
  });
});
