import { randomBytes } from 'node:crypto';
import { buildConnectedSystems } from '../adapters/connectors/connected-systems-config.ts';
import type { ConnectedSystem } from '../app/ports.ts';
import type { Policy } from '../core/policy-types.ts';
import { type SampleSystem, startSampleSystem } from './sample-connected-system.ts';

const DEMO_SYSTEMS = ['billing', 'shipping', 'marketing'] as const;

/**
 * The three sample connected systems `npm start` runs beside Amend on loopback (ports PORT+1…PORT+3, or any
 * free port), each a real webhook receiver, wired as Amend's connected systems.
 */
export async function startDemoSystems(
  policy: Policy,
  basePort: number,
): Promise<{
  systems: SampleSystem[];
  connectedSystems: Map<string, ConnectedSystem>;
  close(): Promise<void>;
}> {
  const systems: SampleSystem[] = [];
  const declarations = [];
  for (const [index, name] of DEMO_SYSTEMS.entries()) {
    const secret = randomBytes(32).toString('hex');
    const system = await startSampleSystem({ name, secret }, basePort === 0 ? 0 : basePort + index + 1).catch(
      () => startSampleSystem({ name, secret }, 0),
    );
    systems.push(system);
    declarations.push({
      id: name,
      kind: 'webhook' as const,
      url: `${system.url()}/hooks/amend`,
      secret,
      timeoutMs: 5000,
    });
  }
  const built = buildConnectedSystems({ systems: declarations }, policy, 'the demo connected systems');
  if (!built.ok) throw new Error(built.error.message);
  return {
    systems,
    connectedSystems: built.value,
    close: async () => void (await Promise.all(systems.map((s) => s.close()))),
  };
}
