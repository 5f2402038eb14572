/** The optimizer's public surface: what the CLI, the admin API, the bench and end-to-end tests use. */
export { runOptimizer, readSegmentAggregates, DEFAULT_LOOKBACK_DAYS, type RunOptimizerInput, type ReadAggregatesInput } from './run-optimizer.ts';
export { optimizeSegments, type OptimizeOptions, type OptimizerProgress, type WarmUpRequirements } from './optimize-segments.ts';
export type { OptimizerResult, OptimizerProposal, InsufficientDataResult, NoImprovementResult, MissingRequirement, ProposalMath, PolicyPatchOperation } from './proposal.ts';
export { checkActivation, sequentialRegressionTest, type ActivationUnderWatch, type ArmStatistics, type GuardDecision, type GuardNumbers, type GuardResult, type SequentialTestOptions, type CheckActivationInput } from './rollback-guard.ts';
export { computeWouldHaveSavings, wouldHaveSavingsFromSpans, priceWouldHaveSavings, type WouldHaveSavings, type DryRunTokens } from './would-have-savings.ts';
export { startOptimizerSchedule, scheduleOptimizerJobs, type OptimizerSchedule, type OptimizerScheduleOptions, type OptimizerJobSchedulerOptions } from './schedule.ts';
export { SegmentAccumulator, INPUT_TOKEN_EDGES, type SegmentAggregate, type DayType } from './segment-aggregate.ts';
export { simulateTraffic, simulationPolicy, SimulationTruth, trueQuality, SIMULATED_MODELS, SIMULATED_COST_CENTERS, type SimulationOptions, type SimulationSink, type EvalScoreRow } from './simulate.ts';
export { SessionOutcomeAccumulator, sessionOutcomesQuery, sessionComponents, type SessionOutcome, type QualityComponents, type SessionComponent } from './session-outcomes.ts';
export { readSessionOutcomes } from './run-optimizer.ts';
export { explorationPosterior, pickExploration, type ExplorationCandidate, type ExplorationEvidence, type ExplorationSettings, type CandidatePosterior } from './explore.ts';
export { startOptimizerJobs, type OptimizerJobs, type OptimizerJobsOptions } from './optimizer-jobs.ts';
export { armStatisticsFromSessions, judgeArms, type ArmSessionSums } from './rollback-guard.ts';
