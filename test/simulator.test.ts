import { expect, it } from 'vitest';
import { useSeededRandom } from './support/seeded-random';
import { simulate, SimulationFailure } from './simulator/run';

/**
 * The adversarial simulator (issue 31, item 8) at CI size: a seeded run of random and hostile
 * money operations through the gateway, every answer and balance checked against the reference
 * model after each step. `npm run simulate -- --seed S --steps N` runs it longer (scripts/simulate.ts
 * sets SIMULATOR_STEPS, SIMULATOR_SEEDS for several seeds, SIMULATOR_CLEAN); TEST_SEED replays.
 */
const random = useSeededRandom();
/**
 * About 60 ms a step on this 2-core machine under a load of 4 (issue 49's books checks take some 23 of them): some
 * 60 s with the stack's start.
 */
const ciStepsDefault = 1000;
const steps = Number(process.env.SIMULATOR_STEPS || ciStepsDefault);
const hostileCampaignFx = process.env.SIMULATOR_CLEAN !== '1';
const seeds = process.env.SIMULATOR_SEEDS ? process.env.SIMULATOR_SEEDS.split(',').map(Number) : [random.seed];

it(`seeded runs of ${steps} steps answer and balance as the model says`, { timeout: 900_000 }, async () => {
  const failures: string[] = [];
  for (const seed of seeds) {
    console.log(
      `[simulator] seed ${seed}, ${steps} steps${hostileCampaignFx ? '' : ' (campaign and FX hostile shapes off)'}; replay: npm run simulate -- --seed ${seed} --steps ${steps}${hostileCampaignFx ? '' : ' --clean'}`,
    );
    try {
      const result = await simulate({ seed, steps, hostileCampaignFx, log: (line) => console.log(line) });
      console.log(
        `[simulator] seed ${seed}: ${result.steps} steps in ${(result.ms / 1000).toFixed(1)} s; answers: ${result.tally}`,
      );
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error;
      console.error(error.message);
      failures.push(error.message);
    }
  }
  expect(failures).toEqual([]);
});
