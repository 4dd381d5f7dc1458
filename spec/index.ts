// The vocabulary of a service spec, shared by the CLI, Compose, the daemon and the manager:
// parsers for the value formats, the defaults, the limits and the validation.
export * from './parsed.js';
export * from './values.js';
export * from './ports.js';
export * from './constraints.js';
export * from './placement.js';
export * from './defaults.js';
export * from './limits.js';
export * from './validate.js';
export * from './mounts.js';
export * from './display.js';
export * from './service-status.js';
export * from './container.js';
export * from './templates.js';
export * from './dns.js';
