// Placeholder until the retention engine lands (owned by the retention work item).
export {};
