export { anthropicAdapter } from './anthropic-adapter.ts';
