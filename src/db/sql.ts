// Small SQL fragments every repository shares.

/** A timestamptz column as an ISO 8601 UTC string with milliseconds. */
export const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** A timestamptz column as epoch milliseconds, truncated like `iso`'s: `Date.parse` of the one equals the other. */
export const epochMs = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::float8`
