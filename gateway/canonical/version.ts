/**
 * Version of the canonical form (items, tools, events). Bump on any change to `canonical/`
 * so recorded fixtures and spans can say which shape they were made with.
 */
// 3: the stream `error` event may carry the transport cause (phase, low-level code).
export const CANONICAL_VERSION = 3;
