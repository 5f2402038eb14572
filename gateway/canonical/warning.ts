/**
 * Something a translation could not carry across exactly. Never silent: every warning ends on
 * the turn's span (`translation_warnings`).
 */
export interface TranslationWarning {
  /** `unsupported`: dropped; `compatibility`: carried in a changed form. */
  type: 'unsupported' | 'compatibility';
  /** What was affected, e.g. `tool:web_search`, `reasoning.encrypted_content`, `temperature`. */
  feature: string;
  message: string;
}

export function warning(type: TranslationWarning['type'], feature: string, message: string): TranslationWarning {
  return { type, feature, message };
}

/** One-line text form stored on spans. */
export function formatWarning(item: TranslationWarning): string {
  return `${item.type}:${item.feature}: ${item.message}`;
}
