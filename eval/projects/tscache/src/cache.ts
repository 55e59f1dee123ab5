import { LRUCache } from 'lru-cache'
import { parseTtl } from './duration.js'

export interface CachedResponse {
  status: number
  body: string
  headers: Record<string, string>
}

export interface ResponseCacheOptions {
  maxEntries: number
  ttl: string // "30s", "5m": see parseTtl
}

export class ResponseCache {
  private readonly cache: LRUCache<string, CachedResponse>

  constructor (options: ResponseCacheOptions) {
    this.cache = new LRUCache<string, CachedResponse>({
      max: options.maxEntries,
      ttl: parseTtl(options.ttl),
      updateAgeOnGet: false
    })
  }

  key (method: string, url: string): string {
    return `${method.toUpperCase()} ${url}`
  }

  lookup (method: string, url: string): CachedResponse | undefined {
    return this.cache.get(this.key(method, url))
  }

  store (method: string, url: string, response: CachedResponse): void {
    if (response.status >= 500) return
    this.cache.set(this.key(method, url), response)
  }

  forget (method: string, url: string): boolean {
    return this.cache.delete(this.key(method, url))
  }

  get size (): number {
    return this.cache.size
  }
}
