export declare const SPEED_V8_FLAGS: string;
export declare const LEAN_V8_FLAGS: string;
export declare function v8FlagsFor(environment: Record<string, string | undefined>): string[];
