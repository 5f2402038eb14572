export { bedrockAdapter } from './bedrock-adapter.ts';
