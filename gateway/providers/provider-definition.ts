import type { ProviderAdapter, ProviderCapabilities } from './provider-adapter.ts';

/**
 * Config fields a provider reads beyond `type`. A plain string here because the config schema is itself
 * derived from the definitions (keyof ProviderConfig would be circular); a test checks each is a schema field.
 */
export type ProviderConfigField = string;

/** The adapter an adapter folder writes: everything but its id, which the definition supplies. */
export type AdapterParts = Omit<ProviderAdapter, 'id'>;

/**
 * Everything that identifies one provider, written once in `providers/<type>/index.ts`. The config
 * `type` enum, `ProviderId`, the registry and the conformance battery's list are all read from here.
 */
export interface ProviderDefinition<Type extends string = string> {
  /** The config `type` and the adapter id. */
  readonly type: Type;
  /** Fields of `providers.<name>` this provider reads (documentation, and checked to exist in the schema). */
  readonly configFields: readonly ProviderConfigField[];
  /** Set when the provider has no default endpoint: config without `base_url` is refused, naming this example. */
  readonly baseUrlExample?: string | undefined;
  readonly capabilities: ProviderCapabilities;
  readonly adapter: ProviderAdapter & { readonly id: Type };
}

export function defineProvider<const Type extends string>(definition: { type: Type; configFields: readonly ProviderConfigField[]; baseUrlExample?: string; adapter: AdapterParts }): ProviderDefinition<Type> {
  const adapter = { ...definition.adapter, id: definition.type };
  return { type: definition.type, configFields: definition.configFields, baseUrlExample: definition.baseUrlExample, capabilities: adapter.capabilities, adapter };
}
