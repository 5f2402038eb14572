/**
 * Version of the canonical form (items, tools, events). Bump on any change to `canonical/`
 * so recorded fixtures and spans can say which shape they were made with.
 */
export const CANONICAL_VERSION = 2;
