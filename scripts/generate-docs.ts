// Writes docs/error-codes.md and docs/openapi.json from the code (`npm run docs`).
// test/generated-docs.test.ts fails when either is stale, so the committed documents stay true.
import { writeFileSync } from 'node:fs';
import { errorCodesMarkdown, openApiDocument } from '../test/support/generated-docs.ts';

writeFileSync(new URL('../docs/error-codes.md', import.meta.url), errorCodesMarkdown());
writeFileSync(
  new URL('../docs/openapi.json', import.meta.url),
  `${JSON.stringify(await openApiDocument(), null, 2)}\n`,
);
console.log('Wrote docs/error-codes.md and docs/openapi.json');
