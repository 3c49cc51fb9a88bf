// Writes docs/error-codes.md, docs/openapi.json and docs/roles.md from the code (`npm run docs`).
// test/generated-docs.test.ts fails when either is stale, so the committed documents stay true.
import { writeFileSync } from 'node:fs';
import { errorCodesMarkdown, openApiDocument, rolesMarkdown } from '../test/support/generated-docs.ts';

writeFileSync(new URL('../docs/error-codes.md', import.meta.url), errorCodesMarkdown());
writeFileSync(
  new URL('../docs/openapi.json', import.meta.url),
  `${JSON.stringify(await openApiDocument(), null, 2)}\n`,
);
writeFileSync(new URL('../docs/roles.md', import.meta.url), await rolesMarkdown());
console.log('Wrote docs/error-codes.md, docs/openapi.json and docs/roles.md');
