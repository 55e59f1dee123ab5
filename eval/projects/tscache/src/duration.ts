import ms from 'ms'

/** "30s", "5m", "2h" in milliseconds; a bad value is an error, never 0. */
export function parseTtl (text: string): number {
  const value = ms(text)
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`not a duration: ${JSON.stringify(text)}`)
  }
  return value
}

export function describeTtl (millis: number): string {
  return ms(millis, { long: true })
}
