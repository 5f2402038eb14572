/**
 * Regret vs exploration spend of the optimizer's online exploration (optimizer/explore.ts) against
 * random exploration, on the simulated ground truth of optimizer/explore-simulation.ts (12 candidates
 * history cannot score; the best feasible one is an unseen model at a lowered reasoning effort).
 * Usage: node --experimental-strip-types bench/exploration-regret.ts [seeds=50]
 */
import { explorationTruth, runExploration } from '../optimizer/explore-simulation.ts';

const seeds = Number(process.argv[2] ?? 50);
const truth = explorationTruth();
const budgets = [500, 1000, 2000, 3000, 4000, 6000];
console.log(`best feasible: ${truth.bestFeasible.id} saving $${truth.bestFeasible.monthlySavingUsd}/month; 5,000 turns/day, exploration_share 0.02 (100 turns/day), ${seeds} seeds`);
console.log(`| strategy | ${budgets.map((budget) => `mean regret at ${budget} explored turns`).join(' | ')} | found within 6,000 (seeds) | median turns to find | unsafe proposals |`);
console.log(`|---|${budgets.map(() => '---').join('|')}|---|---|---|`);
for (const strategy of ['bayesian', 'random'] as const) {
  const runs = Array.from({ length: seeds }, (_, index) => runExploration(truth, { strategy, seed: index + 1, days: 60 }));
  const regretAt = (budget: number) => runs.reduce((total, days) => total + (days.find((day) => day.exploredTurns >= budget)?.regretUsd ?? days.at(-1)!.regretUsd), 0) / runs.length;
  const found = runs.map((days) => days.find((day) => day.regretUsd === 0)?.exploredTurns).filter((turns): turns is number => turns !== undefined).sort((a, b) => a - b);
  const unsafe = runs.reduce((total, days) => total + days.reduce((sum, day) => sum + day.unsafeProposals, 0), 0);
  const median = found.length > 0 ? found[Math.floor(found.length / 2)] : '–';
  console.log(`| ${strategy} | ${budgets.map((budget) => `$${Math.round(regretAt(budget)).toLocaleString('en-US')}`).join(' | ')} | ${found.length}/${seeds} | ${median} | ${unsafe} |`);
}
