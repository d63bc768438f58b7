/** Recorded in every manifest as `tool.version`. Bumped with the package version. */
export const VERSION = "0.1.0";
