import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCodesMarkdown, openApiDocument, rolesMarkdown } from './support/generated-docs.ts';

describe('generated documents are current (run `npm run docs` if this fails)', () => {
  it('docs/error-codes.md', () => {
    expect(readFileSync(new URL('../docs/error-codes.md', import.meta.url), 'utf8')).toBe(
      errorCodesMarkdown(),
    );
  });

  it('docs/openapi.json', async () => {
    expect(JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'))).toEqual(
      await openApiDocument(),
    );
  });

  it('docs/roles.md', async () => {
    expect(readFileSync(new URL('../docs/roles.md', import.meta.url), 'utf8')).toBe(await rolesMarkdown());
  });
});
