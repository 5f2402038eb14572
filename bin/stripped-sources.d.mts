// Types of ./stripped-sources.mjs (plain JavaScript: it is what lets the rest load without the type stripper).
export declare const PROJECT_ROOT: string;
export declare function defaultCacheDir(root?: string): string;
export declare function strippedSourcePath(cacheDir: string, source: string): string;
export declare function serveStrippedSources(options?: { root?: string; cacheDir?: string }): boolean;
export declare function fillStrippedSourceCache(options?: { root?: string; cacheDir?: string; alsoFolders?: string[]; pruneAbove?: number }): { files: number; strippedNow: number; writable: boolean };
