// Retention engine: restic `forget` semantics as a pure function (DESIGN §6).

export { formatRetentionDuration, parseRetentionDuration, type RetentionDuration } from "./duration.js";
export {
  type PlanRetentionOptions,
  planRetention,
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionPlan,
} from "./plan.js";
export { describeRetentionPolicy, type RetentionPolicy, validateRetentionPolicy } from "./policy.js";
