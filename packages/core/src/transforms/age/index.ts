// Placeholder until the age implementation lands (owned by the age work item).
export {};
