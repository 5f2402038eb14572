export { mapResponsesFinishReason as mapAzureOpenAIFinishReason } from '../openai/map-finish-reason.ts';
