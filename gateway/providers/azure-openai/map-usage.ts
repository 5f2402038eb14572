export { mapResponsesUsage as mapAzureOpenAIUsage } from '../openai/map-usage.ts';
