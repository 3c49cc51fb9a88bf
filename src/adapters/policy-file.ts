import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { parsePolicy } from '../core/policy-fns.ts';
import type { Policy } from '../core/policy-types.ts';
import { fail, ok, type Result } from '../core/result.ts';

export const DEFAULT_POLICY_FILE = new URL('../../policy/default-policy.yaml', import.meta.url).pathname;

/** Reads and validates a policy file (YAML or JSON). Errors name the file, the path inside it and the fix. */
export function loadPolicyFile(path: string): Result<Policy> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return fail('POLICY.INVALID', `Cannot read the policy file ${path}; check AMEND_POLICY_FILE.`, {
      errors: [{ path: '(file)', message: 'File not found or unreadable.' }],
    });
  }
  let document: unknown;
  try {
    document = YAML.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0]!.replace(/:$/, '') : 'unreadable';
    return fail('POLICY.INVALID', `The policy file ${path} is not valid YAML: ${detail}`, {
      errors: [{ path: '(syntax)', message: detail }],
    });
  }
  const parsed = parsePolicy(document);
  if (!parsed.ok)
    return fail(
      'POLICY.INVALID',
      `The policy file ${path} is invalid:\n${parsed.error.map((p) => `  ${p.path}: ${p.fix}`).join('\n')}`,
      {
        errors: parsed.error.map((p) => ({ path: p.path, message: p.fix })),
      },
    );
  return ok(parsed.value);
}
