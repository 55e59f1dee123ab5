export { ResponseCache } from './cache.js'
export type { CachedResponse, ResponseCacheOptions } from './cache.js'
export { describeTtl, parseTtl } from './duration.js'
